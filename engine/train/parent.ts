// The parent side of training: checks the job in TypeScript (every precondition a clear error before
// native code runs), tokenizes the data, starts the child process (ggml through koffi; a native assert
// can only kill the child) and turns its messages, its exit and its native output into events, a result
// or a TrainError.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { here, findPackageDir } from './paths.js';
import { freemem } from 'node:os';
import { readLlamaGgufInfo, quantizedTensors, validateConfig, countParameters, type LlamaConfig } from './llama.js';
import { GgmlType, ggmlTypeName, LORA_BASE_TYPES, readGguf, typeBlockSize, type GgufFile } from './gguf.js';
import { tokenizerFromData, TOKEN_TYPE, type Tokenizer, type TokenizerData } from './tokenizer.js';
import { TrainError, type FromChild, type ResolvedJob, type ToChild, type TrainEvent, type TrainExample, type TrainJob, type TrainResult } from './types.js';

export interface TrainOptions {
    signal?: AbortSignal;
    onEvent?: (e: TrainEvent) => void;
    /** path of the child script (default: found next to the bundle, or built from child.ts with esbuild) */
    childPath?: string;
    /**
     * Tokenizer for GGUF bases whose vocabulary is not an SPM one we can reproduce: node-llama-cpp's
     * `model.tokenize(text, false)` of the base loaded with `vocabOnly: true` (with 'trimLeadingSpace'
     * when job.tokenization is 'completion'). Given by the caller that already
     * holds a Llama instance; when absent the trainer loads one itself (CPU, build 'never').
     */
    tokenize?: (text: string) => number[] | Promise<number[]>;
    /** seconds to wait for the child after a cancel before killing it; default 10 */
    cancelGraceSeconds?: number;
}

function versions(): Record<string, string> {
    const v: Record<string, string> = { node: process.version };
    for (const p of ['node-llama-cpp', 'koffi']) {
        try {
            const d = findPackageDir(p);
            if (d) v[p] = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).version;
        } catch {
            /* not found: leave it out */
        }
    }
    return v;
}

function fail(msg: string, code = 'precondition'): never {
    throw new TrainError(msg, [], code);
}

interface JobTokenizer {
    bos: number;
    eos: number;
    unk: number | undefined;
    encode(text: string): Promise<number[]>;
    /** token ids that mean "could not encode" (unknown); empty when byte fallback covers everything */
    isUnknown(id: number): boolean;
    data: TokenizerData | null;
}

