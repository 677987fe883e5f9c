/**
 * Local GGUF generation through node-llama-cpp in a child process (engine/models/worker.ts): one
 * process and one model load per model per run, batched over several sequences, LoRA adapters
 * switched by recreating the context (the weights stay loaded).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Decoding } from '../../language/plan-types.js';
import type { BatchStats, FromWorker, GpuChoice, ToWorker } from './protocol.js';
import type { GenerateOptions, GenerationItem, GenerationResult, Generator } from './types.js';

function hereDir(): string {
    // ESM (source, CLI bundle) has import.meta.url; the extension's CJS bundle has __dirname.
    try {
        return dirname(fileURLToPath(import.meta.url));
    } catch {
        return typeof __dirname === 'string' ? __dirname : process.cwd();
    }
}

let devBundle: Promise<string> | undefined;

/**
 * Where the worker script is: `MISMATCH_GENERATE_WORKER`, else the built `dist/engine/generate-worker.js`
 * beside the running bundle, else (running from the TypeScript sources, as in tests) a bundle made
 * now with esbuild into node_modules/.cache.
 */
export async function workerScript(): Promise<string> {
    if (process.env.MISMATCH_GENERATE_WORKER) return process.env.MISMATCH_GENERATE_WORKER;
    const here = hereDir();
    const source = join(here, 'worker.ts');
    if (existsSync(source)) {
        devBundle ??= (async () => {
            const root = resolve(here, '..', '..');
            const outDir = join(root, 'node_modules', '.cache', 'mismatch-lab');
            const out = join(outDir, 'generate-worker.mjs');
            mkdirSync(outDir, { recursive: true });
            const esbuild = await import('esbuild');
            const tmp = `${out}.${process.pid}.tmp.mjs`;
            await esbuild.build({
                entryPoints: [source],
                bundle: true,
                platform: 'node',
                format: 'esm',
                target: 'node20',
                outfile: tmp,
                external: ['node-llama-cpp', '@node-llama-cpp/*'],
                logLevel: 'silent',
            });
            renameSync(tmp, out);
            return out;
        })();
        return devBundle;
    }
    for (const c of [join(here, '..', 'engine', 'generate-worker.js'), join(here, 'generate-worker.js'), join(here, '..', '..', 'dist', 'engine', 'generate-worker.js')]) {
        if (existsSync(c)) return c;
    }
    throw new Error('the inference worker (dist/engine/generate-worker.js) is missing: run `npm run build`');
}

export interface LocalOptions {
    modelPath: string;
    gpu: GpuChoice;
    threads: number;
    /**
     * Parallel sequences (default 1; 'auto': the backend's default, 8 on a GPU and 1 on the CPU,
     * engine/models/sequences.ts). Wrong answers with 8-16 sequences (one sequence taking another's
     * logits) came from concurrent sampling racing on llama.cpp's output reorder; fixed by
     * UV_THREADPOOL_SIZE=1 below (test/engine/sequences.test.ts, bench/embedded/seqcheck.ts: 0 of 3x1380
     * differ on a pretrained world model). Answers are a function of the questions, their order and
     * the sequence count (fixed lockstep groups); batched matrix products round differently from
     * single-token ones (up to ~2e-3 in a log-probability), which can flip near-tied greedy tokens,
     * so 1 and 8 sequences agree closely, not bit for bit.
     */
    sequences?: number | 'auto';
    contextSize?: number;
    lora?: string[];
}

export class ModelProcessError extends Error {}

export class LocalGenerator implements Generator {
    readonly logprobs = true;
    readonly description: string;
    private child: ChildProcess;
    private stderr: string[] = [];
    private jobs = 0;
    private listeners = new Set<(m: FromWorker) => void>();
    private exitError: Error | undefined;
    private lora: string[] = [];
    info: Extract<FromWorker, { type: 'ready' }>['info'] | undefined;
    /** The last finished job's decode batches (engine/models/worker.ts checks that each lockstep step made one batch). */
    lastStats: BatchStats | undefined;

