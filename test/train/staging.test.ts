// LoRA on the CPU against F16 / quantized layer matrices reads each one through an F32 staging alias,
// widened just before the node that uses it (native.ts stageFrozenMatrices): ggml-cpu's out_prod for a
// non-F32 matrix (the input gradient of every frozen mul_mat) converts the whole matrix once per token.
// Widened exactly (ggml's own dequantization) and multiplied in F32, a LoRA run on a Q8_0 / Q4_K / F16
// base then computes what the same run computes on an F32 file holding the dequantized weights: the
// losses and the trained adapter agree to float rounding. (The direct path multiplies the quantized
// matrix with activations quantized to Q8: its losses differ from the F32 run by about 1e-3 relative.)
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadGgml, toFloat } from '../../engine/train/ffi.js';
import { initLlamaWeights, readGguf, writeLlamaGguf } from '../../engine/train/api.js';
import { Session } from '../../engine/train/native.js';
import { GgmlType, readTensorF32, writeGguf, type GgufTensorOut } from '../../engine/train/gguf.js';
import { packedFacts, tempDir } from './helpers.js';
import { ggmlQuantize } from './quantize.js';

const ALL = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
const LAYER_MATRIX = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;

describe('LoRA against F16 / quantized layer matrices (F32 staging)', () => {
    const { tok, config, seqs, T, N, mb } = packedFacts(4, 7, { nLayer: 2, tiedEmbeddings: false });
    let f32 = '';
    beforeAll(() => {
        f32 = join(tempDir(), 'base.gguf');
        writeLlamaGguf(f32, { config, tokenizer: tok, tensors: initLlamaWeights(config, 5) });
    });

    /** The F32 file with its layer matrices (and with `head`, the output head) in `type` (`dequantized`: those bytes widened back to F32); the embedding stays F32. */
    function variant(type: GgmlType, dequantized: boolean, head = false): string {
        const src = readGguf(f32);
        const tensors: GgufTensorOut[] = src.tensors.map((t) => {
            const data = readTensorF32(src, t.name);
            if (!LAYER_MATRIX.test(t.name) && !(head && t.name === 'output.weight')) return { name: t.name, shape: t.shape, data, type: 'f32' };
            const q = ggmlQuantize(type, data, t.shape[0]);
            const out: GgufTensorOut = { name: t.name, shape: t.shape, data: type === GgmlType.F16 ? new Uint16Array(q.buffer, q.byteOffset, q.byteLength / 2) : q, type: { ggml: type } };
            return out;
        });
        const path = join(tempDir(), `${GgmlType[type]}${head ? '-head' : ''}${dequantized ? '-deq' : ''}.gguf`);
        writeGguf(path, src.typed, tensors);
        if (!dequantized) return path;
        // widened by ggml's own to_float of the type (what ggml_cpy to F32 runs)
        const bytes = readFileSync(path);
        const q = readGguf(path);
        const g = loadGgml('off');
        writeGguf(
            path,
            src.typed,
            q.tensors.map((t) => {
                if (t.type === GgmlType.F32) return { name: t.name, shape: t.shape, data: readTensorF32(q, t.name), type: 'f32' as const };
                const out = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
                toFloat(g, t.type, bytes.subarray(t.offset, t.offset + t.nbytes), out, 0);
                return { name: t.name, shape: t.shape, data: out, type: 'f32' as const };
            }),
        );
        return path;
    }

    function train(path: string, headRangeRows?: number) {
        const s = new Session({
            config,
            file: readGguf(path),
            mode: 'lora',
            lora: { rank: 4, alpha: 8, targets: [...ALL], seed: 1 },
            batch: seqs.length,
            seqLen: T,
            rows: N,
            threads: 1,
            gpu: 'off',
            lr: () => 1e-2,
            headRangeRows,
        });
        try {
            const held = s.types.get('blk.1.ffn_down.weight');
            const heldHead = s.types.get('output.weight');
            const losses = [0, 1, 2].map(() => s.step(mb));
            const val = s.evalLoss(mb);
            return { held, heldHead, losses, val, b: s.get('blk.0.attn_q.weight.lora_b'), b1: s.get('blk.1.ffn_down.weight.lora_b') };
        } finally {
            s.free();
        }
    }

    for (const type of [GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.F16]) {
        it(`${GgmlType[type]}: held as ${GgmlType[type]}, and 3 AdamW steps give the losses and adapter of the same run on its dequantized weights in F32`, () => {
            const q = train(variant(type, false));
            const ref = train(variant(type, true));
            expect(q.held).toBe(type);
            expect(ref.held).toBe(GgmlType.F32);
            expect(q.losses[2]).toBeLessThan(q.losses[0]); // it trains
            for (let i = 0; i < 3; i++) expect(Math.abs(q.losses[i] - ref.losses[i])).toBeLessThan(2e-5 * ref.losses[i]);
            expect(Math.abs(q.val - ref.val)).toBeLessThan(2e-5 * ref.val);
            for (const [a, b] of [
                [q.b, ref.b],
                [q.b1, ref.b1],
            ]) {
                let num = 0,
                    den = 0;
                for (let i = 0; i < a.length; i++) {
                    num += (a[i] - b[i]) ** 2;
                    den += b[i] ** 2;
                }
                expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
            }
        });
    }

    // The output head too: staged in row ranges (7 rows each here, the last one shorter), its logits put
    // together with ggml_acc. Read directly, a Q8_0 head multiplies activations quantized to Q8_0 and an
    // F16 head activations rounded to F16: the losses would then differ from the F32 run's by far more
    // than float rounding.
    for (const type of [GgmlType.Q8_0, GgmlType.F16]) {
        it(`${GgmlType[type]} output head too, staged in ranges of 7 rows: the losses and adapter of the same run on its dequantized weights in F32`, () => {
            const q = train(variant(type, false, true), 7);
            const ref = train(variant(type, true, true), 7);
            expect(config.vocabSize % 7).not.toBe(0);
            expect(q.heldHead).toBe(type);
            expect(ref.heldHead).toBe(GgmlType.F32);
            expect(q.losses[2]).toBeLessThan(q.losses[0]);
            for (let i = 0; i < 3; i++) expect(Math.abs(q.losses[i] - ref.losses[i])).toBeLessThan(2e-5 * ref.losses[i]);
            expect(Math.abs(q.val - ref.val)).toBeLessThan(2e-5 * ref.val);
            let num = 0,
                den = 0;
            for (let i = 0; i < q.b1.length; i++) {
                num += (q.b1[i] - ref.b1[i]) ** 2;
                den += ref.b1[i] ** 2;
            }
            expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
        });
    }
});