async function jobTokenizer(job: TrainJob, opts: TrainOptions): Promise<{ tok: JobTokenizer; config: LlamaConfig }> {
    if (typeof job.base !== 'string') {
        const { config, tokenizer } = job.base.init;
        validateConfig(config);
        if (tokenizer.tokens.length !== config.vocabSize) fail(`init: the tokenizer has ${tokenizer.tokens.length} tokens but config.vocabSize is ${config.vocabSize}`);
        const t = tokenizerFromData(tokenizer);
        return { tok: fromSpm(t, job.tokenization), config };
    }
    const path = job.base;
    if (!existsSync(path)) fail(`base model ${path} does not exist`);
    const info = readLlamaGgufInfo(path); // throws for other architectures
    if (job.mode === 'full') {
        const q = quantizedTensors(info.file);
        if (q.length > 0)
            fail(
                `${path}: quantized weights (${q[0].name} is ${q[0].type}${q.length > 1 ? ` and ${q.length - 1} more` : ''}); full fine-tuning needs F32, F16 or BF16 weights (LoRA trains on a quantized base)`,
            );
    } else {
        const bad = info.file.tensors.find((t) => !LORA_BASE_TYPES.has(t.type));
        if (bad) fail(`${path}: tensor ${bad.name} is ${ggmlTypeName(bad.type)}, a type the trainer has no backward pass for; LoRA bases may be ${[...LORA_BASE_TYPES].map(ggmlTypeName).join(', ')}`);
    }
    // ggml asserts (aborts) on a quantized row that is not a whole number of blocks
    const ragged = info.file.tensors.find((t) => t.shape[0] % typeBlockSize(t.type) !== 0);
    if (ragged)
        fail(
            `${path}: tensor ${ragged.name} is ${ggmlTypeName(ragged.type)} with rows of ${ragged.shape[0]} values, not a multiple of its ${typeBlockSize(ragged.type)}-value blocks (a damaged file?)`,
        );
    const types = info.file.metadata.get('tokenizer.ggml.token_type') as Int32Array | undefined;
    const plainSpm = info.tokenizer && !(types && Array.from(types).some((t) => t === TOKEN_TYPE.USER_DEFINED));
    if (plainSpm && !opts.tokenize) return { tok: fromSpm(info.tokenizer!, job.tokenization), config: info.config };
    // any other vocabulary: node-llama-cpp's own tokenizer
    let tokenize = opts.tokenize;
    let bos = Number(info.file.metadata.get('tokenizer.ggml.bos_token_id') ?? -1);
    let eos = Number(info.file.metadata.get('tokenizer.ggml.eos_token_id') ?? -1);
    const unkRaw = info.file.metadata.get('tokenizer.ggml.unknown_token_id');
    if (!tokenize) {
        const { getLlama } = await import('node-llama-cpp');
        const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
        const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
        tokenize = job.tokenization === 'completion' ? (text: string) => Array.from(model.tokenize(text, false, 'trimLeadingSpace')) : (text: string) => Array.from(model.tokenize(text, false));
        if (model.tokens.bos != null) bos = model.tokens.bos;
        if (model.tokens.eos != null) eos = model.tokens.eos;
    }
    if (eos < 0) fail(`${path}: the vocabulary has no end-of-sequence token`);
    const tk = tokenize;
    return {
        config: info.config,
        tok: {
            bos,
            eos,
            unk: typeof unkRaw === 'number' ? unkRaw : undefined,
            data: null,
            encode: async (t) => Array.from(await tk(t)),
            isUnknown: (id) => typeof unkRaw === 'number' && id === unkRaw,
        },
    };
}

/**
 * Training sequences are [BOS] + tokens(prompt + separator + answer) + [EOS]. The prompt tokens must be
 * the ones inference evaluates: 'llama' (default) = llama.cpp's tokenize(text) with its SPM space
 * prefix, as `[bos, ...model.tokenize(prompt)]`; 'completion' = node-llama-cpp's LlamaCompletion, which
 * tokenizes the text after the BOS with "trimLeadingSpace" (no prefix). A model trained one way and
 * prompted the other loses about 10% of its facts (measured on the bar).
 */
function fromSpm(t: Tokenizer, tokenization: TrainJob['tokenization']): JobTokenizer {
    const trim = t.data.addBos && tokenization === 'completion';
    return {
        bos: t.bosId,
        eos: t.eosId,
        unk: t.unkId,
        data: t.data,
        encode: async (s) => (trim ? t.encode(s, 'trimLeadingSpace') : t.encode(s)),
        isUnknown: (id) => id === t.unkId,
    };
}

function seq(n: number, k: number): string {
    return `example ${n + 1}${k >= 0 ? ` (${k} tokens)` : ''}`;
}

/**
 * Estimated peak bytes of a training run:
 *   weights: full: every parameter as F32 value, gradient accumulator and AdamW m and v (16 bytes each);
 *            LoRA: the frozen base as held (its file bytes, BF16 widened: frozenWeightBytes) + 16 bytes
 *            per LoRA parameter
 *   + activations the backward pass keeps (per token and layer: residual stream, norms, q/k/v, attention
 *     scores, FFN), doubled for their gradients
 *   + 3·V·rows floats: logits, softmax and its gradient of the answer rows only (no one-hot labels)
 *   + full fine-tuning: 3·V·E floats of dense embedding / output-head gradients
 *   + 128 MiB for the process (Node, koffi, the ggml libraries) and graph metadata.
 * Measured (test/train/measure-memory.ts, Llama-3.2-1B's 128,256-token vocabulary, 8 × 512, 8 examples
 * of 41 tokens), peak RSS against this estimate: full from F16 2884 MiB / 2795; LoRA on Q8_0 (104 MiB
 * file) 502 / 685; Llama-3.2-1B's own shape (16 × 2048) in Q8_0, LoRA on all 7 matrices, 2 examples:
 * 1738 MiB for a 1259 MiB file / 2072.
 */
