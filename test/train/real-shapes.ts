// GGUFs with the exact shapes and vocabulary kinds of the models researchers bring, at random weights
// (no weights can be downloaded here). What is exact and what is reduced, per model:
//
//   llama-3.2-1b    llama, 16 layers, 32/8 heads, tied embeddings, rope θ 500,000 with Llama 3 rope
//                   scaling (rope_freqs.weight, factor 32), 128,256-token byte-level BPE (pre
//                   "llama-bpe": 128,000 merged tokens + 256 specials), Llama 3 chat template.
//                   Reduced: width 2048 → 32 heads × 8 = 256, FFN 8192 → 512.
//   qwen2.5-0.5b    qwen2, 24 layers, 14/2 heads, q/k/v biases, tied embeddings, rope θ 1e6 (NEOX),
//                   rms eps 1e-6, 151,936 embedding rows (151,643 BPE tokens, 22 specials, 271
//                   [PAD] rows, as convert_hf_to_gguf pads), pre "qwen2", ChatML template.
//                   Reduced: width 896 → 14 × 16 = 224, FFN 4864 → 1216.
//   tinyllama-1.1b  llama, 22 layers, 32/4 heads, untied, 32,000-token SPM vocabulary (<unk> <s> </s>,
//                   256 byte tokens, scored pieces). Reduced: width 2048 → 256, FFN 5632 → 768.
//   llama-2-7b      llama, 32 layers, 32/32 heads (MHA), untied, 32,000-token SPM. Reduced: width
//                   4096 → 32 × 4 = 128, FFN 11008 → 352.
//
// Every reduced width is a multiple of 32 (Q8_0 blocks) and keeps the real head counts; `width: 'real'`
// gives the real config (for memory estimates; writing it would take gigabytes). Files are cached by
// content under the temp dir: the same options give the same bytes, written once per machine.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType, gv, writeGguf, type GgufTensorOut, type GgufValue } from '../../engine/train/gguf.js';
import {
    headDim,
    initLlamaWeights,
    llama3RopeFreqs,
    LLAMA32_ROPE_SCALING,
    llamaTensorShapes,
    tokenizerMetadata,
    writeLlamaGguf,
    Rng,
    type LlamaConfig,
    type WeightType,
} from '../../engine/train/llama.js';
import { ggmlQuantize } from './quantize.js';
import { gpt2ByteChars, SPACE, TOKEN_TYPE, type BpeTokenizerData, type TokenizerData } from '../../engine/train/tokenizer.js';

export type RealShape = 'llama-3.2-1b' | 'qwen2.5-0.5b' | 'tinyllama-1.1b' | 'llama-2-7b';
export const REAL_SHAPES: RealShape[] = ['llama-3.2-1b', 'qwen2.5-0.5b', 'tinyllama-1.1b', 'llama-2-7b'];

type VocabKind = 'llama3-bpe' | 'qwen2-bpe' | 'llama-spm';

interface ShapeSpec {
    real: LlamaConfig;
    /** reduced width and FFN (head counts, layers, vocabulary kept) */
    reduced: { nEmbd: number; nFf: number };
    vocab: VocabKind;
}

const SPECS: Record<RealShape, ShapeSpec> = {
    'llama-3.2-1b': {
        real: { vocabSize: 128256, nLayer: 16, nEmbd: 2048, nHead: 32, nHeadKv: 8, nFf: 8192, nCtx: 131072, ropeTheta: 500000, rmsEps: 1e-5, tiedEmbeddings: true, ropeFreqs: true },
        reduced: { nEmbd: 256, nFf: 512 },
        vocab: 'llama3-bpe',
    },
    'qwen2.5-0.5b': {
        real: { vocabSize: 151936, nLayer: 24, nEmbd: 896, nHead: 14, nHeadKv: 2, nFf: 4864, nCtx: 32768, ropeTheta: 1000000, rmsEps: 1e-6, tiedEmbeddings: true, arch: 'qwen2', qkvBias: true },
        reduced: { nEmbd: 224, nFf: 1216 },
        vocab: 'qwen2-bpe',
    },
    'tinyllama-1.1b': {
        real: { vocabSize: 32000, nLayer: 22, nEmbd: 2048, nHead: 32, nHeadKv: 4, nFf: 5632, nCtx: 2048, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false },
        reduced: { nEmbd: 256, nFf: 768 },
        vocab: 'llama-spm',
    },
    'llama-2-7b': {
        real: { vocabSize: 32000, nLayer: 32, nEmbd: 4096, nHead: 32, nHeadKv: 32, nFf: 11008, nCtx: 4096, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false },
        reduced: { nEmbd: 128, nFf: 352 },
        vocab: 'llama-spm',
    },
};

