#!/usr/bin/env node
// llama.cpp's own programs (llama-server, llama-finetune), built once with cmake from the source that
// node-llama-cpp ships (node_modules/node-llama-cpp/llama/gitRelease.bundle, the same commit as the
// binaries we run in-process), for the tests and benchmarks that compare us against them.
//
// Cache: one folder per llama.cpp commit, `$MISMATCH_LLAMA_CPP_CACHE` or
// `${XDG_CACHE_HOME:-~/.cache}/mismatch-lab/llama.cpp-<commit>`: `src/` (the clone), `build/` (one
// cmake configuration shared by every target), `done-<target>.json` once a target is built. A built
// target is reused by every clone of the project on this machine. `--optimize` builds in `build-O3/`
// (`done-O3-<target>.json`) with the compiler's optimisation on: for benchmarks, where the -O0 build
// of the tests would compare us against a llama.cpp several times slower than the real one.
//
// Concurrency: a build runs under `flock` on `<cache>.lock`. A second builder (the test while CI's
// background build runs, two test files) blocks on that lock, which the kernel releases when the first
// builder exits however it exits (no stale lock), then finds the target built and returns at once.
//
// Usage: node scripts/llama-cpp.mjs build llama-server [llama-finetune ...]   (prints the binaries' paths)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The project root when run from scripts/ (a bundle that includes this file passes `root`).
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The one cmake configuration. Chosen for build time on 2 cores (measured, README "Scaling out"):
 * Release without optimisation, CPU only, static libraries; no tests, no unified app, no web UI (neither npm nor the
 * prebuilt download, which would reach the network), no OpenSSL (this llama.cpp has no curl option
 * left: LLAMA_CURL only warns that it is deprecated). GGML_NATIVE=ON compiles one
 * CPU variant for this machine (the binary is not meant to leave it; the cache is per machine).
 * Examples stay configured because llama-finetune is one; configuring is cheap, only the targets asked
 * for are compiled.
 */
export const LLAMA_CPP_CMAKE_FLAGS = [
    '-DCMAKE_BUILD_TYPE=Release',
    // -O0: a third less compile time than Release's -O3 (measured on llama-grammar.cpp: 6.2 s vs 9.1 s
    // of CPU); the served models are tiny, and ggml's kernels are intrinsics at any level.
    '-DCMAKE_C_FLAGS_RELEASE=-O0 -DNDEBUG',
    '-DCMAKE_CXX_FLAGS_RELEASE=-O0 -DNDEBUG',
    '-DBUILD_SHARED_LIBS=OFF',
    '-DGGML_NATIVE=ON',
    '-DGGML_BACKEND_DL=OFF',
    '-DGGML_CPU_ALL_VARIANTS=OFF',
    '-DLLAMA_BUILD_TESTS=OFF',
    '-DLLAMA_BUILD_EXAMPLES=ON',
    '-DLLAMA_BUILD_TOOLS=ON',
    '-DLLAMA_BUILD_SERVER=ON',
    '-DLLAMA_BUILD_APP=OFF',
    '-DLLAMA_BUILD_UI=OFF',
    '-DLLAMA_USE_PREBUILT_UI=OFF',
    '-DLLAMA_OPENSSL=OFF',
];

/** The benchmarks' configuration: the same, compiled at -O3 as llama.cpp's own Release builds are. */
export const LLAMA_CPP_CMAKE_FLAGS_OPTIMIZED = LLAMA_CPP_CMAKE_FLAGS.map((f) => f.replace('-O0', '-O3'));

/** Build folder, done-record prefix, failure record and cmake flags of a configuration (a failed -O3 build does not stop the tests' build). */
function configuration(optimize) {
    return optimize
        ? { build: 'build-O3', done: 'done-O3-', failed: 'failed-O3.json', flags: LLAMA_CPP_CMAKE_FLAGS_OPTIMIZED }
        : { build: 'build', done: 'done-', failed: 'failed.json', flags: LLAMA_CPP_CMAKE_FLAGS };
}

/** flock's exit status when the lock was not had within the wait. */
const LOCK_TIMEOUT_EXIT = 75;

/** The git bundle of llama.cpp that node-llama-cpp ships. */
export function llamaCppBundle(root = ROOT) {
    return join(root, 'node_modules/node-llama-cpp/llama/gitRelease.bundle');
}