export function estimateTrainBytes(c: LlamaConfig, trainable: number, batch: number, seqLen: number, o: { frozenBytes?: number; rows?: number } = {}): number {
    const weights = o.frozenBytes !== undefined ? o.frozenBytes + trainable * 16 : countParameters(c) * 4 + trainable * 12;
    const tokens = batch * seqLen;
    const perTokenLayer = 10 * c.nEmbd + 4 * c.nFf + 2 * c.nHead * seqLen;
    const rows = o.rows ?? tokens;
    const acts = tokens * (c.nLayer * perTokenLayer + 4 * c.nEmbd) * 4 * 2 + 3 * c.vocabSize * rows * 4;
    // full: the embedding's gradient is dense in the compute buffer (get_rows_back), and so is the output
    // head's (out_prod), with their sum: about 3·V·E floats
    const embdGrads = o.frozenBytes === undefined && trainable >= countParameters(c) ? 3 * c.vocabSize * c.nEmbd * 4 : 0;
    return weights + acts + embdGrads + 128 * 1024 * 1024;
}

/** Bytes a LoRA base takes in ggml buffers: file bytes, 1-D tensors and BF16 matrices as F32 (native.ts). */
export function frozenWeightBytes(file: GgufFile): number {
    let n = 0;
    for (const t of file.tensors) {
        const el = t.shape.reduce((a, b) => a * b, 1);
        n += t.shape.length === 1 || t.type === GgmlType.BF16 ? el * 4 : t.nbytes;
    }
    return n;
}

export function loraTrainableParams(c: LlamaConfig, rank: number, targets: string[]): number {
    const hd = c.nEmbd / c.nHead;
    const dims: Record<string, [number, number]> = {
        attn_q: [c.nEmbd, hd * c.nHead],
        attn_k: [c.nEmbd, hd * c.nHeadKv],
        attn_v: [c.nEmbd, hd * c.nHeadKv],
        attn_output: [hd * c.nHead, c.nEmbd],
        ffn_gate: [c.nEmbd, c.nFf],
        ffn_up: [c.nEmbd, c.nFf],
        ffn_down: [c.nFf, c.nEmbd],
    };
    let n = 0;
    for (const t of targets) n += rank * (dims[t][0] + dims[t][1]) * c.nLayer;
    return n;
}

export const DEFAULT_LORA_TARGETS = ['attn_q', 'attn_k', 'attn_v', 'attn_output'] as const;

