// Runs bench/generate/bench.ts with node (no TypeScript runner is installed): bundles it with esbuild
// under node_modules/.cache (so node-llama-cpp resolves), then imports it. The engine finds its
// inference worker by bundling engine/models/worker.ts itself when run from sources; here the
// bundle lives elsewhere, so point it at a bundled worker.
//   node bench/generate/run.mjs [questions=128] [threads=<engine default>] [sequences=8] [maxTokens=16] [layers=4] [width=256]
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Like for like: the engine's inference worker runs with UV_THREADPOOL_SIZE=1 (node-llama-cpp's
// concurrent sequences are not safe on a larger pool), so the bare loop in this process must too.
// The pool size is read once, at the first use of the pool: set it by re-running this script.
if (process.env.UV_THREADPOOL_SIZE !== '1') {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
    process.exit(r.status ?? 1);
}
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'node_modules', '.cache', 'mismatch-lab', 'bench-generate');
mkdirSync(out, { recursive: true });
const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['node-llama-cpp', '@node-llama-cpp/*', 'koffi', 'esbuild'],
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};
await esbuild.build({ ...common, entryPoints: [join(root, 'engine/models/worker.ts')], outfile: join(out, 'generate-worker.js') });
await esbuild.build({ ...common, entryPoints: [join(root, 'bench/generate/bench.ts')], outfile: join(out, 'bench.js') });
process.env.MISMATCH_GENERATE_WORKER = join(out, 'generate-worker.js');
await import(pathToFileURL(join(out, 'bench.js')).href);
