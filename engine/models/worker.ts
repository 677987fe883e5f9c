/**
 * The inference child process: loads one GGUF model once (node-llama-cpp), keeps one context with
 * several sequences, and answers `generate` jobs with batched generation (fixed groups of questions,
 * one per sequence, decoded in lockstep: engine/models/sequences.ts) and
 * per-token probabilities of the chosen tokens. Runs in its own process because a native assert in
 * llama.cpp aborts the process: the engine (and the editor's extension host) survive it.
 */
import { getLlama, LlamaLogLevel, type CustomBatchingPrioritizationStrategy, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import type { Decoding } from '../../language/plan-types.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { preparePrompts, promptTokens as buildPromptTokens } from './prompt.js';
import { defaultSequences, workGroups, type WorkUnit } from './sequences.js';
import { applyStops, itemSeed, type FewShotExample, type GenerationItem, type GenerationResult } from './types.js';

let llama: Llama | undefined;
let model: LlamaModel | undefined;
let context: LlamaContext | undefined;
let sequences: LlamaContextSequence[] = [];
let init: WorkerInit | undefined;
/** Sequences of the context: the init's count, or the backend's default when it said 'auto'. */
let sequenceCount = 1;
const cancelled = new Set<number>();
let queue: Promise<void> = Promise.resolve();

function send(msg: FromWorker): void {
    process.send?.(msg);
}

async function makeContext(lora: string[] | undefined): Promise<LlamaContext> {
    if (!model || !init) throw new Error('model not loaded');
    const contextSize = Math.max(16, Math.min(init.contextSize, model.trainContextSize));
    return model.createContext({
        sequences: sequenceCount,
        contextSize,
        batchSize: Math.min(512, contextSize * sequenceCount),
        threads: init.threads,
        batching: { itemPrioritizationStrategy: lockstepStrategy },
        ...(lora && lora.length ? { lora: { adapters: lora.map((filePath) => ({ filePath })) } } : {}),
    });
}

async function start(msg: WorkerInit): Promise<void> {
    init = msg;
    await preparePrompts();
    llama = await getLlama({ gpu: msg.gpu, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: msg.threads });
    model = await llama.loadModel({ modelPath: msg.modelPath, gpuLayers: msg.gpu === false ? 0 : 'auto' });
    // The backend decides the default: llama.gpu is the one 'auto' resolved to (false: the CPU).
    sequenceCount = msg.sequences === 'auto' ? defaultSequences(llama.gpu) : msg.sequences;
    for (;;) {
        try {
            context = await makeContext(msg.lora);
            break;
        } catch (e) {
            // A default that does not fit the device's memory (8 sequences' KV caches of a large model on
            // a small GPU) falls back to fewer; a count the run asked for is an error.
            if (msg.sequences !== 'auto' || sequenceCount === 1) throw e;
            sequenceCount = Math.max(1, Math.floor(sequenceCount / 2));
        }
    }
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

/** Resolves after the current event-loop turn: a dispatch of node-llama-cpp's batch that is under way has ended by then. */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** One question (one sample) being answered on one sequence. */
class Lane {
    readonly out: Token[] = [];
    readonly logprobs: number[] = [];
    finish: GenerationResult['finish'] = 'length';
    text = '';
    done = false;
    readonly maxTokens: number;
    readonly it: AsyncGenerator<{ token: Token; confidence?: number }, void, void>;

    constructor(
        seq: LlamaContextSequence,
        readonly unit: WorkUnit<GenerationItem>,
        readonly decoding: Decoding,
        fewShot: FewShotExample[],
    ) {
        const item = unit.item;
        const tokens = promptTokens(item.question, decoding, item.fewShot ?? fewShot);
        const room = seq.contextSize - tokens.length;
        if (room < 1) throw new Error(`the prompt of question ${item.id} has ${tokens.length} tokens; the context holds ${seq.contextSize}`);
        this.maxTokens = Math.min(decoding.maxTokens, room);
        const greedy = decoding.temperature <= 0;
        // Nothing is evaluated until the group's first step asks for the first token.
        this.it = seq.evaluateWithMetadata(
            tokens,
            { confidence: true },
            {
                temperature: greedy ? 0 : decoding.temperature,
                ...(greedy ? {} : { topK: decoding.topK, topP: decoding.topP, seed: itemSeed(decoding.seed, item.id, unit.sample) }),
            },
        );
    }

    /** Takes the next generated token; sets `done` when the answer is complete. */
    accept(r: IteratorResult<{ token: Token; confidence?: number }, void>): void {
        const m = model!;
        if (r.done || m.isEogToken(r.value.token)) {
            this.finish = 'eos';
            this.done = true;
            return;
        }
        this.out.push(r.value.token);
        this.logprobs.push(Math.log(Math.max(r.value.confidence ?? 0, 1e-45)));
        if (this.decoding.stop.length) {
            // Stop strings can span tokens: check the decoded text (only when there are stops).
            const s = applyStops(m.detokenize(this.out), this.decoding.stop);
            if (s.stopped) {
                this.text = s.text;
                this.finish = 'stop';
                this.done = true;
                return;
            }
        }
        if (this.out.length >= this.maxTokens) this.done = true;
    }

    result(): GenerationResult {
        const m = model!;
        const out = this.out;
        const text = this.finish === 'stop' ? this.text : m.detokenize(out);
        // Log-probabilities of the tokens that make the kept text (a stop string's tokens are not the answer's).
        let kept = this.logprobs;
        if (this.finish === 'stop') {
            let n = out.length;
            while (n > 0 && m.detokenize(out.slice(0, n)).length > text.length) n--;
            kept = this.logprobs.slice(0, Math.max(n, 0));
        }
        return { id: this.unit.item.id, sample: this.unit.sample, text: text.trim(), tokens: out.length, logprobs: kept, finish: this.finish };
    }
}

/**
 * Batches of the current lockstep step that the prioritization strategy should see (the number of
 * sequences asking), and the count of dispatched batches that held another number: 0 unless the
 * lockstep below failed to gather a step into one batch.
 */
let expectedInBatch: number | undefined;
let stats = { batches: 0, outOfStep: 0 };

/**
 * node-llama-cpp's batch prioritization, written here to check the lockstep: every queued request
 * is taken whole when the batch has room (it does for one token per sequence), else the batch is
 * shared evenly in queue order (a group's long prompts), as the library's "maximumParallelism" does.
 */
const lockstepStrategy: CustomBatchingPrioritizationStrategy = ({ items, size }) => {
    stats.batches++;
    if (expectedInBatch !== undefined && items.length !== expectedInBatch) stats.outOfStep++;
    expectedInBatch = undefined; // a prompt longer than the batch continues in the next batch of the same dispatch
    let left = size;
    const share = Math.max(1, Math.floor(size / Math.max(1, items.length)));
    const res = items.map((item) => {
        const processAmount = Math.min(item.tokens.length, share, left);
        left -= processAmount;
        return { item, processAmount };
    });
    for (const r of res) {
        const more = Math.min(r.item.tokens.length - r.processAmount, left);
        r.processAmount += more;
        left -= more;
    }
    return res.filter((r) => r.processAmount > 0);
};

/**
 * Answers one group on the context's sequences in lockstep: all prompts in one dispatch, then one
 * token for every unfinished sequence per dispatch, so each batch holds exactly the group's
 * unfinished sequences whatever the timing. Every lane waits for the step's slowest sampler and
 * then asks in the same event-loop turn; node-llama-cpp's default dispatch ("nextCycle") sends the
 * batch on the next turn, when all have asked. Its batching options cannot do the waiting: a custom
 * dispatch schedule only delays a dispatch, and a dispatch under way keeps decoding whatever is
 * queued meanwhile (a lane that sampled early would get a batch of its own).
 */
async function runGroup(job: number, group: WorkUnit<GenerationItem>[], decoding: Decoding, fewShot: FewShotExample[]): Promise<void> {
    const seqs = sequences.slice(0, group.length);
    await Promise.all(seqs.map((s) => s.clearHistory()));
    const lanes = group.map((u, j) => new Lane(seqs[j], u, decoding, fewShot));
    let active = lanes;
    try {
        while (active.length && !cancelled.has(job)) {
            await nextTurn();
            expectedInBatch = active.length;
            const rs = await Promise.all(active.map((l) => l.it.next()));
            active.forEach((l, k) => l.accept(rs[k]));
            const finished = active.filter((l) => l.done);
            active = active.filter((l) => !l.done);
            await Promise.all(finished.map((l) => l.it.return()));
            if (cancelled.has(job)) break;
            for (const l of finished) if (l.unit.report) send({ type: 'result', job, result: l.result() });
        }
    } finally {
        expectedInBatch = undefined;
        await Promise.all(active.map((l) => l.it.return()));
    }
}

async function runJob(job: number, items: GenerationItem[], decoding: Decoding, samples: number, fewShot: FewShotExample[], report: boolean[] | undefined): Promise<void> {
    const ctx = context!;
    // Sequences live as long as the context and are reused by every job (no per-job allocation).
    while (sequences.length < ctx.totalSequences) sequences.push(ctx.getSequence());
    for (const group of workGroups(items, samples, ctx.totalSequences, report)) {
        if (cancelled.has(job)) break;
        await runGroup(job, group, decoding, fewShot);
    }
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
                stats = { batches: 0, outOfStep: 0 };
                await runJob(msg.job, msg.items, msg.decoding, msg.samples, msg.fewShot, msg.report);
                send({ type: 'done', job: msg.job, stats });
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