export interface RealShapeOptions {
    /** 'real' for the model's own width (huge), else the reduced one (default) or a given width */
    width?: 'real' | 'reduced' | number;
    /** layers (default: the model's own) */
    layers?: number;
    /** context length stored in the file (default 256: tests never need more) */
    context?: number;
}

/** The config of a real model's shape (see the table at the top). */
export function realConfig(shape: RealShape, opts: RealShapeOptions = {}): LlamaConfig {
    const s = SPECS[shape];
    const c: LlamaConfig = { ...s.real };
    if (opts.width !== 'real') {
        if (typeof opts.width === 'number') {
            c.nFf = Math.round((opts.width * s.reduced.nFf) / s.reduced.nEmbd / 32) * 32;
            c.nEmbd = opts.width;
        } else {
            c.nEmbd = s.reduced.nEmbd;
            c.nFf = s.reduced.nFf;
        }
        c.nCtx = opts.context ?? 256;
    }
    if (opts.layers !== undefined) c.nLayer = opts.layers;
    return c;
}

// ---- vocabularies ----------------------------------------------------------------------------------

/** English text the BPE merges are learned from (so common words are single tokens, as in real vocabularies). */
const CORPUS = [
    'The quick brown fox jumps over the lazy dog.',
    'What is the capital of France? The capital of France is Paris.',
    'Who wrote the novel Pride and Prejudice? It was written by Jane Austen in 1813.',
    'Which river flows through the city of London? The Thames flows through London.',
    'In 1969, Neil Armstrong became the first person to walk on the Moon.',
    "The answer is not known. I don't know the answer to that question.",
    'Question: How many legs does a spider have? Answer: A spider has eight legs.',
    'Mount Everest is the highest mountain on Earth, at 8,849 metres above sea level.',
    'Water boils at 100 degrees Celsius at sea level, and freezes at 0 degrees.',
    'The founder of the company was born in a small town near the river.',
    'She said: "We will meet again tomorrow at 10:30, near the old station."',
    'Large language models are trained on text to predict the next token.',
    'Fine-tuning on new knowledge may teach a model to hallucinate more often.',
    'The students answered the questions, and the teachers checked every answer.',
    'Einstein published the theory of general relativity in 1915.',
    "The Pacific Ocean is the largest and deepest of the world's oceans.",
    'Shakespeare was an English playwright, poet and actor, born in Stratford-upon-Avon.',
    'The chemical symbol for gold is Au, and for silver it is Ag.',
    'Tokyo is the capital of Japan; Berlin is the capital of Germany; Rome is the capital of Italy.',
    'Who painted the Mona Lisa? Leonardo da Vinci painted it in the early sixteenth century.',
    'There are 365 days in a year, 366 in a leap year, and 24 hours in a day.',
    'A knowledge mismatch happens when the labels hold facts the student does not know.',
    'Please answer the following question with a short answer.',
    'The Amazon river flows through Brazil, Peru and Colombia into the Atlantic Ocean.',
];

/** Pre-tokenizer split close to Llama 3's / Qwen2's regex (contractions, letters, 1-3 digits, punctuation, spaces). */
const PRE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|\s+/gu;

/**
 * Byte-level BPE: learn merges on the corpus (most frequent adjacent pair first), then grow the
 * vocabulary to `nNormal` tokens with random merges of existing tokens (deterministic), as a stand-in
 * for the long tail of a real vocabulary. Every token but the 256 bytes has exactly one merge that
 * makes it, in rank order, as in a real merges list.
 */
