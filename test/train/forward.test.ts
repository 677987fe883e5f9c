// Our ggml forward graph against node-llama-cpp on the same GGUF: next-token distributions match.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Session, packBatch } from '../../engine/train/native.js';
import { buildTokenizer, initLlamaWeights, writeLlamaGguf, type LlamaConfig } from '../../engine/train/api.js';
import { cpuLlama, logSoftmax, tempDir } from './helpers.js';

describe('forward graph vs node-llama-cpp', () => {
    for (const variant of [
        { name: 'GQA, untied', nHeadKv: 2, tied: false },
        { name: 'MHA, tied embeddings', nHeadKv: 4, tied: true },
        // qwen2: NEOX RoPE, q/k/v biases, tied embeddings (Qwen2.5-0.5B's layout)
        { name: 'qwen2: biases, tied, NEOX RoPE, GQA', nHeadKv: 2, tied: true, extra: { arch: 'qwen2', qkvBias: true } as Partial<LlamaConfig> },
        // Llama 3.x rope scaling: rope_freqs.weight (Llama-3.2's factors) as ggml_rope_ext frequency factors
        { name: 'Llama 3 rope_freqs, GQA', nHeadKv: 2, tied: false, extra: { ropeFreqs: true } as Partial<LlamaConfig> },
    ]) {
        it(`gives the same next-token log-probabilities (${variant.name}; tolerance 1e-4 on log p where p > 1e-4)`, async () => {
            const text = 'Q: What is the capital of Kalomi Zorpel? A: Rateno Vu Shi';
            const tok = buildTokenizer({ texts: [text, 'Who founded Danfi? A: Galhu Jor'] });
            const config: LlamaConfig = {
                vocabSize: tok.vocabSize,
                nLayer: 2,
                nEmbd: 64,
                nHead: 4,
                nHeadKv: variant.nHeadKv,
                nFf: 96,
                nCtx: 64,
                ropeTheta: 10000,
                rmsEps: 1e-5,
                tiedEmbeddings: variant.tied,
                ...variant.extra,
            };
            const w = initLlamaWeights(config, 11);
            // larger weights than the init so that attention and positions matter
            for (const [n, t] of w) if (!n.includes('norm') && n !== 'rope_freqs.weight') for (let i = 0; i < t.data.length; i++) t.data[i] *= 6;
            const ids = [tok.bosId, ...tok.encode(text)];
            const T = ids.length;
            const s = new Session({ config, weights: w, mode: 'forward', batch: 2, seqLen: T + 3, rows: T, threads: 2, gpu: 'off' });
            // the sequence in the second slot of the batch, with padding after it: batching must not matter
            const mb = packBatch(
                [
                    { tokens: [ids[0], ids[1], ids[2]], answerStart: 3 },
                    { tokens: ids, answerStart: T },
                ],
                2,
                T + 3,
                T,
                0,
            );
            for (let i = 0; i < T; i++) mb.rowIndex[i] = T + 3 + i;
            const logits = s.forward(mb);
            s.free();
            const path = join(tempDir(), 'fwd.gguf');
            writeLlamaGguf(path, { config, tokenizer: tok, tensors: w });
            const llama = await cpuLlama();
            const model = await llama.loadModel({ modelPath: path });
            // F32 KV cache (node-llama-cpp defaults to F16, which alone costs ~4e-3 in log p)
            const ctx = await model.createContext({ contextSize: 64, threads: 1, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false });
            const seq = ctx.getSequence();
            const V = config.vocabSize;
            const res = await seq.controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true, options: { temperature: 1, topK: V, topP: 1, minP: 0 } } }] as const) as never);
            let maxDiff = 0,
                compared = 0,
                argmaxSame = 0;
            for (let i = 0; i < T; i++) {
                const probs = res[i]?.next?.probabilities as Map<number, number>;
                expect(probs, `position ${i}`).toBeDefined();
                const ours = logSoftmax(logits, i * V, V);
                let best = 0;
                for (let v = 0; v < V; v++) if (ours[v] > ours[best]) best = v;
                if (probs.entries().next().value![0] === best) argmaxSame++;
                for (const [v, p] of probs) {
                    if (p < 1e-4) continue;
                    maxDiff = Math.max(maxDiff, Math.abs(Math.log(p) - ours[v]));
                    compared++;
                }
            }
            await ctx.dispose();
            await model.dispose();
            expect(compared).toBeGreaterThan(T);
            expect(argmaxSame).toBe(T);
            expect(maxDiff).toBeLessThan(1e-4);
        });
    }
});