/** Checks a job and tokenizes its data; every problem is a TrainError with a clear message. */
export async function checkJob(job: TrainJob, opts: TrainOptions = {}): Promise<ResolvedJob> {
    if (!job || typeof job !== 'object') fail('train job: not an object');
    if (!Array.isArray(job.examples) || job.examples.length === 0) fail('train job: the dataset is empty (no examples)');
    if (!(job.epochs > 0)) fail(`train job: epochs must be > 0 (got ${job.epochs})`);
    if (!(job.lr > 0)) fail(`train job: learning rate must be > 0 (got ${job.lr})`);
    if (job.mode !== 'full' && job.mode !== 'lora') fail(`train job: mode must be "full" or "lora" (got ${String(job.mode)})`);
    if (job.mode === 'lora') {
        if (!job.lora || !(job.lora.rank >= 1) || !Number.isInteger(job.lora.rank)) fail('train job: LoRA needs an integer rank ≥ 1');
        if (!(job.lora.alpha > 0)) fail('train job: LoRA alpha must be > 0');
        if (typeof job.base !== 'string') fail('train job: LoRA needs a base GGUF model (pretrain with mode "full")');
    }
    const batch = job.batch ?? 16;
    if (!Number.isInteger(batch) || batch < 1) fail(`train job: batch must be a positive integer (got ${batch})`);
    if (job.gradAccum !== undefined && (!Number.isInteger(job.gradAccum) || job.gradAccum < 1)) fail('train job: gradient accumulation must be a positive integer');
    if (job.weightDecay !== undefined && !(job.weightDecay >= 0 && job.weightDecay <= 1)) fail('train job: weight decay must be in [0, 1]');
    const vs = job.validationShare ?? 0;
    if (!(vs >= 0 && vs < 1)) fail('train job: validation share must be in [0, 1)');
    if (job.threads !== undefined && (!Number.isInteger(job.threads) || job.threads < 1)) fail('train job: threads must be a positive integer');
    if (!job.outDir) fail('train job: outDir is required');

    let tc: Awaited<ReturnType<typeof jobTokenizer>>;
    try {
        tc = await jobTokenizer(job, opts);
    } catch (e) {
        if (e instanceof TrainError) throw e;
        fail((e as Error).message); // unsupported architecture, unreadable GGUF, bad config
    }
    const { tok, config } = tc;
    const sep = job.separator ?? ' ';
    const encodeAll = async (list: TrainExample[], label: string) => {
        const out: { tokens: number[]; answerStart: number }[] = [];
        for (let i = 0; i < list.length; i++) {
            const ex = list[i];
            if (!ex || typeof ex.prompt !== 'string' || typeof ex.answer !== 'string') fail(`${label} ${seq(i, -1)}: needs string "prompt" and "answer"`);
            if (ex.answer.trim() === '') fail(`${label} ${seq(i, -1)}: empty answer`);
            if (ex.sequence) {
                // tokenized by the engine's prompt builder: trained exactly as given
                const { tokens, answerStart } = ex.sequence;
                if (!Array.isArray(tokens) || tokens.some((t) => !Number.isInteger(t) || t < 0 || t >= config.vocabSize))
                    fail(`${label} ${seq(i, -1)}: its token sequence holds an id outside the vocabulary (0..${config.vocabSize - 1})`);
                if (!Number.isInteger(answerStart) || answerStart < 1 || answerStart >= tokens.length)
                    fail(`${label} ${seq(i, -1)}: answer start ${answerStart} is outside its ${tokens.length}-token sequence`);
                if (tokens.length > config.nCtx) fail(`${label} ${seq(i, tokens.length)} is longer than the model's context (${config.nCtx} tokens)`);
                out.push({ tokens: [...tokens], answerStart });
                continue;
            }
            const p = await tok.encode(ex.prompt);
            const full = await tok.encode(ex.prompt + sep + ex.answer);
            let k = 0;
            while (k < p.length && k < full.length && p[k] === full[k]) k++;
            const tokens = [...(tok.bos >= 0 ? [tok.bos] : []), ...full, tok.eos];
            const bad = full.findIndex((id) => tok.isUnknown(id));
            if (bad >= 0) fail(`${label} ${seq(i, -1)}: the tokenizer cannot encode "${(ex.prompt + sep + ex.answer).slice(0, 80)}" (unknown token at position ${bad})`);
            const answerStart = (tok.bos >= 0 ? 1 : 0) + k;
            if (answerStart >= tokens.length - 1) fail(`${label} ${seq(i, -1)}: the answer produced no tokens`);
            if (tokens.length > config.nCtx) fail(`${label} ${seq(i, tokens.length)} is longer than the model's context (${config.nCtx} tokens)`);
            out.push({ tokens, answerStart });
        }
        return out;
    };
    let train = await encodeAll(job.examples, 'examples');
    let trainIndex = train.map((_, i) => i);
    let validation = job.validation ? await encodeAll(job.validation, 'validation') : [];
    if (!job.validation && vs > 0) {
        // deterministic split by seed
        const { Rng } = await import('./llama.js');
        const idx = train.map((_, i) => i);
        new Rng(job.seed ^ 0x5eed).shuffle(idx);
        const nVal = Math.max(1, Math.round(train.length * vs));
        const valSet = new Set(idx.slice(0, nVal));
        validation = train.filter((_, i) => valSet.has(i));
        train = train.filter((_, i) => !valSet.has(i));
        trainIndex = trainIndex.filter((i) => !valSet.has(i));
        if (train.length === 0) fail('train job: no training examples left after the validation split');
    }
    const seqLen = Math.max(...train.map((t) => t.tokens.length), ...validation.map((t) => t.tokens.length));
    const trainable = job.mode === 'lora' ? loraTrainableParams(config, job.lora!.rank, job.lora!.targets ?? [...DEFAULT_LORA_TARGETS]) : countParameters(config);
    const b = Math.min(batch, train.length);
    const topRows = (list: typeof train) =>
        list
            .map((t) => t.tokens.length - t.answerStart)
            .sort((x, y) => y - x)
            .slice(0, b)
            .reduce((x, y) => x + y, 0);
    const frozen = job.mode === 'lora' && typeof job.base === 'string' ? frozenWeightBytes(readGguf(job.base)) : undefined;
    const need = estimateTrainBytes(config, trainable, b, seqLen, { frozenBytes: frozen, rows: Math.max(topRows(train), topRows(validation), 1) });
    const avail = freemem(); // host memory (a GPU run keeps weights and activations on the device, but this bound is still safe)
    if (need > 0.85 * avail)
        fail(
            `train job: not enough memory: about ${(need / 2 ** 30).toFixed(2)} GiB needed for this model with batch ${Math.min(batch, train.length)} × ${seqLen} tokens, ${(avail / 2 ** 30).toFixed(2)} GiB free; lower the batch size${job.mode === 'full' ? ' or use LoRA' : ''}`,
        );
    return { job, config, tokenizer: tok.data, train, trainIndex, validation, seqLen, versions: versions() };
}