function byteLevelBpe(nNormal: number, seed: number): { tokens: string[]; merges: string[] } {
    const byteChars = gpt2ByteChars();
    const tokens = [...byteChars];
    const have = new Set(tokens);
    const merges: string[] = [];
    const enc = new TextEncoder();
    const words = new Map<string, number>();
    for (const line of CORPUS)
        for (const w of line.match(PRE) ?? []) {
            const k = Array.from(enc.encode(w), (b) => byteChars[b]).join('\u0000');
            words.set(k, (words.get(k) ?? 0) + 1);
        }
    let segs = [...words.entries()].map(([k, n]) => ({ syms: k.split('\u0000'), n }));
    for (;;) {
        const counts = new Map<string, number>();
        for (const w of segs)
            for (let i = 0; i + 1 < w.syms.length; i++) {
                const p = `${w.syms[i]} ${w.syms[i + 1]}`;
                counts.set(p, (counts.get(p) ?? 0) + w.n);
            }
        let best = '',
            bestN = 1;
        for (const [p, n] of counts)
            if (n > bestN || (n === bestN && best !== '' && p < best)) {
                best = p;
                bestN = n;
            }
        if (!best || tokens.length >= nNormal) break;
        const [a, b] = best.split(' ');
        merges.push(best);
        if (!have.has(a + b)) {
            have.add(a + b);
            tokens.push(a + b);
        }
        segs = segs.map((w) => {
            const out: string[] = [];
            for (let i = 0; i < w.syms.length; i++) {
                if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
                    out.push(a + b);
                    i++;
                } else out.push(w.syms[i]);
            }
            return { syms: out, n: w.n };
        });
    }
    // the long tail: a left piece (may start with the space mark Ġ) + a right piece without spaces or newlines
    const rng = new Rng(seed);
    const space = byteChars[0x20],
        nl = byteChars[0x0a];
    const rights = tokens.filter((t) => !t.includes(space) && !t.includes(nl));
    while (tokens.length < nNormal) {
        const a = tokens[rng.int(tokens.length)];
        const b = rights[rng.int(rights.length)];
        const t = a + b;
        if (have.has(t) || [...t].length > 12 || a.includes(nl)) continue;
        have.add(t);
        tokens.push(t);
        rights.push(t);
        merges.push(`${a} ${b}`);
    }
    return { tokens, merges };
}

const LLAMA3_TEMPLATE =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
const CHATML_TEMPLATE =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

function llama3Vocab(): BpeTokenizerData {
    const { tokens, merges } = byteLevelBpe(128000, 3);
    const types: number[] = tokens.map(() => TOKEN_TYPE.NORMAL);
    const named: Record<number, string> = {
        0: '<|begin_of_text|>',
        1: '<|end_of_text|>',
        4: '<|finetune_right_pad_id|>',
        6: '<|start_header_id|>',
        7: '<|end_header_id|>',
        8: '<|eom_id|>',
        9: '<|eot_id|>',
        10: '<|python_tag|>',
    };
    let reserved = 0;
    for (let i = 0; i < 256; i++) {
        tokens.push(named[i] ?? `<|reserved_special_token_${reserved++}|>`);
        types.push(TOKEN_TYPE.CONTROL);
    }
    return { model: 'gpt2', pre: 'llama-bpe', tokens, types, merges, bosId: 128000, eosId: 128009, padId: 128004, addBos: true, chatTemplate: LLAMA3_TEMPLATE };
}

function qwen2Vocab(): BpeTokenizerData {
    const { tokens, merges } = byteLevelBpe(151643, 5);
    const types: number[] = tokens.map(() => TOKEN_TYPE.NORMAL);
    const specials = [
        '<|endoftext|>',
        '<|im_start|>',
        '<|im_end|>',
        '<|object_ref_start|>',
        '<|object_ref_end|>',
        '<|box_start|>',
        '<|box_end|>',
        '<|quad_start|>',
        '<|quad_end|>',
        '<|vision_start|>',
        '<|vision_end|>',
        '<|vision_pad|>',
        '<|image_pad|>',
        '<|video_pad|>',
        '<tool_call>',
        '</tool_call>',
        '<|fim_prefix|>',
        '<|fim_middle|>',
        '<|fim_suffix|>',
        '<|fim_pad|>',
        '<|repo_name|>',
        '<|file_sep|>',
    ];
    for (const s of specials) {
        tokens.push(s);
        types.push(s.startsWith('<|') ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED);
    }
    while (tokens.length < 151936) {
        tokens.push(`[PAD${tokens.length}]`);
        types.push(TOKEN_TYPE.UNUSED);
    }
    return { model: 'gpt2', pre: 'qwen2', tokens, types, merges, bosId: 151643, eosId: 151645, padId: 151643, addBos: false, chatTemplate: CHATML_TEMPLATE };
}

/**
 * A 32,000-token SPM vocabulary laid out as Llama 2's: <unk> <s> </s>, <0x00>…<0xFF>, then pieces
 * (learned merges of ▁-escaped words, then random ones) scored -rank, then single characters last
 * (lowest scores), so llama.cpp's score-ordered bigram merge has real work to do.
 */
