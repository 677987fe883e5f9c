// Runs scripts/screenshot.ts with node (no TypeScript runner is installed): bundles it with esbuild,
// packages left external, into .e2e/screenshot/ and imports it. The bundle sits two folders below the
// repository root because the harness it inlines finds the root from its own location (../..).
// Usage: node scripts/screenshot.mjs [spec] [out.png] [--font-size N] [--width W] [--height H]
import * as esbuild from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, '.e2e', 'screenshot', 'screenshot.mjs');
await esbuild.build({
    entryPoints: [join(root, 'scripts', 'screenshot.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'error',
});
await import(pathToFileURL(outfile).href);
