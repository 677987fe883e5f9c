// Bundles the extension client, the language server and the CLI. `vscode` and the native
// packages (node-llama-cpp and its prebuilt binaries, koffi) stay external: they are loaded from
// node_modules at run time.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const external = ['vscode', 'node-llama-cpp', '@node-llama-cpp/*', 'koffi', '@koromix/*', 'playwright-core'];

/** @type {esbuild.BuildOptions[]} */
const targets = [
    { entryPoints: ['client/extension.ts'], outfile: 'dist/client/extension.cjs', format: 'cjs' },
    // The engine as the extension host loads it (dynamic import() from extension.cjs).
    { entryPoints: ['client/engine-api.ts'], outfile: 'dist/client/engine.js', format: 'esm' },
    { entryPoints: ['client/engine-worker.ts'], outfile: 'dist/client/engine-worker.js', format: 'esm' },
    { entryPoints: ['server/main.ts'], outfile: 'dist/server/main.cjs', format: 'cjs' },
    { entryPoints: ['cli/main.ts'], outfile: 'dist/cli/main.js', format: 'esm' },
    { entryPoints: ['engine/train/child.ts'], outfile: 'dist/engine/train-child.js', format: 'esm' },
    { entryPoints: ['engine/models/worker.ts'], outfile: 'dist/engine/generate-worker.js', format: 'esm' },
    { entryPoints: ['client/webview/main.ts'], outfile: 'dist/webview/main.js', format: 'iife', platform: 'browser' },
];

const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    external,
    logLevel: 'info',
    // ESM bundles that pull CommonJS dependencies need a require() of their own.
};

for (const t of targets) {
    if (!existsSync(t.entryPoints[0])) continue;
    const options = { ...common, ...t };
    if (t.format === 'esm') {
        options.banner = { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" };
    }
    if (t.platform === 'browser') options.external = [];
    if (watch) {
        const ctx = await esbuild.context(options);
        await ctx.watch();
    } else {
        await esbuild.build(options);
    }
}
