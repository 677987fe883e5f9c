// Runs the engine-input fuzz (bench/fuzz/fuzz.ts): bundles it with esbuild into bench/.cache
// (node_modules stay external) and runs it with node. Usage: node bench/fuzz/run.mjs [args...]
import * as esbuild from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, 'bench/.cache', 'fuzz-engine.mjs');
mkdirSync(dirname(out), { recursive: true });
await esbuild.build({
    entryPoints: [join(here, 'fuzz.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'warning',
});
await import(pathToFileURL(out).href);
