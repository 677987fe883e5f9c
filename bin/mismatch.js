#!/usr/bin/env node
// The `mismatch` command: runs the bundled CLI (built by `npm install` through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
if (!existsSync(bundle)) {
    console.error('mismatch: the CLI is not built yet; run `npm run build` in the repository first.');
    process.exit(2);
}
await import(pathToFileURL(bundle).href);