    private constructor(
        script: string,
        readonly options: LocalOptions,
    ) {
        this.description = `gguf ${options.modelPath}`;
        this.lora = options.lora ?? [];
        // UV_THREADPOOL_SIZE=1: node-llama-cpp 3.21.1 samples each sequence's token in its own libuv
        // worker, and llama.cpp's llama_get_logits_ith() applies the batch's pending output reorder
        // (output_reorder(), not thread-safe) on first access; with several sequences the outputs are
        // reordered (split_equal ubatches) and concurrent samplers race on it, so a sequence could get
        // another sequence's logits. One pool thread serialises them (decode is serial anyway).
        this.child = fork(script, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [], serialization: 'advanced', env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
        this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
            this.stderr.push(d);
            if (this.stderr.length > 50) this.stderr.shift();
        });
        this.child.on('message', (m: FromWorker) => {
            for (const l of [...this.listeners]) l(m);
        });
        this.child.on('exit', (code, signal) => {
            const tail = this.stderr.join('').trim().split('\n').slice(-8).join('\n');
            this.exitError = new ModelProcessError(`the inference process for ${options.modelPath} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${tail ? `:\n${tail}` : ''}`);
            for (const l of [...this.listeners]) l({ type: 'error', message: this.exitError.message });
        });
    }

    static async start(options: LocalOptions): Promise<LocalGenerator> {
        if (!existsSync(options.modelPath)) throw new Error(`model file not found: ${options.modelPath}`);
        const st = statSync(options.modelPath);
        if (st.size < 32) throw new Error(`${options.modelPath} is too small to be a GGUF model`);
        const g = new LocalGenerator(await workerScript(), options);
        try {
            await g.request(
                {
                    type: 'init',
                    modelPath: resolve(options.modelPath),
                    gpu: options.gpu,
                    threads: options.threads,
                    sequences: options.sequences ?? 1,
                    contextSize: options.contextSize ?? 1024,
                    lora: g.lora,
                },
                (m) => {
                    if (m.type === 'ready') {
                        g.info = m.info;
                        return true;
                    }
                    return false;
                },
            );
        } catch (e) {
            // The worker stays up after a failed load (it waits for more messages), and its IPC
            // channel would keep the parent alive for ever: end it before reporting.
            await g.kill();
            throw new ModelProcessError(
                `cannot load the model ${options.modelPath}: ${(e as Error).message.replace(/^inference failed: /, '')} (a truncated or damaged GGUF? download or train it again)`,
            );
        }
        return g;
    }

    /** Ends the worker now (no clean dispose) and waits until it has exited. */
    async kill(): Promise<void> {
        if (this.child.exitCode !== null || this.child.signalCode !== null) return;
        const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
        this.child.kill('SIGKILL');
        await exited;
    }

    private send(m: ToWorker): void {
        if (this.exitError) throw this.exitError;
        this.child.send(m);
    }

    /** Sends a message and resolves when `accept` says a reply completes it; rejects on errors. */
    private request(m: ToWorker, accept: (m: FromWorker) => boolean, job?: number): Promise<void> {
        return new Promise((resolvePromise, reject) => {
            const l = (r: FromWorker) => {
                if (r.type === 'error' && (r.job === undefined || r.job === job)) {
                    this.listeners.delete(l);
                    reject(this.exitError ?? new Error(`inference failed: ${r.message}`));
                } else if (accept(r)) {
                    this.listeners.delete(l);
                    resolvePromise();
                }
            };
            this.listeners.add(l);
            try {
                this.send(m);
            } catch (e) {
                this.listeners.delete(l);
                reject(e);
            }
        });
    }

    /** Applies LoRA adapters (recreates the context; the model stays loaded). */
    async setLora(paths: string[]): Promise<void> {
        if (paths.length === this.lora.length && paths.every((p, i) => p === this.lora[i])) return;
        for (const p of paths) if (!existsSync(p)) throw new Error(`LoRA adapter not found: ${p}`);
        await this.request({ type: 'lora', lora: paths }, (m) => m.type === 'lora-ready');
        this.lora = paths;
    }

    async generate(items: GenerationItem[], decoding: Decoding, options: GenerateOptions = {}): Promise<GenerationResult[]> {
        const job = ++this.jobs;
        const results: GenerationResult[] = [];
        // With the step's whole list the worker groups it by question id: a resumed step decodes the
        // same groups (and so the same batches) as an uninterrupted one, answering only `items`.
        let work = items;
        let report: boolean[] | undefined;
        if (options.all) {
            const wanted = new Set(items.map((i) => i.id));
            const known = new Set(options.all.map((i) => i.id));
            const missing = items.filter((i) => !known.has(i.id));
            if (missing.length) throw new Error(`question ${missing[0].id} is not in the step's list of questions`);
            work = options.all;
            report = work.map((i) => wanted.has(i.id));
        }
        let chain: Promise<void> = Promise.resolve();
        let callbackError: unknown;
        const onAbort = () => {
            try {
                this.send({ type: 'cancel', job });
            } catch {
                /* already gone */
            }
        };
        options.signal?.addEventListener('abort', onAbort);
        try {
            if (options.signal?.aborted) throw abortError();
            await this.request(
                { type: 'generate', job, items: work, decoding, samples: options.samples ?? 1, fewShot: options.fewShot ?? [], ...(report ? { report } : {}) },
                (m) => {
                    if (m.type === 'result' && m.job === job) {
                        results.push(m.result);
                        if (options.onResult) chain = chain.then(() => options.onResult!(m.result)).catch((e) => void (callbackError ??= e));
                        return false;
                    }
                    if (m.type === 'done' && m.job === job) {
                        this.lastStats = m.stats;
                        return true;
                    }
                    return false;
                },
                job,
            );
            await chain;
            if (callbackError) throw callbackError;
            if (options.signal?.aborted) throw abortError();
            return results;
        } finally {
            options.signal?.removeEventListener('abort', onAbort);
        }
    }

    async close(): Promise<void> {
        if (this.exitError || this.child.exitCode !== null || this.child.signalCode !== null) return;
        const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
        try {
            this.send({ type: 'exit' });
        } catch {
            return;
        }
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
    }

    /** For tests and the CLI: the child's pid. */
    get pid(): number | undefined {
        return this.child.pid;
    }
}

export function abortError(): Error {
    const e = new Error('cancelled');
    e.name = 'AbortError';
    return e;
}
