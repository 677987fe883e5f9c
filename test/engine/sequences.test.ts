// Batched generation must not change answers: the same greedy questions answered with 1 and with 8
// parallel sequences of one context give the same texts (and nearly the same log-probabilities).
// Regression: node-llama-cpp 3.21.1 samples the sequences concurrently on libuv's pool and llama.cpp's
// output reorder is not thread-safe, so a sequence could take another's logits (engine/models/local.ts).
import { describe, expect, it } from 'vitest';
import { LocalGenerator } from '../../engine/models/local.js';
import { LARGE_VOCABULARY, makeTinyModel, QUESTIONS, tempDir } from './fixtures.js';
import { greedy } from './plan-helpers.js';

const dir = tempDir('mm-seq-');
// fixtures.ts's tiny model with a ~16k-token vocabulary: sampling over a real-sized vocabulary takes
// long enough for the concurrent samplers to overlap (a 300-token one rarely does).
const model = makeTinyModel(dir, 3, 'seq', [...QUESTIONS.map((q) => q.question), ...LARGE_VOCABULARY]);
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
