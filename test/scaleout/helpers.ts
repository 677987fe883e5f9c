// Test helpers for the scale-out route: a tiny llama GGUF whose weights we hold, and a PEFT-format
// LoRA adapter for it written here, independently of the engine's reader (the safetensors layout from
// its format description: 8-byte little-endian header length, JSON header, raw little-endian data).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTokenizer, initLlamaWeights, writeLlamaGguf, type LlamaConfig, type LlamaTensors, type Tokenizer } from '../../engine/train/api.js';

export const MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type Module = (typeof MODULES)[number];
const GGUF_OF: Record<Module, string> = { q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output', gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down' };
const HF_PATH: Record<Module, string> = { q_proj: 'self_attn', k_proj: 'self_attn', v_proj: 'self_attn', o_proj: 'self_attn', gate_proj: 'mlp', up_proj: 'mlp', down_proj: 'mlp' };

export interface TinyBase {
    path: string;
    config: LlamaConfig;
    tokenizer: Tokenizer;
    tensors: LlamaTensors;
}

export function makeBase(dir: string, texts: string[], over: Partial<LlamaConfig> = {}, seed = 5, name = 'base'): TinyBase {
    const tokenizer = buildTokenizer(texts);
    const config: LlamaConfig = { vocabSize: tokenizer.vocabSize, nLayer: 2, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48, nCtx: 64, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false, ...over };
    const tensors = initLlamaWeights(config, seed);
    const path = join(dir, `${name}.gguf`);
    writeLlamaGguf(path, { config, tokenizer, tensors, name });
    return { path, config, tokenizer, tensors };
}

/** [in, out] of a module's Linear layer in the Hugging Face model (torch weight [out, in]). */
export function moduleDims(c: LlamaConfig, m: Module): [number, number] {
    const hd = c.nEmbd / c.nHead;
    switch (m) {
        case 'q_proj':
            return [c.nEmbd, hd * c.nHead];
        case 'k_proj':
        case 'v_proj':
            return [c.nEmbd, hd * c.nHeadKv];
        case 'o_proj':
            return [hd * c.nHead, c.nEmbd];
        case 'gate_proj':
        case 'up_proj':
            return [c.nEmbd, c.nFf];
        case 'down_proj':
            return [c.nFf, c.nEmbd];
    }
}

export interface LoraModule {
    layer: number;
    module: Module;
    /** [r, in] row-major, as torch stores lora_A.weight */
    a: Float32Array;
    /** [out, r] row-major, as torch stores lora_B.weight */
    b: Float32Array;
    r: number;
    nIn: number;
    nOut: number;
}

/** Deterministic uniform numbers in [-1, 1). */
export function rand(seed: number): () => number {
    let x = seed >>> 0 || 1;
    return () => {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        return (x / 2 ** 32) * 2 - 1;
    };
}

export function randomLora(c: LlamaConfig, r: number, seed: number, modules: readonly Module[] = MODULES, scale = 0.35): LoraModule[] {
    const rnd = rand(seed);
    const out: LoraModule[] = [];
    for (let layer = 0; layer < c.nLayer; layer++) {
        for (const module of modules) {
            const [nIn, nOut] = moduleDims(c, module);
            const a = Float32Array.from({ length: r * nIn }, () => rnd() * scale);
            const b = Float32Array.from({ length: nOut * r }, () => rnd() * scale);
            out.push({ layer, module, a, b, r, nIn, nOut });
        }
    }
    return out;
}

export function peftName(l: { layer: number; module: Module }, part: 'A' | 'B'): string {
    return `base_model.model.model.layers.${l.layer}.${HF_PATH[l.module]}.${l.module}.lora_${part}.weight`;
}

export type Dtype = 'F32' | 'F16' | 'BF16';

