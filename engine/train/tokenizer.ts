// A word-level tokenizer for small worlds, stored in GGUF as a llama.cpp SPM ("llama") vocabulary.
//
// Why SPM and a TypeScript re-implementation: llama.cpp tokenizes SPM vocabularies with a bigram merge
// over UTF-8 characters (src/llama-vocab.cpp `llm_tokenizer_spm_session`): the adjacent pair whose
// concatenation is a vocabulary token with the highest score merges first (ties: leftmost), until no
// pair is a token; symbols that are not tokens fall back to `<0xXX>` byte tokens. We put every word of
// the world in the vocabulary as `▁word` (and `word` where it follows punctuation) together with all
// its prefixes, so the merges always reach the whole word, and every single character seen, so nothing
// else falls back to bytes. `encode` below is the same algorithm step for step, so our token ids equal
// node-llama-cpp's `model.tokenize` (proved by test/train/gguf-tokenizer.test.ts on many strings).

import { gv, type GgufValue } from './gguf.js';

export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
export const SPACE = '\u2581'; // ▁

/** What is stored in the GGUF (tokenizer.ggml.*). */
export interface TokenizerData {
    model: 'llama';
    tokens: string[];
    scores: number[];
    types: number[];
    bosId: number;
    eosId: number;
    unkId: number;
    addBos: boolean;
    addEos: boolean;
    addSpacePrefix: boolean;
}

/**
 * A byte-level BPE vocabulary as GGUF stores it (tokenizer.ggml.model "gpt2"): Llama 3.x, Qwen2,
 * Mistral-Nemo… Tokenized by node-llama-cpp (llama.cpp's llm_tokenizer_bpe with the `pre` regexes),
 * never by us: a TypeScript copy of every pre-tokenizer would be a second source of truth.
 */
export interface BpeTokenizerData {
    model: 'gpt2';
    /** tokenizer.ggml.pre: the pre-tokenizer ('llama-bpe' for Llama 3, 'qwen2', …) */
    pre: string;
    /** token texts in GPT-2's byte-to-unicode alphabet (space = Ġ, newline = Ċ) */
    tokens: string[];
    types: number[];
    /** "left right" pairs in merge order (rank = index) */
    merges: string[];
    bosId: number;
    eosId: number;
    padId?: number;
    addBos: boolean;
    /** tokenizer.chat_template (Jinja), for instruct models */
    chatTemplate?: string;
}

export function bpeTokenizerMetadata(t: BpeTokenizerData): [string, GgufValue][] {
    return [
        ['tokenizer.ggml.model', gv.str('gpt2')],
        ['tokenizer.ggml.pre', gv.str(t.pre)],
        ['tokenizer.ggml.tokens', gv.strs(t.tokens)],
        ['tokenizer.ggml.token_type', gv.i32s(t.types)],
        ['tokenizer.ggml.merges', gv.strs(t.merges)],
        ['tokenizer.ggml.bos_token_id', gv.u32(t.bosId)],
        ['tokenizer.ggml.eos_token_id', gv.u32(t.eosId)],
        ...(t.padId !== undefined ? [['tokenizer.ggml.padding_token_id', gv.u32(t.padId)] as [string, GgufValue]] : []),
        ['tokenizer.ggml.add_bos_token', gv.bool(t.addBos)],
        ...(t.chatTemplate !== undefined ? [['tokenizer.chat_template', gv.str(t.chatTemplate)] as [string, GgufValue]] : []),
    ];
}

/** GPT-2's byte-to-unicode map (bytes_to_unicode in its encoder.py): printable bytes map to themselves. */
export function gpt2ByteChars(): string[] {
    const bs: number[] = [];
    for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
    for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
    for (let b = 0xae; b <= 0xff; b++) bs.push(b);
    const cs = [...bs];
    let n = 0;
    for (let b = 0; b < 256; b++)
        if (!bs.includes(b)) {
            bs.push(b);
            cs.push(256 + n++);
        }
    const out: string[] = new Array(256);
    bs.forEach((b, i) => {
        out[b] = String.fromCodePoint(cs[i]);
    });
    return out;
}

export interface Tokenizer {
    readonly data: TokenizerData;
    readonly vocabSize: number;
    readonly bosId: number;
    readonly eosId: number;
    readonly unkId: number;
    /**
     * Token ids of `text` exactly as llama.cpp tokenizes it (no BOS/EOS; SPM space prefix added).
     * `trimLeadingSpace`: no space prefix, as node-llama-cpp's `model.tokenize(text, false,
     * "trimLeadingSpace")`, which LlamaCompletion uses for the text right after the BOS.
     */
    encode(text: string, mode?: 'trimLeadingSpace'): number[];
    /** Text of `ids` exactly as node-llama-cpp's `model.detokenize` gives it (control tokens dropped). */
    decode(ids: readonly number[]): string;
    /** Number of tokens that had to fall back to bytes or unknown: 0 means every word is in the vocabulary. */
    countFallback(text: string): { bytes: number; unknown: number };
    tokenText(id: number): string;
}

