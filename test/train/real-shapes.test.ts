// The real-model fixtures (test/train/real-shapes.ts) are what the deep/quantized tests stand on:
// node-llama-cpp must load each one as the model it imitates (architecture, layers, heads, vocabulary
// size, special tokens, chat template) and tokenize text with its vocabulary; our reader must give the
// same config; our SPM tokenizer must equal llama.cpp's on the 32,000-token vocabulary.
import { describe, expect, it } from 'vitest';
import { readGguf } from '../../engine/train/gguf.js';
import { GgmlType } from '../../engine/train/gguf.js';
import { readLlamaGgufInfo, dequantizeQ8_0, quantizeQ8_0 } from '../../engine/train/llama.js';
import { realConfig, realShapeGguf, REAL_SHAPES, type RealShape } from './real-shapes.js';
import { cpuLlama } from './helpers.js';

const SENTENCE = 'What is the capital of France? The capital of France is Paris.';

/** What each fixture must look like to node-llama-cpp (from the models' own config.json / GGUF files). */
const EXPECT: Record<RealShape, { arch: string; layers: number; heads: number; kvHeads: number; vocab: number; bos: number | null; eos: number; eotText?: string; chat: boolean }> = {
    'llama-3.2-1b': { arch: 'llama', layers: 16, heads: 32, kvHeads: 8, vocab: 128256, bos: 128000, eos: 128009, eotText: '<|eot_id|>', chat: true },
    'qwen2.5-0.5b': { arch: 'qwen2', layers: 24, heads: 14, kvHeads: 2, vocab: 151936, bos: 151643, eos: 151645, eotText: '<|im_end|>', chat: true },
    'tinyllama-1.1b': { arch: 'llama', layers: 22, heads: 32, kvHeads: 4, vocab: 32000, bos: 1, eos: 2, chat: false },
    'llama-2-7b': { arch: 'llama', layers: 32, heads: 32, kvHeads: 32, vocab: 32000, bos: 1, eos: 2, chat: false },
};

describe('real-model fixtures load in node-llama-cpp as the models they imitate', () => {
    for (const shape of REAL_SHAPES) {
        it(`${shape}: architecture, depth, heads, vocabulary, special tokens, tokenization`, async () => {
            const e = EXPECT[shape];
            const g = realShapeGguf(shape, { type: 'f16' });
            const llama = await cpuLlama();
            const model = await llama.loadModel({ modelPath: g.path });
            try {
                const md = model.fileInfo.metadata as unknown as Record<string, Record<string, unknown>>;
                expect(md.general.architecture).toBe(e.arch);
                const a = model.fileInfo.architectureMetadata as unknown as { block_count: number; attention: { head_count: number; head_count_kv: number } };
                expect([a.block_count, a.attention.head_count, a.attention.head_count_kv]).toEqual([e.layers, e.heads, e.kvHeads]);
                expect(model.fileInsights.totalLayers).toBe(e.layers + 1);
                expect(model.tokens.bos).toBe(e.bos);
                expect(model.tokens.eos).toBe(e.eos);
                if (e.eotText) expect(model.detokenize([model.tokens.eot!], true)).toBe(e.eotText);
                expect(!!(md.tokenizer as Record<string, unknown>).chat_template).toBe(e.chat);
                // tokenization: learned merges make common words whole tokens, text round-trips
                const ids = model.tokenize(SENTENCE);
                expect(model.detokenize(ids)).toBe(SENTENCE);
                const pieces = Array.from(ids, (i) => model.detokenize([i]).trim()).filter((p) => p);
                expect(pieces).toContain('capital');
                expect(pieces).toContain('France');
                expect(ids.length).toBeLessThanOrEqual(18); // 14 words and marks; a word seen once in the corpus may split
                // unseen text still encodes (byte fallback / byte-level), and round-trips
                const odd = 'Zyxqv 東京 🚀 naïve';
                expect(model.detokenize(model.tokenize(odd))).toBe(odd);
                // our reader agrees with the shape table
                const info = readLlamaGgufInfo(g.path);
                expect(info.config).toEqual({ ...realConfig(shape), rmsEps: Math.fround(realConfig(shape).rmsEps) });
                expect(info.config.vocabSize).toBe(e.vocab);
            } finally {
                await model.dispose();
            }
        });
    }

    it('the real widths are the published ones (for memory estimates)', () => {
        const c = realConfig('llama-3.2-1b', { width: 'real' });
        expect([c.nEmbd, c.nFf, c.nLayer, c.vocabSize]).toEqual([2048, 8192, 16, 128256]);
        expect(realConfig('llama-2-7b', { width: 'real' }).nEmbd).toBe(4096);
    });

    it('tinyllama / llama-2 SPM vocabulary: our tokenizer equals llama.cpp on 200 strings', async () => {
        const g = realShapeGguf('tinyllama-1.1b', { type: 'f16', layers: 1 });
        const ours = readLlamaGgufInfo(g.path).tokenizer!;
        const llama = await cpuLlama();
        const model = await llama.loadModel({ modelPath: g.path, vocabOnly: true });
        const words = SENTENCE.split(' ').concat(['Shakespeare', 'Stratford-upon-Avon', 'hallucinate', 'Zorblat', "don't", '8,849', 'déjà']);
        let x = 99;
        const rnd = (n: number) => {
            x = (x * 1103515245 + 12345) % 2147483648;
            return x % n;
        };
        const strings = [SENTENCE, ' leading', 'two  spaces', 'new\nline', ''];
        for (let i = 0; i < 200; i++) strings.push(Array.from({ length: 1 + rnd(6) }, () => words[rnd(words.length)]).join([' ', '', '-'][rnd(3)]));
        for (const s of strings) expect(ours.encode(s), JSON.stringify(s)).toEqual(Array.from(model.tokenize(s)));
        await model.dispose();
    });

    it('Q8_0 files: every matrix is Q8_0, norms and biases F32, and the values are the quantized weights', () => {
        const g = realShapeGguf('qwen2.5-0.5b', { type: 'q8_0', layers: 2 });
        const f = readGguf(g.path);
        const types = new Map(f.tensors.map((t) => [t.name, t.type]));
        expect(types.get('blk.0.attn_q.weight')).toBe(GgmlType.Q8_0);
        expect(types.get('token_embd.weight')).toBe(GgmlType.Q8_0);
        expect(types.get('blk.0.attn_q.bias')).toBe(GgmlType.F32);
        expect(types.get('blk.1.ffn_norm.weight')).toBe(GgmlType.F32);
        expect(f.metadata.get('general.file_type')).toBe(7); // LLAMA_FTYPE_MOSTLY_Q8_0
        // Q8_0 by hand: block max 2.54 → d = 0.02, values round to multiples of d
        const x = new Float32Array(32).map((_, i) => (i - 16) * 0.1587);
        x[31] = 2.54;
        const back = dequantizeQ8_0(quantizeQ8_0(x), 32);
        for (let i = 0; i < 32; i++) expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(0.01 + 1e-5);
        expect(back[31]).toBeCloseTo(2.54, 2);
    });
});
