/**
 * The inference child process: loads one GGUF model once (node-llama-cpp), keeps one context with
 * several sequences, and answers `generate` jobs with batched generation (one question per
 * sequence at a time; node-llama-cpp evaluates the sequences' tokens together in each batch) and
 * per-token probabilities of the chosen tokens. Runs in its own process because a native assert in
 * llama.cpp aborts the process: the engine (and the editor's extension host) survive it.
 */
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import type { Decoding } from '../../language/plan-types.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { preparePrompts, promptTokens as buildPromptTokens } from './prompt.js';
import { applyStops, itemSeed, type FewShotExample, type GenerationItem, type GenerationResult } from './types.js';

let llama: Llama | undefined;
let model: LlamaModel | undefined;
let context: LlamaContext | undefined;
let sequences: LlamaContextSequence[] = [];
let init: WorkerInit | undefined;
const cancelled = new Set<number>();
let queue: Promise<void> = Promise.resolve();

function send(msg: FromWorker): void {
    process.send?.(msg);
}

async function makeContext(lora: string[] | undefined): Promise<LlamaContext> {
    if (!model || !init) throw new Error('model not loaded');
    const contextSize = Math.max(16, Math.min(init.contextSize, model.trainContextSize));
    return model.createContext({
        sequences: init.sequences,
        contextSize,
        batchSize: Math.min(512, contextSize * init.sequences),
        threads: init.threads,
        ...(lora && lora.length ? { lora: { adapters: lora.map((filePath) => ({ filePath })) } } : {}),
    });
}

async function start(msg: WorkerInit): Promise<void> {
    init = msg;
    await preparePrompts();
    llama = await getLlama({ gpu: msg.gpu, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: msg.threads });
    model = await llama.loadModel({ modelPath: msg.modelPath, gpuLayers: msg.gpu === false ? 0 : 'auto' });
    context = await makeContext(msg.lora);
    let chatTemplate = false;
    try {
        chatTemplate = !!model.fileInfo.metadata?.tokenizer?.chat_template;
    } catch {
        /* no metadata */
    }
    send({
        type: 'ready',
        info: {
            gpu: llama.gpu,
            trainContextSize: model.trainContextSize,
            contextSize: context.contextSize,
            sequences: context.totalSequences,
            chatTemplate,
            llamaCpp: llama.llamaCppRelease?.release ?? 'unknown',
            // For the provenance recorded in store manifests.
            gpuDevices: llama.gpu ? await llama.getGpuDeviceNames().catch(() => []) : [],
        },
    });
}

function promptTokens(question: string, decoding: Decoding, fewShot: FewShotExample[]): Token[] {
    // the same builder makes the fine-tuning sequences (engine/models/prompt.ts)
    return buildPromptTokens(model!, { template: decoding.template, question, fewShot });
}

async function generateOne(seq: LlamaContextSequence, job: number, item: GenerationItem, sample: number, decoding: Decoding, fewShot: FewShotExample[]): Promise<GenerationResult> {
    const m = model!;
    const tokens = promptTokens(item.question, decoding, item.fewShot ?? fewShot);
    const room = seq.contextSize - tokens.length;
    if (room < 1) throw new Error(`the prompt of question ${item.id} has ${tokens.length} tokens; the context holds ${seq.contextSize}`);
    const maxTokens = Math.min(decoding.maxTokens, room);
    await seq.clearHistory();
    const out: Token[] = [];
    const logprobs: number[] = [];
    let finish: GenerationResult['finish'] = 'length';
    let text = '';
    const greedy = decoding.temperature <= 0;
    const it = seq.evaluateWithMetadata(
        tokens,
        { confidence: true },
        {
            temperature: greedy ? 0 : decoding.temperature,
            ...(greedy ? {} : { topK: decoding.topK, topP: decoding.topP, seed: itemSeed(decoding.seed, item.id, sample) }),
        },
    );
    for await (const r of it) {
        if (cancelled.has(job)) break;
        if (m.isEogToken(r.token)) {
            finish = 'eos';
            break;
        }
        out.push(r.token);
        logprobs.push(Math.log(Math.max(r.confidence, 1e-45)));
        if (decoding.stop.length) {
            // Stop strings can span tokens: check the decoded text (only when there are stops).
            const s = applyStops(m.detokenize(out), decoding.stop);
            if (s.stopped) {
                text = s.text;
                finish = 'stop';
                break;
            }
        }
        if (out.length >= maxTokens) break;
    }
    await it.return();
    if (finish !== 'stop') text = m.detokenize(out);
    // Log-probabilities of the tokens that make the kept text (a stop string's tokens are not the answer's).
    let kept = logprobs;
    if (finish === 'stop') {
        let n = out.length;
        while (n > 0 && m.detokenize(out.slice(0, n)).length > text.length) n--;
        kept = logprobs.slice(0, Math.max(n, 0));
    }
    return { id: item.id, sample, text: text.trim(), tokens: out.length, logprobs: kept, finish };
}

async function runJob(job: number, items: GenerationItem[], decoding: Decoding, samples: number, fewShot: FewShotExample[]): Promise<void> {
    const ctx = context!;
    const work: { item: GenerationItem; sample: number }[] = [];
    for (const item of items) for (let s = 0; s < samples; s++) work.push({ item, sample: s });
    let next = 0;
    const lanes: Promise<void>[] = [];
    const n = Math.min(ctx.totalSequences, work.length);
    // Sequences live as long as the context and are reused by every job (no per-job allocation).
    while (sequences.length < n) sequences.push(ctx.getSequence());
    for (let lane = 0; lane < n; lane++) {
        const seq = sequences[lane];
        lanes.push(
            (async () => {
                while (next < work.length && !cancelled.has(job)) {
                    const w = work[next++];
                    const result = await generateOne(seq, job, w.item, w.sample, decoding, fewShot);
                    if (!cancelled.has(job)) send({ type: 'result', job, result });
                }
            })(),
        );
    }
    await Promise.all(lanes);
}

process.on('message', (msg: ToWorker) => {
    const run = (f: () => Promise<void>, job?: number) => {
        queue = queue.then(f).catch((e: Error) => send({ type: 'error', job, message: e?.message ?? String(e), stack: e?.stack }));
    };
    switch (msg.type) {
        case 'init':
            run(() => start(msg));
            break;
        case 'lora':
            run(async () => {
                sequences = [];
                await context?.dispose();
                context = await makeContext(msg.lora);
                send({ type: 'lora-ready' });
            });
            break;
        case 'generate':
            run(async () => {
                await runJob(msg.job, msg.items, msg.decoding, msg.samples, msg.fewShot);
                send({ type: 'done', job: msg.job });
            }, msg.job);
            break;
        case 'cancel':
            cancelled.add(msg.job);
            break;
        case 'exit':
            queue
                .finally(async () => {
                    await context?.dispose();
                    await model?.dispose();
                    await llama?.dispose();
                    process.exit(0);
                })
                .catch(() => process.exit(1)); // a disposal that fails still ends the worker
            break;
    }
});
process.on('disconnect', () => process.exit(0));