/** Writes a safetensors file from scratch (F32 data; `BF16` truncates the F32 bits). */
export function writeSafetensors(path: string, tensors: { name: string; shape: number[]; data: Float32Array; dtype?: Dtype }[]): void {
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    const chunks: Buffer[] = [];
    let at = 0;
    for (const t of tensors) {
        let raw: Buffer;
        if ((t.dtype ?? 'F32') === 'F32') raw = Buffer.from(new Float32Array(t.data).buffer);
        else if (t.dtype === 'BF16') {
            const u = new Uint32Array(new Float32Array(t.data).buffer);
            raw = Buffer.alloc(u.length * 2);
            for (let i = 0; i < u.length; i++) raw.writeUInt16LE(u[i] >>> 16, i * 2);
        } else throw new Error('F16 is written by the python fixture only');
        header[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [at, at + raw.length] };
        chunks.push(raw);
        at += raw.length;
    }
    let h = Buffer.from(JSON.stringify(header), 'utf8');
    const pad = (8 - (h.length % 8)) % 8;
    h = Buffer.concat([h, Buffer.alloc(pad, 0x20)]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    writeFileSync(path, Buffer.concat([len, h, ...chunks]));
}

export interface PeftOptions {
    r: number;
    alpha: number;
    useRslora?: boolean;
    alphaPattern?: Record<string, number>;
    baseModel?: string;
    extraConfig?: Record<string, unknown>;
    dtype?: Dtype;
}

/** A PEFT adapter folder (adapter_config.json + adapter_model.safetensors) as PEFT's save_pretrained writes it. */
export function writePeftAdapter(dir: string, mods: LoraModule[], o: PeftOptions): void {
    mkdirSync(dir, { recursive: true });
    const config = {
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        base_model_name_or_path: o.baseModel ?? 'tiny/base',
        r: o.r,
        lora_alpha: o.alpha,
        lora_dropout: 0,
        target_modules: [...new Set(mods.map((m) => m.module))],
        bias: 'none',
        fan_in_fan_out: false,
        use_rslora: o.useRslora ?? false,
        use_dora: false,
        modules_to_save: null,
        rank_pattern: {},
        alpha_pattern: o.alphaPattern ?? {},
        inference_mode: true,
        ...o.extraConfig,
    };
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
    writeSafetensors(
        join(dir, 'adapter_model.safetensors'),
        mods.flatMap((m) => [
            { name: peftName(m, 'A'), shape: [m.r, m.nIn], data: m.a, dtype: o.dtype },
            { name: peftName(m, 'B'), shape: [m.nOut, m.r], data: m.b, dtype: o.dtype },
        ]),
    );
}

/** PEFT's scaling of a module: lora_alpha / r, or / sqrt(r) with use_rslora; alpha_pattern by module name. */
export function peftScale(o: PeftOptions, m: LoraModule): number {
    const alpha = o.alphaPattern?.[m.module] ?? o.alpha;
    return o.useRslora ? alpha / Math.sqrt(m.r) : alpha / m.r;
}

function bf16(x: number): number {
    const u = new Uint32Array(new Float32Array([x]).buffer);
    u[0] &= 0xffff0000;
    return new Float32Array(u.buffer)[0];
}

/**
 * The base with the adapter merged by hand, as a full GGUF: for each module the Hugging Face weight
 * W_hf + s·B·A; convert_hf_to_gguf.py stores llama's q_proj / k_proj weights with their rows permuted
 * (`w.reshape(n_head, 2, d/2, in).swapaxes(1, 2)`), so the GGUF tensor receives permute(s·B·A).
 * `permute: false` leaves the permutation out (a wrong merge, to show the comparison can fail).
 */
export function writeMerged(path: string, base: TinyBase, mods: LoraModule[], o: PeftOptions, permute = true): void {
    const c = base.config;
    const tensors: LlamaTensors = new Map([...base.tensors].map(([k, v]) => [k, { shape: v.shape, data: new Float32Array(v.data) }]));
    for (const m of mods) {
        const s = peftScale(o, m);
        const A = o.dtype === 'BF16' ? m.a.map(bf16) : m.a,
            B = o.dtype === 'BF16' ? m.b.map(bf16) : m.b;
        const delta = new Float64Array(m.nOut * m.nIn); // [out][in]
        for (let i = 0; i < m.nOut; i++)
            for (let k = 0; k < m.r; k++) {
                const bik = B[i * m.r + k];
                for (let j = 0; j < m.nIn; j++) delta[i * m.nIn + j] += s * bik * A[k * m.nIn + j];
            }
        let rowsOf = (i: number) => i;
        const heads = m.module === 'q_proj' ? c.nHead : m.module === 'k_proj' ? c.nHeadKv : 0;
        if (permute && heads) {
            // numpy: out = w.reshape(heads, 2, half, in).swapaxes(1, 2).reshape(rows, in):
            // out[h, j, t] = w[h, t, j]  -> GGUF row (h·half + j)·2 + t holds HF row (h·2 + t)·half + j
            const half = m.nOut / heads / 2;
            const map = new Int32Array(m.nOut);
            for (let h = 0; h < heads; h++) for (let j = 0; j < half; j++) for (let t = 0; t < 2; t++) map[(h * half + j) * 2 + t] = (h * 2 + t) * half + j;
            rowsOf = (i) => map[i];
        }
        const w = tensors.get(`blk.${m.layer}.${GGUF_OF[m.module]}.weight`)!;
        for (let i = 0; i < m.nOut; i++) {
            const src = rowsOf(i);
            for (let j = 0; j < m.nIn; j++) w.data[i * m.nIn + j] += delta[src * m.nIn + j];
        }
    }
    writeLlamaGguf(path, { config: c, tokenizer: base.tokenizer, tensors, name: 'merged' });
}
