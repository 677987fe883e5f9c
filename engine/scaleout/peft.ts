// PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, as Hugging Face PEFT saves it)
// -> GGUF LoRA adapter for llama.cpp / node-llama-cpp, checked against the base GGUF it will be
// applied to. The mapping follows llama.cpp's convert_lora_to_gguf.py and convert_hf_to_gguf.py:
//
// - names: `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` -> `blk.N.attn_q.weight.lora_a`
//   (q/k/v/o_proj -> attn_q/k/v/output, mlp gate/up/down_proj -> ffn_gate/up/down, lm_head -> output);
// - layouts: PEFT's lora_A is a torch Linear weight [r, in] and lora_B [out, r], row-major; GGUF's
//   `.lora_a` has ne = [in, r] and `.lora_b` ne = [r, out]: the same bytes, no transpose;
// - llama's q_proj/k_proj rows are permuted by convert_hf_to_gguf.py (RoPE pairs (i, i + d/2) in HF
//   become adjacent pairs (2i, 2i + 1) in GGUF: reshape(n_head, 2, d/2, ·).swapaxes(1, 2)), so the same
//   permutation is applied to the rows of lora_B (k_proj with the KV head count); qwen2 is not permuted;
// - scaling: llama.cpp applies alpha / r with r = the tensor's own rank, PEFT alpha / r (or
//   alpha / sqrt(r) with use_rslora, per-module alpha/rank with alpha_pattern/rank_pattern).
//   adapter.lora.alpha is the config's lora_alpha; where a module's PEFT scale differs from
//   alpha / r_module its lora_B is multiplied by the ratio, so the product is exact for every module
//   (convert_lora_to_gguf.py ignores use_rslora and alpha_pattern).
//
// Anything that cannot be expressed is refused with the file and the tensor or key named: DoRA,
// modules_to_save (full weights), LoRA biases, embedding LoRA, fan_in_fan_out (Conv1D models),
// modules with no GGUF counterpart, and shapes or layer counts that do not match the base.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gv, readGguf, writeGguf, type GgufFile, type GgufTensorOut, type GgufValue } from '../train/gguf.js';
import { readSafetensorF32, readSafetensorsHeader } from './safetensors.js';

export const PEFT_CONFIG = 'adapter_config.json';
export const PEFT_WEIGHTS = 'adapter_model.safetensors';

/** Hugging Face module names of llama-family layers -> llama.cpp tensor names. */
export const HF_TO_GGUF_MODULE: Readonly<Record<string, string>> = {
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
};

/** Our LoRA target names -> the PEFT `target_modules` names. */
export const TARGET_TO_HF: Readonly<Record<string, string>> = {
    attn_q: 'q_proj',
    attn_k: 'k_proj',
    attn_v: 'v_proj',
    attn_output: 'o_proj',
    ffn_gate: 'gate_proj',
    ffn_up: 'up_proj',
    ffn_down: 'down_proj',
};

/** Architectures whose HF -> GGUF tensor mapping is known here, and whether q/k rows are permuted. */
const ARCHS: Record<string, { permuteQK: boolean }> = { llama: { permuteQK: true }, qwen2: { permuteQK: false } };

export interface PeftAdapterConfig {
    r: number;
    lora_alpha: number;
    peft_type?: string;
    target_modules?: string[] | string;
    use_rslora?: boolean;
    use_dora?: boolean;
    modules_to_save?: string[] | null;
    rank_pattern?: Record<string, number>;
    alpha_pattern?: Record<string, number>;
    fan_in_fan_out?: boolean;
    bias?: string;
    base_model_name_or_path?: string;
    lora_dropout?: number;
}

export interface ConvertOptions {
    /** Folder that holds adapter_config.json and adapter_model.safetensors. */
    adapterDir: string;
    /** The base model's GGUF the adapter will be applied to. */
    baseGguf: string;
    /** Output GGUF path. */
    out: string;
    /** When set, the adapter's base_model_name_or_path must equal it (the model the job trained). */
    expectBase?: string;
    name?: string;
}

