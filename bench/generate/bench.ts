// Generation throughput: the engine (LocalGenerator: child process, batched sequences, per-token
// log-probabilities) vs a bare node-llama-cpp batched loop in this process, on the same model,
// the same prompts, the same threads and sequences; and batching vs one question at a time.
//   node bench/generate/run.mjs [questions=512] [threads=<engine default>] [sequences=8] [maxTokens=16] [layers=4] [width=256] [rounds=7] [pairs=15] [model=path.gguf]
// Threads default to the engine's own default (engine/threads.ts: every core but one): with 2 threads
// on 2 busy cores ggml's threads spin at their barriers while one is descheduled, and both sides ran
// at 0.2-0.3 questions/s with ratios that measured the load, not the engine.
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaLogLevel, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import { LocalGenerator } from '../../engine/models/local.js';
import { defaultThreads } from '../../engine/threads.js';
import type { Decoding } from '../../language/plan-types.js';
import { cpuHere, cpuOf, writeBenchModel } from './measure.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const num = (k: string, d: number) => (args[k] !== undefined ? Number(args[k]) : d);
const N = num('questions', 512);
const threads = num('threads', defaultThreads());
const sequences = num('sequences', 8);
const maxTokens = num('maxTokens', 16);

const questions = Array.from({ length: N }, (_, i) => ({ id: `q${i}`, question: `What is the capital of Land${i} in the north of Region${i % 7}?` }));
let modelPath: string = args.model;
if (!modelPath) {
    modelPath = join(mkdtempSync(join(tmpdir(), 'mm-bench-gen-')), 'bench.gguf');
    writeBenchModel(
        modelPath,
        questions.map((q) => q.question),
        num('layers', 4),
        num('width', 256),
    );
}
// The same warm-up on both sides, long enough for the JIT and the first collections (a fresh worker
// warmed with 4 questions spent ~10% more CPU in the timed pass than the bare loop warmed by earlier rounds).
const warmUp = questions.slice(0, Math.min(N, 64));
const decoding: Decoding = { temperature: 0, maxTokens, stop: [], template: 'raw', fewShot: 0 };

interface Measure {
    qps: number;
    cpuMsPerQuestion: number;
    tokens: number;
    texts: string[];
}

/** The engine's generator on the bench model, with the same threads and context as the bare loops. */
function startEngine(seqs: number): Promise<LocalGenerator> {
    return LocalGenerator.start({ modelPath, gpu: false, threads, sequences: seqs, contextSize: 128 });
}

/** A bare node-llama-cpp context on the bench model in this process, as the engine's worker makes it. */
async function openBare(seqs: number): Promise<{ model: LlamaModel; seqPool: LlamaContextSequence[]; dispose: () => Promise<void> }> {
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: threads });
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const ctx = await model.createContext({ sequences: seqs, contextSize: 128, batchSize: Math.min(512, 128 * seqs), threads });
    const seqPool = Array.from({ length: seqs }, () => ctx.getSequence());
    return {
        model,
        seqPool,
        dispose: async () => {
            await ctx.dispose();
            await model.dispose();
            await llama.dispose();
        },
    };
}

async function engine(seqs: number): Promise<Measure> {
    const g = await startEngine(seqs);
    // The engine's worker is a new process every round while the bare loops run in this one, warm
    // from every earlier round: three warm-up passes give its JIT what this process already has
    // (with one pass the like-for-like ratio read 0.90, with three 0.95: two runs on an idle machine).
    for (let pass = 0; pass < 3; pass++) await g.generate(warmUp, decoding);
    const c0 = cpuOf(g.pid!);
    const t0 = performance.now();
    const r = await g.generate(questions, decoding);
    const s = (performance.now() - t0) / 1000;
    const cpu = cpuOf(g.pid!) - c0;
    await g.close();
    const byId = new Map(r.map((x) => [x.id, x.text]));
    return { qps: N / s, cpuMsPerQuestion: cpu / N, tokens: r.reduce((a, x) => a + x.tokens, 0), texts: questions.map((q) => byId.get(q.id)!) };
}

/**
 * A bare node-llama-cpp loop in this process: `answer` answers a list on the context's sequences and
 * records each text; it is run on the warm-up, then timed on the questions.
 */
async function bareMeasure(
    seqs: number,
    answer: (model: LlamaModel, seqPool: LlamaContextSequence[], items: typeof questions, texts: Map<string, string>) => Promise<number>,
    warmUpPasses = 1,
): Promise<Measure> {
    const { model, seqPool, dispose } = await openBare(seqs);
    const texts = new Map<string, string>();
    for (let pass = 0; pass < warmUpPasses; pass++) await answer(model, seqPool, warmUp, texts);
    const c0 = cpuHere();
    const t0 = performance.now();
    const tokens = await answer(model, seqPool, questions, texts);
    const s = (performance.now() - t0) / 1000;
    const cpu = cpuHere() - c0;
    await dispose();
    return { qps: N / s, cpuMsPerQuestion: cpu / N, tokens, texts: questions.map((q) => texts.get(q.id)!) };
}

