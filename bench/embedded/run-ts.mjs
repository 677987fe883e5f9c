// Runs a TypeScript entry of the repository with node (no ts runner is installed): bundles it, the
// trainer's child and the inference worker with esbuild into bench/.cache/embedded, points the engine at
// the bundled children, then imports the entry.  Usage: node bench/embedded/run-ts.mjs <entry.ts> [args]
import * as esbuild from 'esbuild';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'bench', '.cache', 'embedded');
mkdirSync(out, { recursive: true });
const external = ['node-llama-cpp', '@node-llama-cpp/*', 'koffi', '@koromix/*', 'esbuild'];
const banner = { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" };
const common = { bundle: true, platform: 'node', target: 'node20', format: 'esm', external, banner, logLevel: 'error' };
const entry = resolve(process.argv[2]);
const builds = [
    [join(root, 'engine/train/child.ts'), join(out, 'train-child.js')],
    [join(root, 'engine/models/worker.ts'), join(out, 'generate-worker.js')],
    [entry, join(out, basename(entry).replace(/\.ts$/, '.mjs'))],
];
await Promise.all(builds.map(([from, to]) => esbuild.build({ ...common, entryPoints: [from], outfile: to })));
process.env.MISMATCH_TRAIN_CHILD = builds[0][1];
process.env.MISMATCH_GENERATE_WORKER = builds[1][1];
process.argv.splice(1, 2, builds[2][1]);
await import(pathToFileURL(builds[2][1]).href);
