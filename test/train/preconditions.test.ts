// Bad inputs are clear TrainErrors raised in TypeScript before any native code runs.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildTokenizer, initLlamaWeights, writeLlamaGguf, writeGguf, readGguf, trainModel, checkJob, TrainError, type LlamaConfig, type TrainJob } from '../../engine/train/api.js';
import { makeFacts, tempDir } from './helpers.js';

const facts = makeFacts(6, 4);
const tok = buildTokenizer({ texts: facts.flatMap((f) => [f.prompt, f.answer]) });
const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 1, nEmbd: 32, nHead: 2, nHeadKv: 2, nFf: 64, nCtx: 48, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: true };
const job = (over: Partial<TrainJob>): TrainJob => ({
    base: { init: { config, tokenizer: tok.data, seed: 1 } },
    examples: facts,
    mode: 'full',
    epochs: 1,
    lr: 1e-3,
    seed: 1,
    threads: 1,
    outDir: tempDir(),
    ...over,
});

async function rejects(j: TrainJob, re: RegExp) {
    const err = await trainModel(j).catch((e) => e);
    expect(err).toBeInstanceOf(TrainError);
    expect((err as TrainError).code).toBe('precondition');
    expect((err as Error).message).toMatch(re);
}

describe('preconditions', () => {
    it('empty dataset', () => rejects(job({ examples: [] }), /dataset is empty/));
    it('example longer than the context', () =>
        rejects(job({ base: { init: { config: { ...config, nCtx: 8 }, tokenizer: tok.data, seed: 1 } } }), /example 1 \(\d+ tokens\) is longer than the model's context \(8 tokens\)/));
    it('text the tokenizer cannot encode', async () => {
        // a vocabulary without byte fallback: unknown characters become <unk>
        const d = tok.data;
        const keep = d.tokens.map((t, i) => !/^<0x[0-9A-F]{2}>$/.test(t) || i < 3);
        const noBytes = { ...d, tokens: d.tokens.filter((_, i) => keep[i]), scores: d.scores.filter((_, i) => keep[i]), types: d.types.filter((_, i) => keep[i]) };
        await rejects(
            job({ base: { init: { config: { ...config, vocabSize: noBytes.tokens.length }, tokenizer: noBytes, seed: 1 } }, examples: [{ prompt: 'Q: Où est 東京?', answer: 'Ici' }] }),
            /cannot encode "Q: Où est 東京\? Ici"/,
        );
    });
    it('quantized weights', async () => {
        const path = join(tempDir(), 'q.gguf');
        writeLlamaGguf(path, { config, tokenizer: tok, tensors: initLlamaWeights(config, 1) });
        const g = readGguf(path);
        // the same model with one Q8_0 matrix (34 bytes per block of 32)
        const tensors = g.tensors.map((t) =>
            t.name === 'blk.0.ffn_up.weight'
                ? { name: t.name, shape: t.shape, data: new Uint8Array(((t.shape[0] * t.shape[1]) / 32) * 34), type: { ggml: 8 } }
                : { name: t.name, shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) },
        );
        const qpath = join(tempDir(), 'q8.gguf');
        writeGguf(qpath, g.typed, tensors);
        await rejects(job({ base: qpath }), /quantized weights \(blk\.0\.ffn_up\.weight is Q8_0\); full fine-tuning needs F32, F16 or BF16 weights/);
    });
    it('unsupported architecture', async () => {
        const path = join(tempDir(), 'gpt2.gguf');
        writeLlamaGguf(path, { config, tokenizer: tok, tensors: initLlamaWeights(config, 1) });
        const g = readGguf(path);
        const md = g.typed.map(([k, v]) => (k === 'general.architecture' ? [k, { type: 'string', value: 'gpt2' }] : [k, v]) as [string, typeof v]);
        const p2 = join(tempDir(), 'arch.gguf');
        writeGguf(
            p2,
            md,
            g.tensors.map((t) => ({ name: t.name, shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) })),
        );
        const err = await trainModel(job({ base: p2 })).catch((e) => e);
        expect((err as Error).message).toMatch(/architecture "gpt2" is not supported/);
    });
    it('not enough memory for the batch', () =>
        rejects(
            job({ base: { init: { config: { ...config, nEmbd: 8192, nHead: 64, nHeadKv: 64, nFf: 32768, nLayer: 8 }, tokenizer: tok.data, seed: 1 } } }),
            /not enough memory: about [\d.]+ GiB needed/,
        ));
    it('LoRA accepts a quantized base but names a tensor type without a backward pass', async () => {
        const path = join(tempDir(), 'f32.gguf');
        writeLlamaGguf(path, { config, tokenizer: tok, tensors: initLlamaWeights(config, 1) });
        const g = readGguf(path);
        const withType = (type: number, bytesPerBlock: number) => {
            const p = join(tempDir(), `t${type}.gguf`);
            writeGguf(
                p,
                g.typed,
                g.tensors.map((t) =>
                    t.name === 'blk.0.ffn_up.weight'
                        ? { name: t.name, shape: t.shape, data: new Uint8Array(((t.shape[0] * t.shape[1]) / 32) * bytesPerBlock), type: { ggml: type } }
                        : { name: t.name, shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) },
                ),
            );
            return p;
        };
        const lora = { rank: 2, alpha: 4 };
        const ok = await checkJob(job({ base: withType(8, 34), mode: 'lora', lora })); // Q8_0
        expect(ok.config.nLayer).toBe(1);
        await rejects(
            job({ base: withType(9, 36), mode: 'lora', lora }),
            /t9\.gguf: tensor blk\.0\.ffn_up\.weight is Q8_1, a type the trainer has no backward pass for; LoRA bases may be F32, F16, BF16, Q4_0/,
        ); // Q8_1
    });
    it('a quantized row that is not a whole number of blocks (ggml would abort)', async () => {
        const c48 = { ...config, nFf: 48 };
        const path = join(tempDir(), 'f32.gguf');
        writeLlamaGguf(path, { config: c48, tokenizer: tok, tensors: initLlamaWeights(c48, 1) });
        const g = readGguf(path);
        // ffn_down is [48, 32]: 1536 values = 48 Q8_0 blocks in all, but rows of 48 values split blocks
        const p = join(tempDir(), 'ragged.gguf');
        writeGguf(
            p,
            g.typed,
            g.tensors.map((t) =>
                t.name === 'blk.0.ffn_down.weight'
                    ? { name: t.name, shape: t.shape, data: new Uint8Array(((48 * 32) / 32) * 34), type: { ggml: 8 } }
                    : { name: t.name, shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) },
            ),
        );
        await rejects(
            job({ base: p, mode: 'lora', lora: { rank: 2, alpha: 4 } }),
            /ragged\.gguf: tensor blk\.0\.ffn_down\.weight is Q8_0 with rows of 48 values, not a multiple of its 32-value blocks/,
        );
    });
    it('a native abort in the child becomes a TrainError with the native output; the parent lives on', async () => {
        process.env.MISMATCH_TRAIN_SELFTEST = 'native-abort';
        try {
            const err = await trainModel(job({})).catch((e) => e);
            expect(err).toBeInstanceOf(TrainError);
            expect((err as TrainError).code).toBe('crash');
            expect((err as Error).message).toMatch(/killed by SIGABRT: .*GGML_ASSERT/);
            expect((err as TrainError).nativeOutput.join('\n')).toMatch(/GGML_ASSERT/);
        } finally {
            delete process.env.MISMATCH_TRAIN_SELFTEST;
        }
        // and the next job trains normally
        const ok = await trainModel(job({ maxSteps: 1 }));
        expect(ok.steps).toBe(1);
    });
    it('bad settings', async () => {
        await rejects(job({ lr: 0 }), /learning rate must be > 0/);
        await rejects(job({ mode: 'lora' }), /LoRA needs an integer rank/);
        await rejects(job({ base: '/nonexistent/model.gguf' }), /does not exist/);
        const r = await checkJob(job({ validationShare: 0.34 }));
        expect(r.train.length + r.validation.length).toBe(6);
        expect(r.validation.length).toBe(2);
    });
});