/** The prompt's tokens as the engine builds them for the raw template: BOS where the model wants it, then the question. */
function promptOf(model: LlamaModel, question: string): Token[] {
    const bos = model.tokens.bos;
    const prompt = model.tokenize(question, false);
    return bos != null && model.tokens.shouldPrependBosToken ? [bos, ...prompt] : prompt;
}

let _logprob = 0; // the engine's per-token work, kept so the bare loops do it too

/** The free-running bare loop: each sequence takes the next question when it finishes one. */
function bare(seqs: number, confidence = false): Promise<Measure> {
    return bareMeasure(seqs, async (model, seqPool, items, texts) => {
        let next = 0;
        let tokens = 0;
        await Promise.all(
            Array.from({ length: Math.min(seqs, items.length) }, async (_, lane) => {
                const seq = seqPool[lane];
                while (next < items.length) {
                    const q = items[next++];
                    const input = promptOf(model, q.question);
                    await seq.clearHistory();
                    const out: Token[] = [];
                    if (confidence) {
                        // The same per-token work as the engine: the chosen token's probability.
                        for await (const r of seq.evaluateWithMetadata(input, { confidence: true }, { temperature: 0 })) {
                            if (model.isEogToken(r.token)) break;
                            out.push(r.token);
                            _logprob += Math.log(r.confidence);
                            if (out.length >= maxTokens) break;
                        }
                    } else {
                        for await (const t of seq.evaluate(input, { temperature: 0 })) {
                            if (model.isEogToken(t)) break;
                            out.push(t);
                            if (out.length >= maxTokens) break;
                        }
                    }
                    texts.set(q.id, model.detokenize(out).trim());
                    tokens += out.length;
                }
            }),
        );
        return tokens;
    });
}

/**
 * The bare loop in the engine's batching discipline (engine/models/sequences.ts): questions ordered
 * by id, cut into groups of `seqs`, each group decoded in lockstep (all prompts, then one token per
 * unfinished sequence per batch), with the chosen tokens' probabilities. Against this loop the
 * engine does the same work in the same batches, so the ratio is its own overhead; against the
 * free-running loop it also pays for determinism (a group waits for its longest answer).
 */
function bareLockstep(seqs: number, warmUpPasses = 1): Promise<Measure> {
    return bareMeasure(seqs, lockstepAnswer(seqs), warmUpPasses);
}

/**
 * The lockstep loop in a fresh child process, warmed like the engine's worker (three passes): the
 * same process conditions as the engine, where the in-process loop runs warm from earlier rounds.
 */
function bareLockstepChild(seqs: number): Promise<Measure> {
    return new Promise((resolveMeasure, reject) => {
        const child = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2).filter((a) => !a.startsWith('model=')), `model=${modelPath}`], {
            env: { ...process.env, BENCH_BARE_CHILD: String(seqs) },
            execArgv: [],
        });
        child.once('message', (m) => resolveMeasure(m as Measure));
        child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`the bare child exited with ${code}`))));
    });
}

function lockstepAnswer(seqs: number) {
    return async (model: LlamaModel, seqPool: LlamaContextSequence[], items: typeof questions, texts: Map<string, string>): Promise<number> => {
        const ordered = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        let tokens = 0;
        for (let g = 0; g < ordered.length; g += seqs) {
            const lanes = ordered.slice(g, g + seqs).map((q, j) => ({
                q,
                seq: seqPool[j],
                out: [] as Token[],
                it: undefined as undefined | AsyncGenerator<{ token: Token; confidence?: number }, void, void>,
            }));
            await Promise.all(lanes.map((l) => l.seq.clearHistory()));
            for (const l of lanes) l.it = l.seq.evaluateWithMetadata(promptOf(model, l.q.question), { confidence: true }, { temperature: 0 });
            let active = lanes;
            while (active.length) {
                await new Promise<void>((r) => setImmediate(r)); // the previous step's dispatch has ended
                const steps = await Promise.all(active.map((l) => l.it!.next()));
                const still: typeof lanes = [];
                active.forEach((l, k) => {
                    const r = steps[k];
                    if (r.done || model.isEogToken(r.value.token)) return;
                    l.out.push(r.value.token);
                    _logprob += Math.log(r.value.confidence ?? 1);
                    if (l.out.length < maxTokens) still.push(l);
                });
                await Promise.all(active.filter((l) => !still.includes(l)).map((l) => l.it!.return()));
                active = still;
            }
            for (const l of lanes) {
                texts.set(l.q.id, model.detokenize(l.out).trim());
                tokens += l.out.length;
            }
        }
        return tokens;
    };
}

