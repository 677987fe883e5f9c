// Runs a TypeScript benchmark of bench/lsp: bundles it with esbuild into bench/.cache (node_modules
// stay external) and runs it with node. Usage: node bench/lsp/run.mjs bench|fuzz [args...]
// The language server bundle (dist/server/main.cjs) is built first when missing (npm run build).
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const name = process.argv[2] ?? 'bench';
const entry = join(here, `${name}.ts`);
if (!existsSync(entry)) {
    console.error(`no bench/lsp/${name}.ts`);
    process.exit(2);
}
if (!existsSync(join(root, 'dist/server/main.cjs'))) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
}
const out = join(root, 'bench/.cache', `lsp-${name}.mjs`);
mkdirSync(dirname(out), { recursive: true });
await esbuild.build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'warning',
    // the bundle lives in bench/.cache: keep import.meta.url-relative paths pointing at the sources
    define: {},
});
process.argv.splice(2, 1);
await import(pathToFileURL(out).href);
