// Llama models as GGUF: configuration, standard tensor names (llama.cpp src/llama-arch.cpp), weight
// initialisation, and reading/writing the files node-llama-cpp loads.
import { readGguf, readTensorF32, writeGguf, gv, f16ToF32, f32ToF16 as f32ToF16Fast, GgmlType, ggmlTypeName, type GgufValue, type GgufTensorOut, type GgufFile } from './gguf.js';
import { bpeTokenizerMetadata, tokenizerFromData, TOKEN_TYPE, type BpeTokenizerData, type Tokenizer, type TokenizerData } from './tokenizer.js';

export interface LlamaConfig {
    vocabSize: number;
    nLayer: number;
    /** width (n_embd) */
    nEmbd: number;
    nHead: number;
    nHeadKv: number;
    /** FFN width */
    nFf: number;
    /** context length */
    nCtx: number;
    ropeTheta: number;
    rmsEps: number;
    /** true: no output.weight, the output head is token_embd (llama.cpp falls back to it) */
    tiedEmbeddings: boolean;
    /**
     * GGUF architecture (`general.architecture`, the prefix of its keys): 'llama' (Llama 2/3.x,
     * TinyLlama, Mistral; RoPE in NORM mode, adjacent pairs) or 'qwen2' (RoPE in NEOX mode, halves);
     * absent means 'llama'.
     */
    arch?: LlamaArch;
    /** q, k and v have bias vectors `blk.N.attn_{q,k,v}.bias` (qwen2). */
    qkvBias?: boolean;
    /**
     * The file has `rope_freqs.weight` ([head_dim/2] F32): per-frequency divisors passed to RoPE as
     * ggml_rope_ext's `c` argument. This is how GGUF stores Llama 3.1/3.2's rope frequency scaling
     * (convert_hf_to_gguf.py writes the factors as a tensor; no rope.scaling.* keys).
     */
    ropeFreqs?: boolean;
}

/** Architectures the trainer implements (llama.cpp's names). */
export const SUPPORTED_ARCHITECTURES = ['llama', 'qwen2'] as const;
export type LlamaArch = (typeof SUPPORTED_ARCHITECTURES)[number];

export function archOf(c: LlamaConfig): LlamaArch {
    return c.arch ?? 'llama';
}

/** ggml_rope_ext `mode`: 0 (NORM) for llama, 2 (NEOX) for qwen2 (llama.cpp llama_model_rope_type). */
export function ropeMode(c: LlamaConfig): 0 | 2 {
    return archOf(c) === 'qwen2' ? 2 : 0;
}

/** Llama 3.x rope scaling (config.json `rope_scaling` with rope_type "llama3"). */
export interface Llama3RopeScaling {
    factor: number;
    lowFreqFactor: number;
    highFreqFactor: number;
    originalContext: number;
}

/** Llama-3.2-1B/3B's rope_scaling. */
export const LLAMA32_ROPE_SCALING: Llama3RopeScaling = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };

/**
 * The rope_freqs.weight values for Llama 3 scaling, as convert_hf_to_gguf.py computes them: for each
 * frequency θ^(-2i/d), a wavelength below originalContext/highFreqFactor keeps factor 1, above
 * originalContext/lowFreqFactor gets `factor`, in between a smooth interpolation.
 */