if (process.env.BENCH_BARE_CHILD) {
    // this process is bareLockstepChild's fresh child: one warmed measure, sent to the parent
    process.send!(await bareLockstep(Number(process.env.BENCH_BARE_CHILD), 3));
    process.exit(0);
}

console.log(
    `model ${modelPath}, ${N} questions, maxTokens ${maxTokens}, threads ${threads}, sequences ${sequences} (CPU); libuv pool ${process.env.UV_THREADPOOL_SIZE ?? 'default (4)'} here and in the engine's worker`,
);
// Interleaved rounds (bare, engine, bare, engine, ...) so that load from other processes on a shared
// machine falls on both sides. This machine's speed drifts between rounds (the same bare loop read 183,
// 161 and 132 questions/s in three consecutive rounds), so the like-for-like ratio is taken within each
// round, where the lockstep loop and the engine run back to back (in alternating order, so that neither
// always goes first), and summarised by the median over rounds; best-of-rounds ratios are printed too.
const rounds = num('rounds', 7);
const bareRuns: Measure[] = [];
const bareConfRuns: Measure[] = [];
const bareLockRuns: Measure[] = [];
const bareChildRuns: Measure[] = [];
const engineRuns: Measure[] = [];
let tokens = 0;
for (let r = 0; r < rounds; r++) {
    const b = await bare(sequences);
    const bc = await bare(sequences, true);
    let bl: Measure, blc: Measure, e: Measure;
    if (r % 2 === 0) {
        bl = await bareLockstep(sequences);
        blc = await bareLockstepChild(sequences);
        e = await engine(sequences);
    } else {
        e = await engine(sequences);
        blc = await bareLockstepChild(sequences);
        bl = await bareLockstep(sequences);
    }
    bareChildRuns.push(blc);
    bareRuns.push(b);
    bareConfRuns.push(bc);
    bareLockRuns.push(bl);
    engineRuns.push(e);
    tokens = e.tokens;
    // The engine's answers are the bare loop's (greedy): a faster engine that answered differently would not count.
    const differ = questions.filter((_, i) => e.texts[i] !== bc.texts[i]).length;
    const differLock = questions.filter((_, i) => e.texts[i] !== bl.texts[i] || e.texts[i] !== blc.texts[i]).length;
    console.log(
        `round ${r + 1}: bare ${b.qps.toFixed(1)} · bare+logprobs ${bc.qps.toFixed(1)} · bare lockstep ${bl.qps.toFixed(1)} · in a fresh child ${blc.qps.toFixed(1)} · engine ${e.qps.toFixed(1)} questions/s; cpu ${b.cpuMsPerQuestion.toFixed(1)} · ${bc.cpuMsPerQuestion.toFixed(1)} · ${bl.cpuMsPerQuestion.toFixed(1)} · ${blc.cpuMsPerQuestion.toFixed(1)} · ${e.cpuMsPerQuestion.toFixed(1)} ms/question; ${differ} answers differ from the free-running loop, ${differLock} from the lockstep ones`,
    );
}
/**
 * Warm and paired: one engine worker and one in-process lockstep loop, both loaded once and warmed,
 * as a real step uses its worker for all its groups; then `pairs` back-to-back passes of the same
 * questions on each, alternating which goes first. Each pair is a few seconds apart at most, so the
 * machine's drift between rounds falls on both sides of a pair; the median pair ratio summarises them.
 */
async function warmPairs(seqs: number, pairs: number, items: typeof questions): Promise<{ wall: number[]; cpu: number[]; differ: number }> {
    const g = await startEngine(seqs);
    const { model, seqPool, dispose } = await openBare(seqs);
    const answer = lockstepAnswer(seqs);
    const texts = new Map<string, string>();
    for (let pass = 0; pass < 3; pass++) {
        await g.generate(warmUp, decoding);
        await answer(model, seqPool, warmUp, texts);
    }
    const timeEngine = async () => {
        const c0 = cpuOf(g.pid!);
        const t0 = performance.now();
        const r = await g.generate(items, decoding);
        return { s: (performance.now() - t0) / 1000, cpu: cpuOf(g.pid!) - c0, texts: new Map(r.map((x) => [x.id, x.text])) };
    };
    const timeBare = async () => {
        const c0 = cpuHere();
        const t0 = performance.now();
        await answer(model, seqPool, items, texts);
        return { s: (performance.now() - t0) / 1000, cpu: cpuHere() - c0 };
    };
    const wall: number[] = [];
    const cpu: number[] = [];
    let differ = 0;
    for (let i = 0; i < pairs; i++) {
        let e: Awaited<ReturnType<typeof timeEngine>>, b: Awaited<ReturnType<typeof timeBare>>;
        if (i % 2 === 0) {
            b = await timeBare();
            e = await timeEngine();
        } else {
            e = await timeEngine();
            b = await timeBare();
        }
        wall.push(b.s / e.s);
        cpu.push(b.cpu / e.cpu);
        differ = Math.max(differ, items.filter((q) => e.texts.get(q.id) !== texts.get(q.id)).length);
    }
    await g.close();
    await dispose();
    return { wall, cpu, differ };
}