function utf8Len(firstByte: number): number {
    // llama.cpp unicode_len_utf8: lookup by the high 4 bits
    const lookup = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    return lookup[(firstByte & 0xff) >> 4];
}

class SpmTokenizer implements Tokenizer {
    readonly data: TokenizerData;
    private readonly index = new Map<string, number>();
    private readonly byteIds: number[] = new Array(256).fill(-1);
    private readonly decoder = new TextDecoder('utf-8', { fatal: false });
    constructor(data: TokenizerData) {
        this.data = data;
        // llama.cpp's token_to_id map: the first id wins when a text appears twice
        data.tokens.forEach((t, i) => {
            if (!this.index.has(t)) this.index.set(t, i);
        });
        for (let b = 0; b < 256; b++) {
            const id = this.index.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
            if (id !== undefined) this.byteIds[b] = id;
        }
    }
    get vocabSize() {
        return this.data.tokens.length;
    }
    get bosId() {
        return this.data.bosId;
    }
    get eosId() {
        return this.data.eosId;
    }
    get unkId() {
        return this.data.unkId;
    }
    tokenText(id: number) {
        return this.data.tokens[id];
    }

    encode(text: string, mode?: 'trimLeadingSpace'): number[] {
        if (text.length === 0) return [];
        let s = this.data.addSpacePrefix && mode !== 'trimLeadingSpace' ? ` ${text}` : text;
        s = s.replaceAll(' ', SPACE);
        const bytes = Buffer.from(s, 'utf8');
        // symbols over byte ranges, as llama.cpp (it works on UTF-8 bytes)
        type Sym = { start: number; n: number; prev: number; next: number };
        const syms: Sym[] = [];
        let offs = 0;
        while (offs < bytes.length) {
            const len = Math.min(utf8Len(bytes[offs]), bytes.length - offs);
            const idx = syms.length;
            syms.push({ start: offs, n: len, prev: idx - 1, next: offs + len === bytes.length ? -1 : idx + 1 });
            offs += len;
        }
        const textOf = (start: number, n: number) => bytes.toString('latin1', start, start + n);
        // the vocabulary is looked up by the UTF-8 bytes of each token: build a latin1 view of it lazily
        const lookup = (start: number, n: number) => this.byBytes().get(textOf(start, n));
        // binary heap ordered as llama.cpp's comparator: higher score first, then smaller left index
        type Big = { left: number; right: number; score: number; size: number };
        const heap: Big[] = [];
        const better = (a: Big, b: Big) => a.score > b.score || (a.score === b.score && a.left < b.left);
        const push = (b: Big) => {
            heap.push(b);
            let i = heap.length - 1;
            while (i > 0) {
                const p = (i - 1) >> 1;
                if (!better(heap[i], heap[p])) break;
                [heap[i], heap[p]] = [heap[p], heap[i]];
                i = p;
            }
        };
        const pop = (): Big => {
            const top = heap[0];
            const last = heap.pop()!;
            if (heap.length > 0) {
                heap[0] = last;
                let i = 0;
                for (;;) {
                    const l = 2 * i + 1,
                        r = l + 1;
                    let m = i;
                    if (l < heap.length && better(heap[l], heap[m])) m = l;
                    if (r < heap.length && better(heap[r], heap[m])) m = r;
                    if (m === i) break;
                    [heap[i], heap[m]] = [heap[m], heap[i]];
                    i = m;
                }
            }
            return top;
        };
        const revMerge = new Map<string, [number, number]>();
        const tryAdd = (left: number, right: number) => {
            if (left === -1 || right === -1) return;
            const size = syms[left].n + syms[right].n;
            const id = lookup(syms[left].start, size);
            if (id === undefined) return;
            push({ left, right, score: this.data.scores[id], size });
            revMerge.set(textOf(syms[left].start, size), [left, right]);
        };
        for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
        while (heap.length > 0) {
            const b = pop();
            const l = syms[b.left],
                r = syms[b.right];
            if (l.n === 0 || r.n === 0 || l.n + r.n !== b.size) continue;
            l.n += r.n;
            r.n = 0;
            l.next = r.next;
            if (r.next >= 0) syms[r.next].prev = b.left;
            tryAdd(l.prev, b.left);
            tryAdd(b.left, l.next);
        }
        const out: number[] = [];
        const resegment = (i: number) => {
            const sym = syms[i];
            const id = lookup(sym.start, sym.n);
            if (id !== undefined) {
                out.push(id);
                return;
            }
            const p = revMerge.get(textOf(sym.start, sym.n));
            if (!p) {
                for (let j = 0; j < sym.n; j++) {
                    const bid = this.byteIds[bytes[sym.start + j]];
                    out.push(bid >= 0 ? bid : this.data.unkId);
                }
                return;
            }
            resegment(p[0]);
            resegment(p[1]);
        };
        for (let i = 0; i !== -1; i = syms[i].next) resegment(i);
        return out;
    }