export function llama3RopeFreqs(headDim: number, theta: number, s: Llama3RopeScaling): Float32Array {
    const out = new Float32Array(headDim / 2);
    const lowWavelen = s.originalContext / s.lowFreqFactor;
    const highWavelen = s.originalContext / s.highFreqFactor;
    for (let i = 0; i < headDim / 2; i++) {
        const freq = 1 / theta ** ((2 * i) / headDim);
        const wavelen = (2 * Math.PI) / freq;
        if (wavelen < highWavelen) out[i] = 1;
        else if (wavelen > lowWavelen) out[i] = s.factor;
        else {
            const smooth = (s.originalContext / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
            out[i] = 1 / ((1 - smooth) / s.factor + smooth);
        }
    }
    return out;
}

export const DEFAULT_ROPE_THETA = 10000;
export const DEFAULT_RMS_EPS = 1e-5;

/** A tensor held in memory: F32 data and its ggml shape (ne0 first). */
export interface LlamaTensor {
    shape: number[];
    data: Float32Array;
}
export type LlamaTensors = Map<string, LlamaTensor>;

export const LAYER_MATRICES = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
export type LayerMatrix = (typeof LAYER_MATRICES)[number];

export function headDim(c: LlamaConfig): number {
    return c.nEmbd / c.nHead;
}

/** Shapes of all tensors of a llama model, in llama.cpp's names and ggml order. */
export function llamaTensorShapes(c: LlamaConfig): Map<string, number[]> {
    const hd = headDim(c);
    const m = new Map<string, number[]>();
    m.set('token_embd.weight', [c.nEmbd, c.vocabSize]);
    if (c.ropeFreqs) m.set('rope_freqs.weight', [hd / 2]);
    for (let l = 0; l < c.nLayer; l++) {
        m.set(`blk.${l}.attn_norm.weight`, [c.nEmbd]);
        m.set(`blk.${l}.attn_q.weight`, [c.nEmbd, hd * c.nHead]);
        m.set(`blk.${l}.attn_k.weight`, [c.nEmbd, hd * c.nHeadKv]);
        m.set(`blk.${l}.attn_v.weight`, [c.nEmbd, hd * c.nHeadKv]);
        if (c.qkvBias) {
            m.set(`blk.${l}.attn_q.bias`, [hd * c.nHead]);
            m.set(`blk.${l}.attn_k.bias`, [hd * c.nHeadKv]);
            m.set(`blk.${l}.attn_v.bias`, [hd * c.nHeadKv]);
        }
        m.set(`blk.${l}.attn_output.weight`, [hd * c.nHead, c.nEmbd]);
        m.set(`blk.${l}.ffn_norm.weight`, [c.nEmbd]);
        m.set(`blk.${l}.ffn_gate.weight`, [c.nEmbd, c.nFf]);
        m.set(`blk.${l}.ffn_up.weight`, [c.nEmbd, c.nFf]);
        m.set(`blk.${l}.ffn_down.weight`, [c.nFf, c.nEmbd]);
    }
    m.set('output_norm.weight', [c.nEmbd]);
    if (!c.tiedEmbeddings) m.set('output.weight', [c.nEmbd, c.vocabSize]);
    return m;
}

export function countParameters(c: LlamaConfig): number {
    let n = 0;
    for (const s of llamaTensorShapes(c).values()) n += s.reduce((a, b) => a * b, 1);
    return n;
}

export function validateConfig(c: LlamaConfig): void {
    const ints: (keyof LlamaConfig)[] = ['vocabSize', 'nLayer', 'nEmbd', 'nHead', 'nHeadKv', 'nFf', 'nCtx'];
    for (const k of ints) {
        const v = c[k] as number;
        if (!Number.isInteger(v) || v <= 0) throw new Error(`model config: ${k} must be a positive integer (got ${v})`);
    }
    if (c.nEmbd % c.nHead !== 0) throw new Error(`model config: width ${c.nEmbd} is not a multiple of heads ${c.nHead}`);
    if (c.nHead % c.nHeadKv !== 0) throw new Error(`model config: heads ${c.nHead} is not a multiple of kv heads ${c.nHeadKv}`);
    if (headDim(c) % 2 !== 0) throw new Error(`model config: head size ${headDim(c)} must be even (RoPE)`);
    if (!(c.ropeTheta > 0)) throw new Error('model config: rope theta must be > 0');
    if (!(c.rmsEps > 0)) throw new Error('model config: rms eps must be > 0');
    if (c.arch !== undefined && !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(c.arch))
        throw new Error(`model config: architecture "${String(c.arch)}" is not supported (${SUPPORTED_ARCHITECTURES.join(', ')})`);
}

/** Deterministic PRNG (mulberry32) with normal draws (Box-Muller). */
export class Rng {
    private s: number;
    private spare: number | undefined;
    constructor(seed: number) {
        this.s = (seed >>> 0) ^ 0x9e3779b9;
    }
    next(): number {
        let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    normal(): number {
        if (this.spare !== undefined) {
            const v = this.spare;
            this.spare = undefined;
            return v;
        }
        let u = 0;
        while (u === 0) u = this.next();
        const v = this.next();
        const r = Math.sqrt(-2 * Math.log(u));
        this.spare = r * Math.sin(2 * Math.PI * v);
        return r * Math.cos(2 * Math.PI * v);
    }
    int(n: number): number {
        return Math.floor(this.next() * n);
    }
    shuffle<T>(a: T[]): T[] {
        for (let i = a.length - 1; i > 0; i--) {
            const j = this.int(i + 1);
            [a[i], a[j]] = [a[j], a[i]];
        }
        return a;
    }
}

/**
 * Initial weights: norms 1, every matrix (embeddings and output head too) N(0, 1/fan_in) with fan_in its
 * ne0 (input width). Measured on 150 QA facts (2 layers, width 128, AdamW 1e-3): loss 0.09 after 10
 * epochs, against 2.98 with GPT-2's N(0, 0.02) (tiny models sit on a long plateau with it).
 */
export function initLlamaWeights(c: LlamaConfig, seed: number): LlamaTensors {
    validateConfig(c);
    const rng = new Rng(seed);
    const out: LlamaTensors = new Map();
    for (const [name, shape] of llamaTensorShapes(c)) {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(n);
        if (name.endsWith('norm.weight')) data.fill(1);
        else if (name === 'rope_freqs.weight') data.set(llama3RopeFreqs(headDim(c), c.ropeTheta, LLAMA32_ROPE_SCALING));
        else {
            const std = 1 / Math.sqrt(shape[0]);
            for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
        }
        out.set(name, { shape, data });
    }
    return out;
}

export function tokenizerMetadata(t: TokenizerData | BpeTokenizerData): [string, GgufValue][] {
    if (t.model === 'gpt2') return bpeTokenizerMetadata(t);
    return [
        ['tokenizer.ggml.model', gv.str(t.model)],
        ['tokenizer.ggml.tokens', gv.strs(t.tokens)],
        ['tokenizer.ggml.scores', gv.f32s(t.scores)],
        ['tokenizer.ggml.token_type', gv.i32s(t.types)],
        ['tokenizer.ggml.bos_token_id', gv.u32(t.bosId)],
        ['tokenizer.ggml.eos_token_id', gv.u32(t.eosId)],
        ['tokenizer.ggml.unknown_token_id', gv.u32(t.unkId)],
        ['tokenizer.ggml.add_bos_token', gv.bool(t.addBos)],
        ['tokenizer.ggml.add_eos_token', gv.bool(t.addEos)],
        ['tokenizer.ggml.add_space_prefix', gv.bool(t.addSpacePrefix)],
    ];
}

/** Storage type of the matrices (norms, biases and rope_freqs stay F32, as llama.cpp's quantize keeps them). */
export type WeightType = 'f32' | 'f16' | 'q8_0';

export interface WriteLlamaOptions {
    config: LlamaConfig;
    /**
     * The vocabulary: an SPM tokenizer (ours), a byte-level BPE one, or the tokenizer.* metadata of
     * another GGUF copied as is (`{ metadata, size }`, e.g. a full fine-tune of a real model).
     */
    tokenizer: Tokenizer | TokenizerData | BpeTokenizerData | { metadata: [string, GgufValue][]; size: number };
    tensors: LlamaTensors;
    name?: string;
    /** extra metadata (e.g. mismatch.* provenance) */
    metadata?: [string, GgufValue][];
    /** store matrices as F16 (norms stay F32); default F32. Same as type 'f16'. */
    f16?: boolean;
    /** storage type of the matrices; default 'f32' (or 'f16' with `f16`) */
    type?: WeightType;
}

/** general.file_type (llama_ftype) of a file whose matrices are `type`. */
const FILE_TYPE: Record<WeightType, number> = { f32: 0, f16: 1, q8_0: 7 };

/** Writes a llama/qwen2 GGUF that node-llama-cpp 3.21.1 loads (tested in test/train/gguf-tokenizer.test.ts, test/train/real-shapes.test.ts). */
export function writeLlamaGguf(path: string, opts: WriteLlamaOptions): void {
    const c = opts.config;
    validateConfig(c);
    const arch = archOf(c);
    const type: WeightType = opts.type ?? (opts.f16 ? 'f16' : 'f32');
    let tokMd: [string, GgufValue][];
    let nTokens: number;
    if ('metadata' in opts.tokenizer && 'size' in opts.tokenizer) {
        tokMd = opts.tokenizer.metadata;
        nTokens = opts.tokenizer.size;
    } else {
        const tok: TokenizerData | BpeTokenizerData = 'data' in opts.tokenizer ? opts.tokenizer.data : (opts.tokenizer as TokenizerData | BpeTokenizerData);
        tokMd = tokenizerMetadata(tok);
        nTokens = tok.tokens.length;
    }
    if (nTokens !== c.vocabSize) throw new Error(`writeLlamaGguf: tokenizer has ${nTokens} tokens, config.vocabSize is ${c.vocabSize}`);
    const md: [string, GgufValue][] = [
        ['general.architecture', gv.str(arch)],
        ['general.name', gv.str(opts.name ?? `mismatch-${arch}`)],
        ['general.file_type', gv.u32(FILE_TYPE[type])],
        ['general.alignment', gv.u32(32)],
        ...(arch === 'llama' ? [['llama.vocab_size', gv.u32(c.vocabSize)] as [string, GgufValue]] : []),
        [`${arch}.context_length`, gv.u32(c.nCtx)],
        [`${arch}.embedding_length`, gv.u32(c.nEmbd)],
        [`${arch}.block_count`, gv.u32(c.nLayer)],
        [`${arch}.feed_forward_length`, gv.u32(c.nFf)],
        [`${arch}.attention.head_count`, gv.u32(c.nHead)],
        [`${arch}.attention.head_count_kv`, gv.u32(c.nHeadKv)],
        [`${arch}.attention.layer_norm_rms_epsilon`, gv.f32(c.rmsEps)],
        [`${arch}.rope.freq_base`, gv.f32(c.ropeTheta)],
        [`${arch}.rope.dimension_count`, gv.u32(headDim(c))],
        ...tokMd,
        ...(opts.metadata ?? []),
    ];
    const shapes = llamaTensorShapes(c);
    const out: GgufTensorOut[] = [];
    for (const [name, shape] of shapes) {
        const t = opts.tensors.get(name);
        if (!t) throw new Error(`writeLlamaGguf: missing tensor ${name}`);
        if (t.shape.join(',') !== shape.join(',')) throw new Error(`writeLlamaGguf: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
        out.push(toOut(name, t, shape.length > 1 ? type : 'f32'));
    }
    writeGguf(path, md, out);
}

function toOut(name: string, t: LlamaTensor, type: WeightType): GgufTensorOut {
    if (type === 'f32') return { name, shape: t.shape, data: t.data, type: 'f32' };
    // llama.cpp's quantize falls back to F16 where a row is not a whole number of blocks
    if (type === 'f16' || t.shape[0] % 32 !== 0) {
        const bits = new Uint16Array(t.data.length);
        for (let i = 0; i < bits.length; i++) bits[i] = f32ToF16Fast(t.data[i]);
        return { name, shape: t.shape, data: bits, type: 'f16' };
    }
    return { name, shape: t.shape, data: quantizeQ8_0(t.data), type: { ggml: GgmlType.Q8_0 } };
}

/**
 * Q8_0 as ggml stores it (ggml-quants.c quantize_row_q8_0_ref): blocks of 32 values, each an F16 scale
 * d = max|x|/127 followed by 32 int8 round(x/d) (half away from zero, as C's roundf).
 */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
    if (x.length % 32 !== 0) throw new Error(`Q8_0: ${x.length} values is not a whole number of 32-value blocks`);
    const nb = x.length / 32;
    const out = new Uint8Array(nb * 34);
    const dv = new DataView(out.buffer);
    const f = new Float32Array(1);
    for (let b = 0; b < nb; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
        f[0] = amax / 127;
        const d = f[0];
        f[0] = d ? 1 / d : 0;
        const id = f[0];
        dv.setUint16(b * 34, f32ToF16Fast(d), true);
        for (let j = 0; j < 32; j++) {
            f[0] = x[b * 32 + j] * id;
            const v = f[0];
            dv.setInt8(b * 34 + 2 + j, Math.sign(v) * Math.round(Math.abs(v)));
        }
    }
    return out;
}

/** Q8_0 bytes back to F32 (d · q), for tests and for reading Q8_0 files. */
export function dequantizeQ8_0(bytes: Uint8Array, n: number): Float32Array {
    const out = new Float32Array(n);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let b = 0; b < n / 32; b++) {
        const d = f16ToF32(dv.getUint16(b * 34, true));
        for (let j = 0; j < 32; j++) out[b * 32 + j] = d * dv.getInt8(b * 34 + 2 + j);
    }
    return out;
}

export interface LlamaGgufInfo {
    file: GgufFile;
    config: LlamaConfig;
    /** present when the file has an SPM ("llama") vocabulary */
    tokenizer?: Tokenizer;
    tokenizerModel: string;
    architecture: string;
}

function num(md: Map<string, unknown>, key: string, path: string, fallback?: number): number {
    const v = md.get(key);
    if (typeof v === 'number') return v;
    if (fallback !== undefined) return fallback;
    throw new Error(`${path}: missing GGUF key ${key}`);
}

/**
 * The config of a GGUF from its metadata and tensor infos (no weights read). Throws a message naming
 * the file and the cause for an architecture, RoPE variant or tensor the trainer does not implement.
 */
export function configFromGguf(file: GgufFile): LlamaConfig {
    const path = file.path;
    const md = file.metadata;
    const archRaw = String(md.get('general.architecture') ?? '');
    if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(archRaw))
        throw new Error(`${path}: architecture "${archRaw}" is not supported by the trainer (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`);
    const arch = archRaw as LlamaArch;
    const k = (key: string) => `${arch}.${key}`;
    const nEmbd = num(md, k('embedding_length'), path);
    const nHead = num(md, k('attention.head_count'), path);
    const has = (name: string) => file.tensors.some((t) => t.name === name);
    const embd = file.tensors.find((t) => t.name === 'token_embd.weight');
    if (!embd) throw new Error(`${path}: no token_embd.weight tensor`);
    const config: LlamaConfig = {
        vocabSize: embd.shape[1],
        nLayer: num(md, k('block_count'), path),
        nEmbd,
        nHead,
        nHeadKv: num(md, k('attention.head_count_kv'), path, nHead),
        nFf: num(md, k('feed_forward_length'), path),
        nCtx: num(md, k('context_length'), path),
        ropeTheta: num(md, k('rope.freq_base'), path, DEFAULT_ROPE_THETA),
        rmsEps: num(md, k('attention.layer_norm_rms_epsilon'), path, DEFAULT_RMS_EPS),
        tiedEmbeddings: !has('output.weight'),
        ...(arch !== 'llama' ? { arch } : {}),
        ...(has('blk.0.attn_q.bias') ? { qkvBias: true } : {}),
        ...(has('rope_freqs.weight') ? { ropeFreqs: true } : {}),
    };
    const ropeDims = md.get(k('rope.dimension_count'));
    if (typeof ropeDims === 'number' && ropeDims !== nEmbd / nHead) throw new Error(`${path}: partial RoPE (dimension_count ${ropeDims}) is not supported by the trainer`);
    const headDimKey = md.get(k('attention.key_length'));
    if (typeof headDimKey === 'number' && headDimKey !== nEmbd / nHead) throw new Error(`${path}: head size ${headDimKey} differs from width/heads (${nEmbd / nHead}); not supported by the trainer`);
    const scaling = md.get(k('rope.scaling.type'));
    if (scaling !== undefined && scaling !== 'none') throw new Error(`${path}: RoPE scaling "${String(scaling)}" is not supported by the trainer (Llama 3's rope_freqs scaling is)`);
    if (file.tensors.some((t) => t.name.includes('_exps'))) throw new Error(`${path}: mixture-of-experts models are not supported by the trainer`);
    validateConfig(config);
    // every tensor must be one the forward uses: an extra one (an output bias, a second norm) would be
    // silently ignored and give a wrong model
    const known = llamaTensorShapes(config);
    const extra = file.tensors.find((t) => !known.has(t.name));
    if (extra) throw new Error(`${path}: tensor ${extra.name} is not part of the ${arch} model the trainer implements`);
    return config;
}

/** Reads a llama/qwen2 GGUF's header (config, tokenizer) without the weights; errors for other architectures. */
export function readLlamaGgufInfo(path: string): LlamaGgufInfo {
    const file = readGguf(path);
    const md = file.metadata;
    const config = configFromGguf(file);
    const tokens = md.get('tokenizer.ggml.tokens') as string[] | undefined;
    const tokenizerModel = String(md.get('tokenizer.ggml.model') ?? '');
    let tokenizer: Tokenizer | undefined;
    if (tokenizerModel === 'llama' && tokens) {
        const scores = md.get('tokenizer.ggml.scores') as Float32Array | undefined;
        const types = md.get('tokenizer.ggml.token_type') as Int32Array | undefined;
        tokenizer = tokenizerFromData({
            model: 'llama',
            tokens,
            scores: scores ? Array.from(scores) : tokens.map(() => 0),
            types: types ? Array.from(types) : tokens.map(() => TOKEN_TYPE.NORMAL),
            bosId: num(md, 'tokenizer.ggml.bos_token_id', path, 1),
            eosId: num(md, 'tokenizer.ggml.eos_token_id', path, 2),
            unkId: num(md, 'tokenizer.ggml.unknown_token_id', path, 0),
            addBos: (md.get('tokenizer.ggml.add_bos_token') as boolean | undefined) ?? true,
            addEos: (md.get('tokenizer.ggml.add_eos_token') as boolean | undefined) ?? false,
            addSpacePrefix: (md.get('tokenizer.ggml.add_space_prefix') as boolean | undefined) ?? true,
        });
    }
    return { file, config, tokenizer, tokenizerModel, architecture: archOf(config) };
}

/** The tokenizer.* metadata of a GGUF, typed, to copy into a file written from it (full fine-tunes). */
export function tokenizerMetadataOf(file: GgufFile): [string, GgufValue][] {
    return file.typed.filter(([key]) => key.startsWith('tokenizer.'));
}

/** Tensor types that cannot be trained (quantized): the names and types, empty when all are F32/F16/BF16. */
export function quantizedTensors(file: GgufFile): { name: string; type: string }[] {
    return file.tensors.filter((t) => t.type !== GgmlType.F32 && t.type !== GgmlType.F16 && t.type !== GgmlType.BF16).map((t) => ({ name: t.name, type: ggmlTypeName(t.type) }));
}

/** Reads a llama GGUF fully: config, tokenizer and all weights as F32. */
export function readLlamaGguf(path: string): LlamaGgufInfo & { tensors: LlamaTensors } {
    const info = readLlamaGgufInfo(path);
    const q = quantizedTensors(info.file);
    if (q.length > 0) throw new Error(`${path}: quantized weights (${q[0].name} is ${q[0].type}${q.length > 1 ? `, and ${q.length - 1} more` : ''}); the trainer needs an F32, F16 or BF16 model`);
    const tensors: LlamaTensors = new Map();
    for (const [name, shape] of llamaTensorShapes(info.config)) {
        const t = info.file.tensors.find((x) => x.name === name);
        if (!t) throw new Error(`${path}: missing tensor ${name}`);
        if (t.shape.join(',') !== shape.join(',')) throw new Error(`${path}: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
        tensors.set(name, { shape, data: readTensorF32(info.file, name) });
    }
    return { ...info, tensors };
}

export interface LoraWeights {
    /** base tensor name (e.g. blk.0.attn_q.weight) -> A [in, r] and B [r, out] */
    pairs: Map<string, { a: LlamaTensor; b: LlamaTensor }>;
    alpha: number;
    rank: number;
}

/** Writes a LoRA adapter GGUF (general.type=adapter, adapter.type=lora, <w>.lora_a/.lora_b). */
export function writeLoraGguf(path: string, lora: LoraWeights, opts: { name?: string; metadata?: [string, GgufValue][] } = {}): void {
    const md: [string, GgufValue][] = [
        ['general.architecture', gv.str('llama')],
        ['general.type', gv.str('adapter')],
        ['general.name', gv.str(opts.name ?? 'mismatch-lora')],
        ['general.alignment', gv.u32(32)],
        ['adapter.type', gv.str('lora')],
        ['adapter.lora.alpha', gv.f32(lora.alpha)],
        ...(opts.metadata ?? []),
    ];
    const out: GgufTensorOut[] = [];
    for (const [name, p] of lora.pairs) {
        out.push({ name: `${name}.lora_a`, shape: p.a.shape, data: p.a.data, type: 'f32' });
        out.push({ name: `${name}.lora_b`, shape: p.b.shape, data: p.b.data, type: 'f32' });
    }
    writeGguf(path, md, out);
}

/** Reads a LoRA adapter GGUF written by writeLoraGguf (or any F32/F16 llama.cpp LoRA adapter). */
export function readLoraGguf(path: string): LoraWeights {
    const file = readGguf(path);
    if (file.metadata.get('general.type') !== 'adapter' || file.metadata.get('adapter.type') !== 'lora') throw new Error(`${path} is not a LoRA adapter GGUF`);
    const pairs = new Map<string, { a: LlamaTensor; b: LlamaTensor }>();
    let rank = 0;
    for (const t of file.tensors) {
        if (!t.name.endsWith('.lora_a')) continue;
        const base = t.name.slice(0, -'.lora_a'.length);
        const bInfo = file.tensors.find((x) => x.name === `${base}.lora_b`);
        if (!bInfo) throw new Error(`${path}: ${t.name} has no matching .lora_b`);
        pairs.set(base, { a: { shape: t.shape, data: readTensorF32(file, t.name) }, b: { shape: bInfo.shape, data: readTensorF32(file, bInfo.name) } });
        rank = t.shape[1];
    }
    return { pairs, alpha: Number(file.metadata.get('adapter.lora.alpha') ?? rank), rank };
}