const e1 = await engine(1);
const best = (xs: Measure[]) => Math.max(...xs.map((x) => x.qps));
const leastCpu = (xs: Measure[]) => Math.min(...xs.map((x) => x.cpuMsPerQuestion));
const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
const perRound = (f: (i: number) => number) => range(Array.from({ length: rounds }, (_, i) => f(i)));
const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const paired = (base: Measure[]) => ({
    wall: engineRuns.map((e, i) => e.qps / base[i].qps),
    cpu: engineRuns.map((e, i) => base[i].cpuMsPerQuestion / e.cpuMsPerQuestion),
});
const pairedLine = (base: Measure[]) => {
    const p = paired(base);
    return `median ${median(p.wall).toFixed(3)} wall (${p.wall.map((x) => x.toFixed(2)).join(', ')}), median ${median(p.cpu).toFixed(3)} cpu (${p.cpu.map((x) => x.toFixed(2)).join(', ')})`;
};
console.log(`bare node-llama-cpp batched            : ${best(bareRuns).toFixed(1)} questions/s, ${leastCpu(bareRuns).toFixed(1)} cpu ms/question (best of ${rounds})`);
console.log(`bare batched + token probabilities     : ${best(bareConfRuns).toFixed(1)} questions/s, ${leastCpu(bareConfRuns).toFixed(1)} cpu ms/question (the engine's per-token work)`);
console.log(
    `engine batched (${sequences} seq)              : ${best(engineRuns).toFixed(1)} questions/s, ${leastCpu(engineRuns).toFixed(1)} cpu ms/question (${tokens} tokens, log-probabilities, child process)`,
);
console.log(`engine one at a time                   : ${e1.qps.toFixed(1)} questions/s, ${e1.cpuMsPerQuestion.toFixed(1)} cpu ms/question`);
console.log(
    `ratio engine / bare                    : ${(best(engineRuns) / best(bareRuns)).toFixed(3)} wall (rounds ${perRound((i) => engineRuns[i].qps / bareRuns[i].qps)}), ${(leastCpu(bareRuns) / leastCpu(engineRuns)).toFixed(3)} cpu`,
);
console.log(
    `ratio engine / bare + token probs      : ${(best(engineRuns) / best(bareConfRuns)).toFixed(3)} wall (rounds ${perRound((i) => engineRuns[i].qps / bareConfRuns[i].qps)}), ${(leastCpu(bareConfRuns) / leastCpu(engineRuns)).toFixed(3)} cpu`,
);
console.log(
    `ratio engine / bare lockstep           : ${(best(engineRuns) / best(bareLockRuns)).toFixed(3)} wall (rounds ${perRound((i) => engineRuns[i].qps / bareLockRuns[i].qps)}), ${(leastCpu(bareLockRuns) / leastCpu(engineRuns)).toFixed(3)} cpu  (like for like: same batches, same per-token work; best of each side)`,
);
console.log(`engine / bare lockstep, paired by round: ${pairedLine(bareLockRuns)}  (goal ≥ 0.95)`);
console.log(`engine / bare lockstep in a fresh child, paired by round: ${pairedLine(bareChildRuns)}  (the same process conditions as the engine)`);
const pairCount = num('pairs', 15);
const warm = await warmPairs(sequences, pairCount, questions.slice(0, Math.min(N, 256)));
console.log(
    `engine / bare lockstep, both warm, ${pairCount} back-to-back pairs of ${Math.min(N, 256)} questions: median ${median(warm.wall).toFixed(3)} wall (${range(warm.wall)}), median ${median(warm.cpu).toFixed(3)} cpu (${range(warm.cpu)}); ${warm.differ} answers differ  (goal ≥ 0.95)`,
);
console.log(`batching speed-up                      : ${(best(engineRuns) / e1.qps).toFixed(2)}× wall, ${(e1.cpuMsPerQuestion / leastCpu(engineRuns)).toFixed(2)}× cpu`);