    private _byBytes?: Map<string, number>;
    /** token text as a latin1 string of its UTF-8 bytes -> id */
    private byBytes(): Map<string, number> {
        if (!this._byBytes) {
            this._byBytes = new Map();
            this.data.tokens.forEach((t, i) => {
                const k = Buffer.from(t, 'utf8').toString('latin1');
                if (!this._byBytes!.has(k)) this._byBytes!.set(k, i);
            });
        }
        return this._byBytes;
    }

    decode(ids: readonly number[]): string {
        // llama.cpp detokenize: pieces joined; ▁ -> space; byte tokens are raw bytes; control tokens
        // give nothing; the leading space of the first piece is removed when add_space_prefix is set.
        const parts: number[] = [];
        let removeSpace = this.data.addSpacePrefix;
        for (const id of ids) {
            const type = this.data.types[id];
            let piece: Buffer;
            // control and unknown tokens print nothing (token_to_piece with special=false)
            if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN) piece = Buffer.alloc(0);
            else if (type === TOKEN_TYPE.BYTE) piece = Buffer.from([parseInt(this.data.tokens[id].slice(3, 5), 16)]);
            else piece = Buffer.from(this.data.tokens[id].replaceAll(SPACE, ' '), 'utf8');
            let start = 0;
            if (removeSpace && piece.length > 0 && piece[0] === 0x20) start = 1;
            removeSpace = false; // only the first token's leading space (llama_vocab::impl::detokenize)
            for (let i = start; i < piece.length; i++) parts.push(piece[i]);
        }
        return this.decoder.decode(new Uint8Array(parts));
    }

    countFallback(text: string) {
        let bytes = 0,
            unknown = 0;
        for (const id of this.encode(text)) {
            if (id === this.data.unkId) unknown++;
            else if (this.data.types[id] === TOKEN_TYPE.BYTE) bytes++;
        }
        return { bytes, unknown };
    }
}

export function tokenizerFromData(data: TokenizerData): Tokenizer {
    return new SpmTokenizer(data);
}

/** Splits escaped text (spaces already ▁) into the segments that become whole tokens. */
function segments(escaped: string): string[] {
    // a word: an optional ▁ then letters/digits/marks/apostrophes-inside; punctuation: one character,
    // with its ▁ when a space precedes it; a lone ▁ (several spaces, trailing space)
    const re = new RegExp(`${SPACE}?[\\p{L}\\p{N}\\p{M}]+|${SPACE}?[^${SPACE}\\p{L}\\p{N}\\p{M}]|${SPACE}`, 'gu');
    return escaped.match(re) ?? [];
}

export interface BuildTokenizerOptions {
    /** texts whose words make up the vocabulary */
    texts?: readonly string[];
    /** extra words (each gets `▁word` and `word`) */
    words?: readonly string[];
    /** add the space prefix (llama.cpp SPM default): true */
    addSpacePrefix?: boolean;
}

/**
 * Builds a word-level SPM vocabulary: ids 0..2 are <unk>, <s>, </s>; 3..258 the byte tokens <0x00>..<0xFF>;
 * then ▁, every character seen, every word segment and all its prefixes, in first-seen order
 * (deterministic). Scores are the token's length in characters, so longer pieces merge first.
 */
export function buildTokenizer(input: readonly string[] | BuildTokenizerOptions): Tokenizer {
    const opts: BuildTokenizerOptions = Array.isArray(input) ? { texts: input as readonly string[] } : (input as BuildTokenizerOptions);
    const addSpacePrefix = opts.addSpacePrefix ?? true;
    const tokens: string[] = ['<unk>', '<s>', '</s>'];
    const types: number[] = [TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL];
    for (let b = 0; b < 256; b++) {
        tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
        types.push(TOKEN_TYPE.BYTE);
    }
    const seen = new Set<string>(tokens);
    const add = (t: string) => {
        if (seen.has(t)) return;
        seen.add(t);
        tokens.push(t);
        types.push(TOKEN_TYPE.NORMAL);
    };
    add(SPACE);
    const addSegment = (seg: string) => {
        const chars = [...seg];
        for (const c of chars) add(c);
        for (let i = 2; i <= chars.length; i++) add(chars.slice(0, i).join(''));
    };
    for (const text of opts.texts ?? []) {
        const escaped = (addSpacePrefix ? ` ${text}` : text).replaceAll(' ', SPACE);
        for (const seg of segments(escaped)) addSegment(seg);
        // the same words without the preceding space (after punctuation, at a line start)
    }
    for (const w of opts.words ?? []) {
        for (const seg of segments(w.replaceAll(' ', SPACE))) {
            addSegment(seg.startsWith(SPACE) ? seg : SPACE + seg);
            addSegment(seg.startsWith(SPACE) ? seg.slice(1) : seg);
        }
    }
    const scores = tokens.map((t, i) => (types[i] === TOKEN_TYPE.NORMAL ? [...t].length : 0));
    return new SpmTokenizer({ model: 'llama', tokens, scores, types, bosId: 1, eosId: 2, unkId: 0, addBos: true, addEos: false, addSpacePrefix });
}