export interface ConvertResult {
    tensors: number;
    modules: string[];
    rank: number;
    alpha: number;
    /** Modules whose lora_B was rescaled (rsLoRA, alpha_pattern). */
    rescaled: number;
    baseModel?: string;
}

export class AdapterError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'AdapterError';
    }
}

function readConfig(path: string): PeftAdapterConfig {
    if (!existsSync(path)) throw new AdapterError(`${path}: not found (a PEFT adapter folder holds ${PEFT_CONFIG} and ${PEFT_WEIGHTS})`);
    let c: unknown;
    try {
        c = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
        throw new AdapterError(`${path}: not JSON (${(e as Error).message})`);
    }
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw new AdapterError(`${path}: not a JSON object`);
    const cfg = c as PeftAdapterConfig;
    if (cfg.peft_type !== undefined && cfg.peft_type !== 'LORA') throw new AdapterError(`${path}: peft_type is ${JSON.stringify(cfg.peft_type)}; only LORA adapters convert to GGUF`);
    if (!Number.isInteger(cfg.r) || cfg.r < 1) throw new AdapterError(`${path}: field "r" must be a positive integer (got ${JSON.stringify(cfg.r)})`);
    if (typeof cfg.lora_alpha !== 'number' || !Number.isFinite(cfg.lora_alpha)) throw new AdapterError(`${path}: field "lora_alpha" must be a number (got ${JSON.stringify(cfg.lora_alpha)})`);
    if (cfg.use_dora) throw new AdapterError(`${path}: use_dora is true; DoRA's magnitude vectors have no GGUF LoRA counterpart (llama.cpp applies plain LoRA)`);
    if (cfg.fan_in_fan_out) throw new AdapterError(`${path}: fan_in_fan_out is true (Conv1D layers, GPT-2 style); only llama-family Linear layers are converted`);
    if (cfg.modules_to_save && cfg.modules_to_save.length)
        throw new AdapterError(`${path}: modules_to_save (${cfg.modules_to_save.join(', ')}) holds fully trained weights, which a GGUF LoRA adapter cannot carry; train without modules_to_save`);
    if (cfg.bias && cfg.bias !== 'none') throw new AdapterError(`${path}: bias is "${cfg.bias}"; LoRA bias terms have no GGUF LoRA counterpart (train with bias "none")`);
    return cfg;
}

/** The value of a PEFT pattern (rank_pattern / alpha_pattern) for a module: PEFT matches keys as regex suffixes of the module name. */
function patternValue(pattern: Record<string, number> | undefined, module: string): number | undefined {
    if (!pattern) return undefined;
    for (const [key, v] of Object.entries(pattern)) {
        if (module === key || module.endsWith(`.${key}`)) return v;
        try {
            if (new RegExp(`(.*\\.)?(${key})$`).test(module)) return v;
        } catch {
            // not a regex: compared literally above
        }
    }
    return undefined;
}

interface Parsed {
    gguf: string;
    module: string;
    part: 'A' | 'B';
    layer?: number;
    kind?: string;
}

/** PEFT tensor name -> GGUF base tensor name, or a reason it cannot be mapped. */
function parseName(name: string): Parsed | { error: string } {
    let m = /^(?:base_model\.model\.)?(.*)\.lora_(A|B)(?:\.[\w-]+)?\.weight$/.exec(name);
    if (!m) {
        if (/lora_embedding_[AB]/.test(name)) return { error: 'embedding LoRA (embed_tokens) is not converted' };
        if (/\.lora_[AB]\..*bias$|\.bias$/.test(name)) return { error: 'a LoRA bias, which a GGUF adapter cannot carry' };
        return { error: 'not a lora_A / lora_B weight' };
    }
    const module = m[1];
    const part = m[2] as 'A' | 'B';
    if (module === 'lm_head') return { gguf: 'output.weight', module, part };
    m = /^model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)$/.exec(module);
    if (!m) return { error: `module ${module} has no llama.cpp tensor (mapped: ${Object.keys(HF_TO_GGUF_MODULE).join(', ')}, lm_head)` };
    const kind = HF_TO_GGUF_MODULE[m[2]];
    const layer = Number(m[1]);
    return { gguf: `blk.${layer}.${kind}.weight`, module, part, layer, kind };
}

