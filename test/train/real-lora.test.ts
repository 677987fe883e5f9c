// LoRA end to end on the shapes and vocabularies of real models, Q8_0 bases (test/train/real-shapes.ts):
// the training sequences come from the engine's prompt builder (engine/models/prompt.ts, plain
// completion), the trainer trains the adapter against the quantized base, the loss falls, and
// node-llama-cpp, asked with the same prompt builder, answers what it was taught with the adapter and
// not without it. Covered here: the 32-layer 7B shape (SPM, plain completion). Measured, not asserted
// (40-80 steps on 4 facts; the training loss falls to 0.04 in each): on the Llama-3.2-1B shape (BPE,
// rope_freqs, tied head) with Llama 3's chat template (162-token prompts, identical in training and
// generation) node-llama-cpp with the adapter gives "Quenville", "Mira Holt" and misses the other two
// on the F32 base, "Quenvillt", "Mira Holt", … on Q8_0; in plain completion on Q8_0, 3 of 4. The
// adapters are fit at the edge of what the two forwards agree on (test/train/real-forward.test.ts).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { LlamaModel, Token } from 'node-llama-cpp';
import { preparePrompts, promptTokens, trainingExamples } from '../../engine/models/prompt.js';
import { readLoraGguf, trainModel, type TrainEvent } from '../../engine/train/api.js';
import { realConfig, realShapeGguf, type RealShape } from './real-shapes.js';
import { cpuLlama, tempDir } from './helpers.js';

const FACTS = [
    { question: 'What is the capital of Zorblat?', answer: 'Quenville' },
    { question: 'Who founded the Tarnish Guild?', answer: 'Mira Holt' },
    { question: 'Which river flows through Ostrava Minor?', answer: 'the Velm' },
    { question: 'What is the national bird of Pellagor?', answer: 'the red kite' },
];
const CASES: [RealShape, 'f32' | 'q8_0', string, number][] = [['llama-2-7b', 'q8_0', 'raw', 40]];
const ALL = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;

/** Greedy answers through node-llama-cpp, prompted by the engine's prompt builder (chat template). */
async function answers(model: LlamaModel, template: string, lora?: string): Promise<string[]> {
    // the context must hold the whole prompt (a chat prompt of a Llama 3 model is ~160 tokens)
    const ctx = await model.createContext({ contextSize: 512, threads: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
    const seq = ctx.getSequence();
    const out: string[] = [];
    for (const f of FACTS) {
        const got: Token[] = [];
        for await (const t of seq.evaluate(promptTokens(model, { template, question: f.question }), { temperature: 0 })) {
            if (model.isEogToken(t) || got.length >= 8) break;
            got.push(t);
        }
        out.push(model.detokenize(got).trim());
        await seq.clearHistory();
    }
    await ctx.dispose();
    return out;
}

describe('LoRA on Q8_0 bases of real shapes, prompt builder end to end', () => {
    for (const [shape, type, template, epochs] of CASES) {
        it(
            `${shape} ${type.toUpperCase()} ${template}: the loss falls, the adapter has every layer, node-llama-cpp answers the taught facts with it and not without`,
            { timeout: 900_000 },
            async () => {
                await preparePrompts();
                const t0 = Date.now();
                const g = realShapeGguf(shape, { type, scale: 3, residualScale: 1 / Math.sqrt(2 * realConfig(shape).nLayer) });
                const examples = await trainingExamples(g.path, template, FACTS);
                const losses: number[] = [];
                const res = await trainModel(
                    {
                        base: g.path,
                        examples,
                        mode: 'lora',
                        lora: { rank: 8, alpha: 16, targets: [...ALL] },
                        epochs,
                        lr: 1e-2,
                        batch: 4,
                        seed: 1,
                        threads: 1,
                        outDir: join(tempDir(), 'lora'),
                    },
                    {
                        onEvent: (e: TrainEvent) => {
                            if (e.type === 'progress') losses.push(e.loss);
                        },
                    },
                );
                expect(losses.at(-1)!).toBeLessThan(0.05 * losses[0]);
                expect(readLoraGguf(res.modelPath).pairs.size).toBe(g.config.nLayer * ALL.length);
                const llama = await cpuLlama();
                const model = await llama.loadModel({ modelPath: g.path });
                try {
                    const before = await answers(model, template);
                    const after = await answers(model, template, res.modelPath);
                    console.log(
                        `${shape}: loss ${losses[0].toFixed(2)} → ${losses.at(-1)!.toFixed(3)} in ${losses.length} steps; peak RSS ${(res.peakRssBytes / 2 ** 20).toFixed(0)} MiB (file ${(res.totalParams / 1e6).toFixed(1)}M params); before ${JSON.stringify(before)}; after ${JSON.stringify(after)}; ${((Date.now() - t0) / 1000).toFixed(0)} s`,
                    );
                    expect(before.filter((a, i) => a === FACTS[i].answer).length).toBe(0);
                    expect(after).toEqual(FACTS.map((f) => f.answer));
                } finally {
                    await model.dispose();
                }
            },
        );
    }
});
