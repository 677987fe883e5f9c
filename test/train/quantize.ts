// Test models in quantized types, quantized by ggml itself (ggml_quantize_chunk of libggml-base through
// koffi), not by a hand-written quantizer: the bytes are what llama.cpp's quantize would write for the
// same F32 values (without an importance matrix).
import { loadGgml } from '../../engine/train/ffi.js';
import { readGguf, writeGguf, GgmlType, gv, type GgufValue, type GgufTensorOut } from '../../engine/train/gguf.js';
import { readTensorF32 } from '../../engine/train/gguf.js';

/** Bytes of `x` (rows of ne0 values) in ggml type `type`. */
export function ggmlQuantize(type: GgmlType, x: Float32Array, ne0: number): Uint8Array {
    const g = loadGgml('off');
    if (g.f.ggml_quantize_requires_imatrix(type)) throw new Error(`type ${GgmlType[type]} needs an importance matrix`);
    const rows = x.length / ne0;
    const out = new Uint8Array(Number(g.f.ggml_row_size(type, ne0)) * rows);
    const written = Number(g.f.ggml_quantize_chunk(type, x, out, 0, rows, ne0, null));
    if (written !== out.byteLength) throw new Error(`ggml_quantize_chunk wrote ${written} bytes, expected ${out.byteLength}`);
    return out;
}

/**
 * Rewrites an F32 GGUF with its matrices in `type` (1-D tensors stay F32, as llama.cpp's quantize keeps
 * norms); `overrides` picks another type per tensor name (e.g. Q6_K for output.weight as in Q4_K_M).
 */
export function quantizeGguf(src: string, dst: string, type: GgmlType, overrides: Record<string, GgmlType> = {}): void {
    const file = readGguf(src);
    const fileType: Record<number, number> = { [GgmlType.Q8_0]: 7, [GgmlType.Q4_0]: 2, [GgmlType.Q4_K]: 15, [GgmlType.Q5_K]: 17, [GgmlType.Q6_K]: 18, [GgmlType.F16]: 1, [GgmlType.BF16]: 32 };
    const md: [string, GgufValue][] = file.typed.map(([k, v]) => (k === 'general.file_type' ? [k, gv.u32(fileType[type] ?? 0)] : [k, v]));
    const tensors: GgufTensorOut[] = file.tensors.map((t) => {
        const data = readTensorF32(file, t.name);
        const ty = overrides[t.name] ?? type;
        if (t.shape.length === 1) return { name: t.name, shape: t.shape, data, type: 'f32' };
        const bytes = ggmlQuantize(ty, data, t.shape[0]);
        // the writer takes F16 as 16-bit words
        return { name: t.name, shape: t.shape, data: ty === GgmlType.F16 ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2) : bytes, type: { ggml: ty } };
    });
    writeGguf(dst, md, tensors);
}