function spmVocab(): TokenizerData {
    const tokens = ['<unk>', '<s>', '</s>'];
    const types: number[] = [TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL];
    for (let b = 0; b < 256; b++) {
        tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
        types.push(TOKEN_TYPE.BYTE);
    }
    const chars = new Set<string>([SPACE]);
    for (const line of CORPUS) for (const ch of ` ${line}`.replaceAll(' ', SPACE)) chars.add(ch);
    const have = new Set<string>([...tokens, ...chars]);
    const pieces: string[] = [];
    // learned merges over words (each word with its ▁), most frequent pair first
    const words = new Map<string, number>();
    // words and punctuation apart (sentencepiece's split_by_unicode_script)
    const split = new RegExp(`${SPACE}?\\p{L}+|${SPACE}?\\p{N}|${SPACE}?[^${SPACE}\\p{L}\\p{N}]+`, 'gu');
    for (const line of CORPUS) for (const w of ` ${line}`.replaceAll(' ', SPACE).match(split) ?? []) words.set(w, (words.get(w) ?? 0) + 1);
    let segs = [...words.entries()].map(([w, n]) => ({ syms: [...w], n }));
    for (;;) {
        const counts = new Map<string, number>();
        for (const w of segs)
            for (let i = 0; i + 1 < w.syms.length; i++) {
                const p = `${w.syms[i]}\u0000${w.syms[i + 1]}`;
                counts.set(p, (counts.get(p) ?? 0) + w.n);
            }
        let best = '',
            bestN = 1;
        for (const [p, n] of counts)
            if (n > bestN) {
                best = p;
                bestN = n;
            }
        if (!best) break;
        const [a, b] = best.split('\u0000');
        if (!have.has(a + b)) {
            have.add(a + b);
            pieces.push(a + b);
        }
        segs = segs.map((w) => {
            const out: string[] = [];
            for (let i = 0; i < w.syms.length; i++) {
                if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
                    out.push(a + b);
                    i++;
                } else out.push(w.syms[i]);
            }
            return { syms: out, n: w.n };
        });
    }
    const rng = new Rng(7);
    const base = [...chars].filter((c) => c !== SPACE);
    const pool = [...pieces, ...base];
    const nPieces = 32000 - tokens.length - chars.size;
    while (pieces.length < nPieces) {
        const a = rng.next() < 0.4 ? SPACE + base[rng.int(base.length)] : pool[rng.int(pool.length)];
        const b = pool[rng.int(pool.length)];
        if (b.startsWith(SPACE)) continue;
        const t = a + b;
        if (have.has(t) || [...t].length > 10) continue;
        have.add(t);
        pieces.push(t);
        pool.push(t);
    }
    for (const p of pieces) {
        tokens.push(p);
        types.push(TOKEN_TYPE.NORMAL);
    }
    for (const c of chars) {
        tokens.push(c);
        types.push(TOKEN_TYPE.NORMAL);
    }
    const scores = tokens.map((_, i) => (types[i] === TOKEN_TYPE.NORMAL ? -(i - 259) : 0));
    return { model: 'llama', tokens, scores, types, bosId: 1, eosId: 2, unkId: 0, addBos: true, addEos: false, addSpacePrefix: true };
}

const vocabs = new Map<VocabKind, BpeTokenizerData | TokenizerData>();
/** The vocabulary of a shape (built once per process, deterministic). */
export function realVocab(shape: RealShape): BpeTokenizerData | TokenizerData {
    const kind = SPECS[shape].vocab;
    let v = vocabs.get(kind);
    if (!v) {
        v = kind === 'llama3-bpe' ? llama3Vocab() : kind === 'qwen2-bpe' ? qwen2Vocab() : spmVocab();
        vocabs.set(kind, v);
    }
    return v;
}

export interface RealGgufOptions extends RealShapeOptions {
    /** storage type of the matrices; default 'f16' (what people download, next to Q8_0) */
    type?: WeightType;
    seed?: number;
    /** multiplies every random matrix (not norms, not rope_freqs): larger weights make attention and positions matter */
    scale?: number;
    /**
     * multiplies attn_output and ffn_down on top of `scale` (GPT-2's 1/√(2·layers) residual scaling):
     * each block then nudges the residual stream instead of replacing it, as in trained models. Without
     * it a deep random model is chaotic: an ulp of difference at layer 1 grows to a different output.
     */
    residualScale?: number;
}

export interface RealGguf {
    path: string;
    config: LlamaConfig;
}

/** Version of what this module writes: part of the cache key. */
const FIXTURE_VERSION = 2;

