// Deep models and quantized bases. Any depth: each step builds its graph with ggml_new_graph_custom
// sized from the model and trains through ggml_opt's dynamic path (ggml_opt's static graph holds about
// 500 forward nodes: 8 LoRA layers on 7 matrices, 12 full layers). Quantized bases: the frozen matrices
// stay Q8_0 / Q4_K / Q6_K in ggml's buffers, and LoRA trains against them.
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { buildTokenizer, initLlamaWeights, readGguf, readLoraGguf, trainModel, writeLlamaGguf, type LlamaConfig, type TrainEvent, type TrainJob } from '../../engine/train/api.js';
import { Session } from '../../engine/train/native.js';
import { GgmlType } from '../../engine/train/gguf.js';
import { readLlamaGgufInfo } from '../../engine/train/llama.js';
import { cpuLlama, greedyAccuracy, makeFacts, packedFacts, tempDir } from './helpers.js';
import { quantizeGguf } from './quantize.js';

// Tests train on the CPU; bench/gpu.sh sets MISMATCH_TEST_GPU=cuda to run the same cases on a GPU.
const TEST_GPU = (process.env.MISMATCH_TEST_GPU ?? 'off') as 'off' | 'cuda' | 'vulkan' | 'auto';

const ALL = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;

/** Step losses of a run, from its progress events. */
async function stepLosses(job: TrainJob): Promise<{ losses: number[]; res: Awaited<ReturnType<typeof trainModel>> }> {
    const losses: number[] = [];
    const res = await trainModel(
        { gpu: TEST_GPU, ...job },
        {
            onEvent: (e: TrainEvent) => {
                if (e.type === 'progress') losses.push(e.loss);
            },
        },
    );
    return { losses, res };
}

describe('any depth', () => {
    const facts = makeFacts(8, 3);
    const tok = buildTokenizer({ texts: facts.flatMap((f) => [f.prompt, f.answer]) });
    // 32 layers (LLaMA-7B's depth) at reduced width, with GQA (4 query heads on 2 kv heads)
    const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 32, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtx: 48, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false };

    it('full training of a 32-layer model: every step runs and the loss falls', { timeout: 300_000 }, async () => {
        const { losses, res } = await stepLosses({
            base: { init: { config, tokenizer: tok.data, seed: 2 } },
            examples: facts,
            mode: 'full',
            epochs: 6,
            lr: 2e-3,
            batch: 8,
            seed: 1,
            threads: 1,
            outDir: tempDir(),
        });
        expect(res.steps).toBe(6);
        expect(losses.length).toBe(6);
        // the same 8 examples every step: the loss of the last step is well below the first one's
        expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]);
    });

    it('LoRA on all 7 matrices of a 32-layer model: every step runs, the loss falls, the adapter has all 224 pairs', { timeout: 300_000 }, async () => {
        const base = join(tempDir(), 'deep.gguf');
        writeLlamaGguf(base, { config, tokenizer: tok, tensors: initLlamaWeights(config, 4) });
        const { losses, res } = await stepLosses({
            base,
            examples: facts,
            mode: 'lora',
            lora: { rank: 4, alpha: 8, targets: [...ALL] },
            epochs: 6,
            lr: 1e-2,
            batch: 8,
            seed: 1,
            threads: 1,
            outDir: tempDir(),
        });
        expect(res.steps).toBe(6);
        expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]);
        expect(readLoraGguf(res.modelPath).pairs.size).toBe(32 * 7);
    });
});