/** Finds or builds the child script. */
export async function resolveChildPath(explicit?: string): Promise<string> {
    if (explicit) return explicit;
    if (process.env.MISMATCH_TRAIN_CHILD) return process.env.MISMATCH_TRAIN_CHILD;
    const dir = dirname(here);
    // bundles: dist/cli/main.js, dist/engine/*.js, dist/client/extension.cjs
    for (const c of [join(dir, 'train-child.js'), join(dir, '../engine/train-child.js')]) if (existsSync(c)) return c;
    const src = join(dir, 'child.ts');
    if (existsSync(src)) {
        // running from the TypeScript sources (tests): bundle child.ts once with esbuild, as esbuild.mjs does
        const root = resolve(dir, '../..');
        const out = join(root, 'node_modules/.cache/mismatch-train/train-child.js');
        const srcDir = dir;
        const newest = Math.max(
            ...['child.ts', 'native.ts', 'trainer.ts', 'ffi.ts', 'llama.ts', 'gguf.ts', 'tokenizer.ts', 'types.ts', 'paths.ts']
                .map((f) => join(srcDir, f))
                .filter((f) => existsSync(f))
                .map((f) => statSync(f).mtimeMs),
        );
        if (!existsSync(out) || statSync(out).mtimeMs < newest) {
            // a computed specifier: bundles (dist/) never include esbuild; they ship train-child.js instead
            const name = 'esbuild';
            const esbuild = (await import(name)) as typeof import('esbuild');
            mkdirSync(dirname(out), { recursive: true });
            const tmp = `${out}.${process.pid}.tmp.js`; // several test workers may build at once: write, then rename
            await esbuild.build({
                entryPoints: [src],
                outfile: tmp,
                bundle: true,
                platform: 'node',
                target: 'node20',
                format: 'esm',
                external: ['koffi', '@koromix/*', 'node-llama-cpp', '@node-llama-cpp/*'],
                logLevel: 'error',
                sourcemap: 'inline',
                banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
            });
            renameSync(tmp, out);
        }
        return out;
    }
    throw new TrainError(`trainer child script not found next to ${here}`, [], 'internal');
}