/** The commit the bundle holds (its HEAD), read without cloning. */
export function llamaCppCommit(root = ROOT) {
    const bundle = llamaCppBundle(root);
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm install (node-llama-cpp ships llama.cpp's source there)`);
    const r = spawnSync('git', ['bundle', 'list-heads', bundle], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git bundle list-heads ${bundle} failed: ${(r.stderr || r.error?.message || '').trim()}`);
    const m = /^([0-9a-f]{40})\s/m.exec(r.stdout);
    if (!m) throw new Error(`${bundle}: no head in the bundle (${r.stdout.trim().slice(0, 200)})`);
    return m[1];
}

/** The cache folder of this llama.cpp commit. */
export function llamaCppCacheDir(root = ROOT) {
    const base = process.env.MISMATCH_LLAMA_CPP_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mismatch-lab');
    return join(base, `llama.cpp-${llamaCppCommit(root).slice(0, 12)}`);
}

function onPath(cmd) {
    return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** What a build needs and this machine lacks, as a sentence; undefined when nothing is missing. */
export function missingBuildTools() {
    const missing = ['git', 'cmake', 'make', 'flock'].filter((c) => !onPath(c));
    if (!onPath('c++') && !onPath('g++') && !onPath('clang++')) missing.push('a C++ compiler (g++)');
    if (!missing.length) return undefined;
    return `building llama.cpp needs ${missing.join(', ')}, not found on PATH (Debian: apt-get install cmake g++ make git util-linux)`;
}

/** A target's binary when it is built and recorded done, else undefined. */
export function builtLlamaCpp(target, root = ROOT, optimize = false) {
    const dir = llamaCppCacheDir(root);
    const c = configuration(optimize);
    const bin = join(dir, c.build, 'bin', target);
    return existsSync(join(dir, `${c.done}${target}.json`)) && existsSync(bin) ? bin : undefined;
}

/** What the build of a target recorded: its flags, seconds and date. */
export function llamaCppBuildRecord(target, root = ROOT, optimize = false) {
    const f = join(llamaCppCacheDir(root), `${configuration(optimize).done}${target}.json`);
    return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
}

/**
 * Builds the targets (once; a cached build returns at once) and resolves to their binaries' paths.
 * Waits for a build another process is running. `log` receives the build's output lines;
 * `waitSeconds` bounds the wait for the lock (default 60 min); `optimize` builds at -O3 (benchmarks).
 * Rejects with the build log's tail.
 */
export async function buildLlamaCpp(targets, { root = ROOT, log, waitSeconds = 3600, jobs = 2, optimize = false } = {}) {
    const paths = () => Object.fromEntries(targets.map((t) => [t, builtLlamaCpp(t, root, optimize)]));
    let have = paths();
    if (Object.values(have).every(Boolean)) return have;
    const missing = missingBuildTools();
    if (missing) throw new Error(missing);
    const dir = llamaCppCacheDir(root);
    mkdirSync(dirname(dir), { recursive: true });
    const lock = `${dir}.lock`;
    const failedBefore = () => {
        const f = join(dir, configuration(optimize).failed);
        if (!existsSync(f)) return undefined;
        const r = JSON.parse(readFileSync(f, 'utf8'));
        return r.toolchain === toolchain() ? `the last build of llama.cpp here failed (${r.date}, ${r.what}); log: ${join(dir, 'build.log')}. Delete ${f} to try again.\n${r.tail}` : undefined;
    };
    await new Promise((res, rej) => {
        const child = spawn(
            'flock',
            [
                '-x',
                '-w',
                String(waitSeconds),
                '-E',
                String(LOCK_TIMEOUT_EXIT),
                lock,
                process.execPath,
                join(root, 'scripts/llama-cpp.mjs'),
                'build-locked',
                '--root',
                root,
                '--jobs',
                String(jobs),
                ...(optimize ? ['--optimize'] : []),
                ...targets,
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let tail = '';
        const take = (d) => {
            const s = d.toString();
            tail = (tail + s).slice(-4000);
            if (log) for (const line of s.split('\n')) if (line) log(line);
        };
        child.stdout.on('data', take);
        child.stderr.on('data', take);
        child.on('error', rej);
        child.on('close', (code, signal) => {
            if (code === 0) return res(undefined);
            // a build that failed while we waited for it: its error, not a second try
            const before = code === FAILED_BEFORE_EXIT && failedBefore();
            if (before) return rej(new Error(before));
            const why = code === LOCK_TIMEOUT_EXIT ? `another build held ${lock} for over ${waitSeconds} s` : `exit ${code ?? signal}`;
            rej(new Error(`building ${targets.join(', ')} of llama.cpp failed (${why}); log: ${join(dir, 'build.log')}\n${tail}`));
        });
    });
    have = paths();
    const absent = targets.filter((t) => !have[t]);
    if (absent.length) throw new Error(`the llama.cpp build finished but ${absent.join(', ')} is not in ${join(dir, configuration(optimize).build, 'bin')}`);
    return have;
}

/** The compilers and cmake this machine builds with: a failed build is retried only when they change. */
function toolchain() {
    const v = (cmd) => (spawnSync(cmd, ['--version'], { encoding: 'utf8' }).stdout || '').split('\n')[0];
    return [v('cmake'), v('c++'), v('cc')].join('; ');
}

/** Exit status of build-locked when an earlier build failed with this toolchain (not retried). */
const FAILED_BEFORE_EXIT = 76;

/** The build itself; runs only while holding the lock (see buildLlamaCpp). */
function buildLocked(root, targets, jobs, optimize) {
    const dir = llamaCppCacheDir(root);
    const c = configuration(optimize);
    const todo = targets.filter((t) => !builtLlamaCpp(t, root, optimize));
    if (!todo.length) return; // built by the process we waited for
    mkdirSync(dir, { recursive: true });
    const failed = join(dir, c.failed);
    if (existsSync(failed) && JSON.parse(readFileSync(failed, 'utf8')).toolchain === toolchain()) process.exit(FAILED_BEFORE_EXIT);
    rmSync(failed, { force: true });
    const logFile = join(dir, 'build.log');
    const run = (cmd, args) => {
        const fd = openSync(logFile, 'a');
        writeFileSync(fd, `\n$ ${cmd} ${args.join(' ')}\n`);
        const t0 = Date.now();
        // nice 19: beside the test suite (CI builds in the background) the compiler takes idle CPU only
        const r = spawnSync('nice', ['-n', '19', cmd, ...args], { stdio: ['ignore', fd, fd] });
        closeSync(fd);
        const secs = (Date.now() - t0) / 1000;
        console.log(`${cmd} ${args[0]} ${args[1] ?? ''}: ${r.status === 0 ? 'done' : 'FAILED'} in ${secs.toFixed(0)} s`);
        if (r.status !== 0) {
            const tail = readFileSync(logFile, 'utf8').slice(-3000);
            const what = `${cmd} ${args.slice(0, 2).join(' ')} exited with ${r.status ?? r.signal}`;
            // Killed (a cancelled run) is not a failure of the build: the next builder goes on from here.
            if (r.signal === null) writeFileSync(failed, JSON.stringify({ date: new Date().toISOString(), what, toolchain: toolchain(), tail }, null, 1));
            throw new Error(`${what}:\n${tail}`);
        }
        return secs;
    };
    const src = join(dir, 'src');
    if (!existsSync(join(src, 'CMakeLists.txt'))) {
        const tmp = `${src}.partial`;
        rmSync(tmp, { recursive: true, force: true });
        run('git', ['clone', '-q', llamaCppBundle(root), tmp]);
        rmSync(src, { recursive: true, force: true });
        renameSync(tmp, src);
    }
    const build = join(dir, c.build);
    const t0 = Date.now();
    const configure = run('cmake', ['-S', src, '-B', build, ...c.flags]);
    for (const t of todo) {
        const seconds = run('cmake', ['--build', build, '--target', t, '-j', String(jobs)]);
        writeFileSync(
            join(dir, `${c.done}${t}.json`),
            JSON.stringify(
                {
                    target: t,
                    commit: llamaCppCommit(root),
                    flags: c.flags,
                    jobs,
                    configureSeconds: configure,
                    buildSeconds: seconds,
                    totalSeconds: (Date.now() - t0) / 1000,
                    date: new Date().toISOString(),
                },
                null,
                1,
            ),
        );
    }
}

function main(argv) {
    const [cmd, ...rest] = argv;
    const opt = (name, def) => {
        const i = rest.indexOf(name);
        if (i < 0) return def;
        const v = rest[i + 1];
        rest.splice(i, 2);
        return v;
    };
    const root = resolve(opt('--root', ROOT));
    const jobs = Number(opt('--jobs', '2'));
    const optimize = rest.includes('--optimize');
    if (optimize) rest.splice(rest.indexOf('--optimize'), 1);
    if (cmd === 'build-locked') {
        buildLocked(root, rest, jobs, optimize);
        return;
    }
    if (cmd === 'build' && rest.length) {
        buildLlamaCpp(rest, { root, jobs, optimize, log: (l) => console.log(l) }).then(
            (paths) => {
                for (const [t, p] of Object.entries(paths)) console.log(`${t}: ${p}`);
            },
            (e) => {
                console.error(e.message);
                process.exit(1);
            },
        );
        return;
    }
    console.error('usage: node scripts/llama-cpp.mjs build <target>... [--jobs N] [--optimize]   (e.g. llama-server, llama-finetune; --optimize: -O3, for benchmarks)');
    process.exit(2);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    try {
        main(process.argv.slice(2));
    } catch (e) {
        console.error(e.message);
        process.exit(1);
    }
}
