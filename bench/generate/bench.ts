// Generation throughput: the engine (LocalGenerator: child process, batched sequences, per-token
// log-probabilities) vs a bare node-llama-cpp batched loop in this process, on the same model,
// the same prompts, the same threads and sequences; and batching vs one question at a time.
//   node bench/generate/run.mjs [questions=128] [threads=2] [sequences=8] [maxTokens=16] [layers=4] [width=256] [model=path.gguf]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { LocalGenerator } from '../../engine/models/local.js';
import { buildTokenizer, DEFAULT_RMS_EPS, DEFAULT_ROPE_THETA, initLlamaWeights, writeLlamaGguf } from '../../engine/train/api.js';
import type { Decoding } from '../../language/plan-types.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const num = (k: string, d: number) => (args[k] !== undefined ? Number(args[k]) : d);
const N = num('questions', 128);
const threads = num('threads', 2);
const sequences = num('sequences', 8);
const maxTokens = num('maxTokens', 16);

const questions = Array.from({ length: N }, (_, i) => ({ id: `q${i}`, question: `What is the capital of Land${i} in the north of Region${i % 7}?` }));
let modelPath: string = args.model;
if (!modelPath) {
    const tok = buildTokenizer([...questions.map((q) => q.question), 'City Town Village Harbor Mount']);
    const config = { vocabSize: tok.vocabSize, nLayer: num('layers', 4), nEmbd: num('width', 256), nHead: 4, nHeadKv: 4, nFf: num('width', 256) * 3, nCtx: 256, ropeTheta: DEFAULT_ROPE_THETA, rmsEps: DEFAULT_RMS_EPS, tiedEmbeddings: false };
    modelPath = join(mkdtempSync(join(tmpdir(), 'mm-bench-gen-')), 'bench.gguf');
    writeLlamaGguf(modelPath, { config, tokenizer: tok, tensors: initLlamaWeights(config, 1) });
}
const decoding: Decoding = { temperature: 0, maxTokens, stop: [], template: 'raw', fewShot: 0 };

async function engine(seqs: number): Promise<{ qps: number; tokens: number }> {
    const g = await LocalGenerator.start({ modelPath, gpu: false, threads, sequences: seqs, contextSize: 128 });
    await g.generate(questions.slice(0, 4), decoding); // warm-up
    const t0 = performance.now();
    const r = await g.generate(questions, decoding);
    const s = (performance.now() - t0) / 1000;
    await g.close();
    return { qps: N / s, tokens: r.reduce((a, x) => a + x.tokens, 0) };
}

async function bare(seqs: number, confidence = false): Promise<{ qps: number; tokens: number }> {
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: threads });
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const ctx = await model.createContext({ sequences: seqs, contextSize: 128, batchSize: Math.min(512, 128 * seqs), threads });
    const seqPool = Array.from({ length: seqs }, () => ctx.getSequence());
    let _logprob = 0; // the engine's per-token work, kept so the bench does it too
    const run = async (items: typeof questions) => {
        let next = 0;
        let tokens = 0;
        await Promise.all(
            Array.from({ length: Math.min(seqs, items.length) }, async (_, lane) => {
                const seq = seqPool[lane];
                while (next < items.length) {
                    const q = items[next++];
                    const bos = model.tokens.bos;
                    const prompt = model.tokenize(q.question, false);
                    const input: Token[] = bos != null && model.tokens.shouldPrependBosToken ? [bos, ...prompt] : prompt;
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
                    model.detokenize(out);
                    tokens += out.length;
                }
            }),
        );
        return tokens;
    };
    await run(questions.slice(0, 4));
    const t0 = performance.now();
    const tokens = await run(questions);
    const s = (performance.now() - t0) / 1000;
    await ctx.dispose();
    await model.dispose();
    await llama.dispose();
    return { qps: N / s, tokens };
}

console.log(`model ${modelPath}, ${N} questions, maxTokens ${maxTokens}, threads ${threads}, sequences ${sequences} (CPU); libuv pool ${process.env.UV_THREADPOOL_SIZE ?? 'default (4)'} here and in the engine's worker`);
// Interleaved rounds (bare, engine, bare, engine, ...) so that load from other processes on a shared
// machine falls on both sides; the ratio uses the best round of each (least disturbed).
const rounds = num('rounds', 3);
const bareRuns: number[] = [];
const bareConfRuns: number[] = [];
const engineRuns: number[] = [];
let tokens = 0;
for (let r = 0; r < rounds; r++) {
    const b = await bare(sequences);
    const bc = await bare(sequences, true);
    const e = await engine(sequences);
    bareRuns.push(b.qps);
    bareConfRuns.push(bc.qps);
    engineRuns.push(e.qps);
    tokens = e.tokens;
    console.log(`round ${r + 1}: bare ${b.qps.toFixed(1)} · bare+logprobs ${bc.qps.toFixed(1)} · engine ${e.qps.toFixed(1)} questions/s`);
}
const e1 = await engine(1);
const best = (xs: number[]) => Math.max(...xs);
console.log(`bare node-llama-cpp batched            : ${best(bareRuns).toFixed(1)} questions/s (best of ${rounds})`);
console.log(`bare batched + token probabilities     : ${best(bareConfRuns).toFixed(1)} questions/s (the engine's per-token work)`);
console.log(`engine batched (${sequences} seq)              : ${best(engineRuns).toFixed(1)} questions/s (${tokens} tokens, log-probabilities, child process)`);
console.log(`engine one at a time                   : ${e1.qps.toFixed(1)} questions/s`);
console.log(`ratio engine / bare                    : ${(best(engineRuns) / best(bareRuns)).toFixed(3)}  (goal ≥ 0.95)`);
console.log(`ratio engine / bare + token probs      : ${(best(engineRuns) / best(bareConfRuns)).toFixed(3)}`);
console.log(`batching speed-up                      : ${(best(engineRuns) / e1.qps).toFixed(2)}×`);