/**
 * Trains in a child process. Resolves with the result; rejects with a TrainError (preconditions,
 * native errors with the last lines of native output, cancel, a killed child). Never kills the parent.
 */
export async function trainModel(job: TrainJob, opts: TrainOptions = {}): Promise<TrainResult> {
    const emit = (e: TrainEvent) => {
        try {
            opts.onEvent?.(e);
        } catch {
            /* a listener's error is not ours */
        }
    };
    if (opts.signal?.aborted) throw new TrainError('training cancelled', [], 'cancelled');
    const resolved = await checkJob(job, opts);
    mkdirSync(job.outDir, { recursive: true });
    const childPath = await resolveChildPath(opts.childPath);
    return new Promise<TrainResult>((resolvePromise, reject) => {
        const tail: string[] = [];
        const keep = (chunk: Buffer) => {
            for (const line of chunk.toString('utf8').split('\n')) {
                if (!line.trim()) continue;
                tail.push(line);
                if (tail.length > 40) tail.shift();
            }
        };
        let child: ChildProcess;
        try {
            child = fork(childPath, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced', execArgv: [] });
        } catch (e) {
            reject(new TrainError(`could not start the trainer process: ${(e as Error).message}`, [], 'spawn'));
            return;
        }
        child.stdout?.on('data', keep);
        child.stderr?.on('data', keep);
        let settled = false;
        let cancelled = false;
        let killTimer: NodeJS.Timeout | undefined;
        const finish = (err: TrainError | null, result?: TrainResult) => {
            if (settled) return;
            settled = true;
            opts.signal?.removeEventListener('abort', onAbort);
            if (killTimer) clearTimeout(killTimer);
            if (err) {
                emit({ type: 'error', message: err.message, nativeOutput: err.nativeOutput });
                reject(err);
            } else resolvePromise(result!);
        };
        const onAbort = () => {
            cancelled = true;
            try {
                child.send({ type: 'cancel' } satisfies ToChild);
            } catch {
                /* already gone */
            }
            killTimer = setTimeout(
                () => {
                    child.kill('SIGKILL');
                },
                (opts.cancelGraceSeconds ?? 10) * 1000,
            );
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        child.on('message', (m: FromChild) => {
            if (m.type === 'event') {
                const e = m.event;
                if (e.type === 'done') {
                    emit(e);
                    finish(null, e.result);
                    return;
                }
                if (e.type === 'error') {
                    const code = cancelled && /cancel/i.test(e.message) ? 'cancelled' : 'native';
                    finish(new TrainError(e.message, [...(e.nativeOutput ?? []), ...tail].slice(-40), code));
                    return;
                }
                emit(e);
            } else if (m.type === 'fatal') {
                finish(new TrainError(m.message, [...tail], 'native'));
            }
        });
        child.on('error', (e) => finish(new TrainError(`trainer process error: ${e.message}`, [...tail], 'spawn')));
        child.on('exit', (code, signal) => {
            // let the last stderr chunks arrive
            setTimeout(() => {
                if (cancelled) {
                    finish(new TrainError('training cancelled', [...tail], 'cancelled'));
                    return;
                }
                const why = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with code ${code}`;
                const abort = tail.find((l) => /GGML_ASSERT|error|abort/i.test(l));
                finish(new TrainError(`the trainer process ${why}${abort ? `: ${abort.trim()}` : ''}`, [...tail], 'crash'));
            }, 50);
        });
        child.send({ type: 'train', job: resolved } satisfies ToChild);
    });
}
