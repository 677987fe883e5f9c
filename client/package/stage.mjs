// Packages the extension as a .vsix (`npm run package`). The bundles in dist/ carry all the
// JavaScript except the native pieces, which cannot be bundled: node-llama-cpp (ESM, loads its
// prebuilt llama.cpp binaries from sibling packages at run time) and koffi (the trainer's FFI).
// They are copied, with node-llama-cpp's runtime dependency closure, into a staging folder whose
// package.json lists only them, and vsce packs that folder. Only the CPU binaries for linux-x64 go
// in (about 30 MB); CUDA and Vulkan builds (about 540 MB) are installed on first use of
// `mismatch.gpu` = cuda|vulkan (see client/gpu.ts and the README).
//
// Usage: node client/package/stage.mjs [--out file.vsix]   (expects `node esbuild.mjs` to have run)
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const outArg = args.indexOf('--out');
const out = resolve(root, outArg >= 0 ? args[outArg + 1] : 'mismatch-lab.vsix');
const stage = join(root, 'out', 'vsix');

/** Runtime packages that stay outside the bundles (esbuild.mjs `external`), plus this platform's binaries. */
const roots = ['node-llama-cpp', '@node-llama-cpp/linux-x64', 'koffi', '@koromix/koffi-linux-x64'];
/** Files of those packages that are never needed at run time. */
const skip = [/^node-llama-cpp\/llama\/gitRelease\.bundle$/, /\.map$/, /\.d\.ts$/];

if (!existsSync(join(root, 'dist/client/extension.cjs'))) {
    console.error('dist/client/extension.cjs is missing: run `node esbuild.mjs` (or `npm run build`) first');
    process.exit(1);
}

/** Resolves a package's folder from `from` the way Node does (nested node_modules first). */
function findPackage(name, from) {
    let dir = from;
    for (;;) {
        const candidate = join(dir, 'node_modules', name);
        if (existsSync(join(candidate, 'package.json'))) return candidate;
        const parent = dirname(dir);
        if (parent === dir || !parent.startsWith(root)) return undefined;
        dir = parent;
    }
}

const closure = new Map(); // source folder -> relative path inside node_modules
function collect(name, from) {
    const dir = findPackage(name, from);
    if (!dir) throw new Error(`runtime dependency ${name} not found from ${from}: run npm install`);
    if (closure.has(dir)) return;
    closure.set(dir, relative(join(root, 'node_modules'), dir));
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) collect(dep, dir);
}
for (const r of roots) collect(r, root);

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const runtimeVersions = Object.fromEntries(['node-llama-cpp', 'koffi'].map((n) => [n, manifest.dependencies[n]]));
const staged = { ...manifest, dependencies: runtimeVersions };
delete staged.devDependencies;
delete staged.scripts;
delete staged.overrides;
delete staged.bin;
delete staged.private;
writeFileSync(join(stage, 'package.json'), JSON.stringify(staged, null, 2));

const copy = (p) => existsSync(join(root, p)) && cpSync(join(root, p), join(stage, p), { recursive: true });
for (const p of ['README.md', 'LICENSE', 'CHANGELOG.md', 'language-configuration.json', 'syntaxes', 'docs/screenshot.png', 'images']) copy(p);
cpSync(join(root, 'dist'), join(stage, 'dist'), {
    recursive: true,
    // The CLI bundle is not part of the extension.
    filter: (src) => !src.endsWith('.map') && src !== join(root, 'dist', 'cli') && !src.startsWith(join(root, 'dist', 'cli') + '/'),
});
for (const [dir, rel] of closure) {
    cpSync(dir, join(stage, 'node_modules', rel), {
        recursive: true,
        dereference: true,
        filter: (src) => !skip.some((re) => re.test(relative(join(root, 'node_modules'), src).split('\\').join('/'))),
    });
}
cpSync(join(root, '.vscodeignore'), join(stage, '.vscodeignore'));

const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
execFileSync(process.execPath, [vsce, 'package', '--out', out, '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links'], {
    cwd: stage,
    stdio: 'inherit',
});
console.log(`packaged ${relative(root, out)} (${closure.size} runtime packages)`);