/** convert_hf_to_gguf.py's LlamaModel.permute on the rows of a [rows, cols] row-major matrix. */
export function permuteRows(data: Float32Array, rows: number, cols: number, nHead: number): Float32Array {
    const hd = rows / nHead;
    if (!Number.isInteger(hd) || hd % 2 !== 0) throw new AdapterError(`cannot permute ${rows} rows over ${nHead} heads`);
    const half = hd / 2;
    const out = new Float32Array(data.length);
    for (let h = 0; h < nHead; h++) {
        for (let j = 0; j < half; j++) {
            for (let t = 0; t < 2; t++) {
                const src = h * hd + t * half + j;
                const dst = h * hd + j * 2 + t;
                out.set(data.subarray(src * cols, (src + 1) * cols), dst * cols);
            }
        }
    }
    return out;
}

function baseInfo(file: GgufFile): { arch: string; nHead: number; nHeadKv: number; nLayer: number } {
    const arch = String(file.metadata.get('general.architecture') ?? '');
    const num = (k: string) => file.metadata.get(`${arch}.${k}`);
    if (file.metadata.get('general.type') === 'adapter') throw new AdapterError(`${file.path}: this is a LoRA adapter GGUF, not a base model`);
    const nHead = num('attention.head_count');
    const nLayer = num('block_count');
    if (typeof nHead !== 'number' || typeof nLayer !== 'number') throw new AdapterError(`${file.path}: missing ${arch}.attention.head_count or ${arch}.block_count`);
    const kv = num('attention.head_count_kv');
    return { arch, nHead, nHeadKv: typeof kv === 'number' ? kv : nHead, nLayer };
}

/**
 * Converts a PEFT LoRA adapter to a GGUF LoRA adapter for `baseGguf`. Every tensor is checked
 * against the base (name, layer, shape, rank) before anything is written.
 */
