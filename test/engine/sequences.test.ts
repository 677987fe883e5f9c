// Batched generation must not change answers: the same greedy questions answered with 1 and with 8
// parallel sequences of one context give the same texts (and nearly the same log-probabilities).
// Regression: node-llama-cpp 3.21.1 samples the sequences concurrently on libuv's pool and llama.cpp's
// output reorder is not thread-safe, so a sequence could take another's logits (engine/models/local.ts).
import { describe, expect, it } from 'vitest';
import { LocalGenerator } from '../../engine/models/local.js';
import { join } from 'node:path';
import { buildTokenizer, initLlamaWeights, writeLlamaGguf, DEFAULT_RMS_EPS, DEFAULT_ROPE_THETA } from '../../engine/train/api.js';
import { QUESTIONS, tempDir } from './fixtures.js';
import { greedy } from './plan-helpers.js';

const dir = tempDir('mm-seq-');
// A random-weight model like fixtures.ts's tiny one but with a ~16k-token vocabulary: sampling over a
// real-sized vocabulary takes long enough for the concurrent samplers to overlap (a 300-token one rarely does).
const model = (() => {
    const tokenizer = buildTokenizer([...QUESTIONS.map((q) => q.question), ...Array.from({ length: 8000 }, (_, i) => `w${i} v${i}`)]);
    const config = { vocabSize: tokenizer.vocabSize, nLayer: 1, nEmbd: 32, nHead: 2, nHeadKv: 2, nFf: 64, nCtx: 128, ropeTheta: DEFAULT_ROPE_THETA, rmsEps: DEFAULT_RMS_EPS, tiedEmbeddings: false };
    const path = join(dir, 'seq.gguf');
    writeLlamaGguf(path, { config, tokenizer, tensors: initLlamaWeights(config, 3), name: 'seq' });
    return path;
})();
// 72 questions (the 24 fixture questions three times under different ids, so every sequence is reused).
const items = [0, 1, 2].flatMap((r) => QUESTIONS.map((q) => ({ id: `${q.id}-${r}`, question: q.question })));

async function answers(sequences: number) {
    const g = await LocalGenerator.start({ modelPath: model, gpu: false, threads: 1, sequences, contextSize: 128 });
    try {
        const r = await g.generate(items, { ...greedy, maxTokens: 12 });
        return new Map(r.map((x) => [x.id, x]));
    } finally {
        await g.close();
    }
}

describe('parallel sequences', () => {
    it('give the 1-sequence answers', async () => {
        const one = await answers(1);
        for (let round = 0; round < 3; round++) {
            const many = await answers(8);
            for (const { id } of items) {
                const a = one.get(id)!;
                const b = many.get(id)!;
                expect(b.text, id).toBe(a.text);
                expect(b.logprobs!.length).toBe(a.logprobs!.length);
                // Batched matrix products round differently from single-token ones (~1e-5 here); another sequence's logits differ by far more.
                b.logprobs!.forEach((lp, k) => expect(Math.abs(lp - a.logprobs![k]), `${id} token ${k}`).toBeLessThan(1e-3));
            }
        }
    }, 240_000);
});