describe('LoRA on a quantized base', () => {
    const facts = makeFacts(6, 11);
    const tok = buildTokenizer({ texts: facts.flatMap((f) => [f.prompt, f.answer]) });
    // K-quants need rows of 256 values: width 256, FFN 512, head size 64 (4 heads, 2 kv heads)
    const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 256, nHead: 4, nHeadKv: 2, nFf: 512, nCtx: 48, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false };

    const cases: [string, GgmlType, Record<string, GgmlType>][] = [
        ['Q8_0', GgmlType.Q8_0, {}],
        // as in Q4_K_M files: Q4_K matrices, a Q6_K output head
        ['Q4_K', GgmlType.Q4_K, { 'output.weight': GgmlType.Q6_K }],
    ];
    for (const [label, type, overrides] of cases) {
        it(`${label}: the base is held in its own type, a LoRA step runs, the loss falls, the adapter loads in node-llama-cpp and changes its output`, { timeout: 300_000 }, async () => {
            const dir = tempDir();
            const f32 = join(dir, 'base-f32.gguf');
            writeLlamaGguf(f32, { config, tokenizer: tok, tensors: initLlamaWeights(config, 9) });
            const qpath = join(dir, `base-${label}.gguf`);
            quantizeGguf(f32, qpath, type, overrides);
            const file = readGguf(qpath);
            expect(file.tensors.find((t) => t.name === 'blk.1.ffn_down.weight')!.type).toBe(type);

            // the session keeps every matrix in the file's type: its weight buffer is about the file's size
            // (F32 would be 4× the Q8_0 file, 7× the Q4_K one)
            const s = new Session({
                config: readLlamaGgufInfo(qpath).config,
                file,
                mode: 'lora',
                lora: { rank: 4, alpha: 8, targets: [...ALL], seed: 1 },
                batch: 1,
                seqLen: 8,
                rows: 1,
                threads: 1,
                gpu: TEST_GPU,
            });
            try {
                for (const t of file.tensors) expect(s.types.get(t.name), t.name).toBe(t.shape.length === 1 ? GgmlType.F32 : t.type);
                const loraBytes = s.trainable.reduce((a, n) => a + s.get(n).length * 4, 0);
                expect(s.weightBytes - loraBytes).toBeLessThan(statSync(qpath).size * 1.1);
            } finally {
                s.free();
            }

            const { losses, res } = await stepLosses({
                base: qpath,
                examples: facts,
                mode: 'lora',
                lora: { rank: 8, alpha: 16, targets: [...ALL] },
                epochs: 40,
                lr: 1e-2,
                batch: 6,
                seed: 1,
                threads: 1,
                outDir: join(dir, 'lora'),
            });
            expect(losses.at(-1)!).toBeLessThan(0.3 * losses[0]);

            const llama = await cpuLlama();
            const model = await llama.loadModel({ modelPath: qpath });
            try {
                const without = await greedyAccuracy(model, facts);
                const withLora = await greedyAccuracy(model, facts, res.modelPath);
                expect(without).toBe(0);
                expect(withLora).toBeGreaterThanOrEqual(0.5);
            } finally {
                await model.dispose();
            }
        });
    }
});

describe('every LoRA base type trains', () => {
    const { tok, config, seqs, T, N, mb } = packedFacts(4, 5, { nLayer: 1, tiedEmbeddings: true });
    let f32 = '';
    beforeAll(() => {
        f32 = join(tempDir(), 'base.gguf');
        writeLlamaGguf(f32, { config, tokenizer: tok, tensors: initLlamaWeights(config, 3) });
    });
    // BF16 is widened to F32 (ggml-cpu has no out_prod for BF16); every other type stays as it is
    for (const [type, held] of [
        [GgmlType.F16, GgmlType.F16],
        [GgmlType.BF16, GgmlType.F32],
        [GgmlType.Q4_0, GgmlType.Q4_0],
        [GgmlType.Q5_K, GgmlType.Q5_K],
        [GgmlType.Q6_K, GgmlType.Q6_K],
    ] as const) {
        it(`${GgmlType[type]} base (tied head): held as ${GgmlType[held]}, 4 AdamW steps lower the loss`, () => {
            const path = join(tempDir(), `${GgmlType[type]}.gguf`);
            quantizeGguf(f32, path, type);
            const file = readGguf(path);
            const s = new Session({
                config,
                file,
                mode: 'lora',
                lora: { rank: 4, alpha: 8, targets: [...ALL], seed: 1 },
                batch: seqs.length,
                seqLen: T,
                rows: N,
                threads: 1,
                gpu: TEST_GPU,
                lr: () => 1e-2,
            });
            try {
                expect(s.types.get('token_embd.weight')).toBe(held);
                expect(s.types.get('blk.0.ffn_down.weight')).toBe(held);
                const losses = [0, 1, 2, 3].map(() => s.step(mb));
                for (const l of losses) expect(Number.isFinite(l)).toBe(true);
                expect(s.evalLoss(mb)).toBeLessThan(0.8 * losses[0]);
            } finally {
                s.free();
            }
        });
    }
});