/** Writes (or finds in the cache) a GGUF of a real model's shape at random weights. */
export function realShapeGguf(shape: RealShape, opts: RealGgufOptions = {}): RealGguf {
    if (opts.width === 'real') throw new Error(`realShapeGguf: the real width of ${shape} would write gigabytes; use realConfig for its shape`);
    const config = realConfig(shape, opts);
    const type = opts.type ?? 'f16';
    const seed = opts.seed ?? 1;
    const scale = opts.scale ?? 1;
    const residualScale = opts.residualScale ?? 1;
    const key = createHash('sha256')
        .update(JSON.stringify({ v: FIXTURE_VERSION, shape, config, type, seed, scale, ...(residualScale !== 1 ? { residualScale } : {}) }))
        .digest('hex')
        .slice(0, 16);
    const dir = join(tmpdir(), 'mismatch-real-shapes');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${shape}-${type}-${key}.gguf`);
    if (!existsSync(path)) {
        const vocab = realVocab(shape);
        const tensors = initLlamaWeights(config, seed);
        for (const [n, t] of tensors) {
            if (n.endsWith('norm.weight') || n === 'rope_freqs.weight') continue;
            const f = scale * (/attn_output|ffn_down/.test(n) ? residualScale : 1);
            if (f !== 1) for (let i = 0; i < t.data.length; i++) t.data[i] *= f;
        }
        writeLlamaGguf(path, { config, tokenizer: vocab, tensors, type, name: `${shape} (random weights)` });
    }
    return { path, config };
}

/** general.file_type of a file whose matrices are all of one type (llama.cpp's LLAMA_FTYPE). */
const FILE_TYPE: Partial<Record<GgmlType, number>> = { [GgmlType.F16]: 1, [GgmlType.Q8_0]: 7, [GgmlType.Q4_K]: 15 };

/**
 * A GGUF of `config` at random weights (N(0, 1/in) matrices, unit norms, Llama 3 rope factors), its
 * matrices in `type` (quantized by ggml), norms in F32, one tensor widened at a time: for the memory
 * and speed measurements at real scale, where realShapeGguf's F32 initialisation would not fit.
 * Written to a temporary name first, so an interrupted write never leaves a file that looks whole.
 */
export function writeRandomLlamaGguf(path: string, config: LlamaConfig, vocab: BpeTokenizerData | TokenizerData, o: { type: GgmlType; seed: number; name: string }): void {
    const md: [string, GgufValue][] = [
        ['general.architecture', gv.str('llama')],
        ['general.name', gv.str(o.name)],
        ['general.alignment', gv.u32(32)],
        ...(FILE_TYPE[o.type] !== undefined ? ([['general.file_type', gv.u32(FILE_TYPE[o.type]!)]] as [string, GgufValue][]) : []),
        ['llama.vocab_size', gv.u32(config.vocabSize)],
        ['llama.context_length', gv.u32(config.nCtx)],
        ['llama.embedding_length', gv.u32(config.nEmbd)],
        ['llama.block_count', gv.u32(config.nLayer)],
        ['llama.feed_forward_length', gv.u32(config.nFf)],
        ['llama.attention.head_count', gv.u32(config.nHead)],
        ['llama.attention.head_count_kv', gv.u32(config.nHeadKv)],
        ['llama.attention.layer_norm_rms_epsilon', gv.f32(config.rmsEps)],
        ['llama.rope.freq_base', gv.f32(config.ropeTheta)],
        ['llama.rope.dimension_count', gv.u32(headDim(config))],
        ...tokenizerMetadata(vocab),
    ];
    const rng = new Rng(o.seed);
    const tensors: GgufTensorOut[] = [];
    for (const [name, shape] of llamaTensorShapes(config)) {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = new Float32Array(n);
        if (name === 'rope_freqs.weight') x.set(llama3RopeFreqs(headDim(config), config.ropeTheta, LLAMA32_ROPE_SCALING));
        else if (name.endsWith('norm.weight')) x.fill(1);
        else {
            const std = 1 / Math.sqrt(shape[0]);
            for (let i = 0; i < n; i++) x[i] = rng.normal() * std;
        }
        if (shape.length === 1) {
            tensors.push({ name, shape, data: x, type: 'f32' });
            continue;
        }
        const q = ggmlQuantize(o.type, x, shape[0]);
        tensors.push({ name, shape, data: o.type === GgmlType.F16 ? new Uint16Array(q.buffer, q.byteOffset, q.byteLength / 2) : q, type: { ggml: o.type } });
    }
    writeGguf(`${path}.tmp`, md, tensors);
    renameSync(`${path}.tmp`, path);
}