export function convertPeftAdapter(o: ConvertOptions): ConvertResult {
    const cfgPath = join(o.adapterDir, PEFT_CONFIG);
    const wPath = join(o.adapterDir, PEFT_WEIGHTS);
    const cfg = readConfig(cfgPath);
    if (o.expectBase !== undefined && cfg.base_model_name_or_path !== undefined && cfg.base_model_name_or_path !== o.expectBase) {
        throw new AdapterError(`${cfgPath}: the adapter was trained on "${cfg.base_model_name_or_path}", not on "${o.expectBase}" as the job says`);
    }
    if (!existsSync(wPath))
        throw new AdapterError(`${wPath}: not found${existsSync(join(o.adapterDir, 'adapter_model.bin')) ? ' (adapter_model.bin is a pickle; save the adapter with safe_serialization=True)' : ''}`);
    let st;
    try {
        st = readSafetensorsHeader(wPath);
    } catch (e) {
        throw new AdapterError((e as Error).message);
    }
    const base = readGguf(o.baseGguf);
    const info = baseInfo(base);
    const arch = ARCHS[info.arch];
    if (!arch) throw new AdapterError(`${o.baseGguf}: architecture "${info.arch}" has no known Hugging Face -> GGUF LoRA mapping here (known: ${Object.keys(ARCHS).join(', ')})`);
    const baseShapes = new Map(base.tensors.map((t) => [t.name, t.shape]));

    // Pair A and B per module, refusing what cannot be mapped.
    const pairs = new Map<string, { module: string; a?: string; b?: string; kind?: string }>();
    for (const name of st.tensors.keys()) {
        const p = parseName(name);
        if ('error' in p) throw new AdapterError(`${wPath}: tensor ${name}: ${p.error}`);
        if (p.layer !== undefined && p.layer >= info.nLayer)
            throw new AdapterError(`${wPath}: tensor ${name} is for layer ${p.layer}, but the base ${o.baseGguf} has ${info.nLayer} layers: the adapter was trained on another model`);
        if (!baseShapes.has(p.gguf))
            throw new AdapterError(
                `${wPath}: tensor ${name} maps to ${p.gguf}, which the base ${o.baseGguf} does not have${p.gguf === 'output.weight' ? ' (its output head is tied to the token embeddings)' : ''}`,
            );
        const e = pairs.get(p.gguf) ?? { module: p.module, kind: p.kind };
        if (p.part === 'A') e.a = name;
        else e.b = name;
        pairs.set(p.gguf, e);
    }
    if (pairs.size === 0) throw new AdapterError(`${wPath}: no LoRA tensors`);

    const alpha = cfg.lora_alpha;
    const tensors: GgufTensorOut[] = [];
    let rescaled = 0;
    for (const [gguf, e] of pairs) {
        if (!e.a || !e.b) throw new AdapterError(`${wPath}: module ${e.module} has lora_${e.a ? 'A' : 'B'} but no lora_${e.a ? 'B' : 'A'}`);
        const ta = st.tensors.get(e.a)!,
            tb = st.tensors.get(e.b)!;
        const [nIn, nOut] = baseShapes.get(gguf)!;
        if (ta.shape.length !== 2 || tb.shape.length !== 2) throw new AdapterError(`${wPath}: ${e.module}: lora_A and lora_B must be matrices (shapes [${ta.shape}] and [${tb.shape}])`);
        const [r, aIn] = ta.shape;
        const [bOut, rB] = tb.shape;
        if (aIn !== nIn || bOut !== nOut) {
            throw new AdapterError(
                `${wPath}: ${e.module} is ${aIn} -> ${bOut} (lora_A [${ta.shape}], lora_B [${tb.shape}]) but ${gguf} in the base ${o.baseGguf} is ${nIn} -> ${nOut}: the adapter was trained on another model`,
            );
        }
        if (rB !== r) throw new AdapterError(`${wPath}: ${e.module}: lora_A has rank ${r} but lora_B has rank ${rB}`);
        const rConf = patternValue(cfg.rank_pattern, e.module) ?? cfg.r;
        if (r !== rConf) throw new AdapterError(`${wPath}: ${e.module} has rank ${r}, but ${cfgPath} says ${rConf}`);
        const alphaM = patternValue(cfg.alpha_pattern, e.module) ?? alpha;
        const peftScale = cfg.use_rslora ? alphaM / Math.sqrt(r) : alphaM / r;
        const llamaScale = alpha ? alpha / r : 1; // llama.cpp: scale = alpha ? alpha / rank : 1
        const factor = peftScale / llamaScale;
        const a = readSafetensorF32(st, e.a);
        let b = readSafetensorF32(st, e.b);
        if (arch.permuteQK && e.kind === 'attn_q') b = permuteRows(b, nOut, r, info.nHead);
        if (arch.permuteQK && e.kind === 'attn_k') b = permuteRows(b, nOut, r, info.nHeadKv);
        if (Math.abs(factor - 1) > 1e-12) {
            rescaled++;
            for (let i = 0; i < b.length; i++) b[i] *= factor;
        }
        for (const [which, d] of [
            ['lora_A', a],
            ['lora_B', b],
        ] as const) {
            const bad = d.findIndex((x) => !Number.isFinite(x));
            if (bad >= 0) throw new AdapterError(`${wPath}: ${e.module}.${which} holds a non-finite value (${d[bad]}) at element ${bad}`);
        }
        tensors.push({ name: `${gguf}.lora_a`, shape: [nIn, r], data: a, type: 'f32' });
        tensors.push({ name: `${gguf}.lora_b`, shape: [r, nOut], data: b, type: 'f32' });
    }
    const md: [string, GgufValue][] = [
        ['general.architecture', gv.str(info.arch)],
        ['general.type', gv.str('adapter')],
        ['general.name', gv.str(o.name ?? cfg.base_model_name_or_path ?? 'peft-lora')],
        ['general.alignment', gv.u32(32)],
        ['adapter.type', gv.str('lora')],
        ['adapter.lora.alpha', gv.f32(alpha)],
    ];
    writeGguf(o.out, md, tensors);
    return {
        tensors: tensors.length,
        modules: [...pairs.values()].map((p) => p.module),
        rank: cfg.r,
        alpha,
        rescaled,
        ...(cfg.base_model_name_or_path ? { baseModel: cfg.base_model_name_or_path } : {}),
    };
}
