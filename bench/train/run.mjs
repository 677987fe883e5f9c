#!/usr/bin/env node
// Entry of the trainer benchmark: bundles bench/train/bench.ts with esbuild (as esbuild.mjs does for
// the product) into bench/.cache and runs it. Usage:
//   node bench/train/run.mjs [bar] [finetune] [torch] [lora] [--threads N] [--ft-layers L --ft-width W --ft-batch B]
//   node bench/train/run.mjs lora1b full1b [--threads 1,2] [--torch-threads 1,2] [--steps 2] [--batch 4] [--repeat 1] [--types f16,q8_0,q4_k]
// With no section, all but the 1B ones run (bench1b.ts: only when named). Results: a table on stdout and bench/.cache/train/results.json.
import * as esbuild from 'esbuild';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(root, 'bench/.cache/train/bench.mjs');
const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['koffi', '@koromix/*', 'node-llama-cpp', '@node-llama-cpp/*', 'esbuild'],
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};
// the trainer's child next to the bench bundle, where the parent looks for it
await esbuild.build({ ...common, entryPoints: [join(root, 'engine/train/child.ts')], outfile: join(root, 'bench/.cache/train/train-child.js') });
await esbuild.build({
    entryPoints: [join(root, 'bench/train/bench.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['koffi', '@koromix/*', 'node-llama-cpp', '@node-llama-cpp/*', 'esbuild'],
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
process.env.MISMATCH_ROOT = root;
await import(pathToFileURL(out).href);
