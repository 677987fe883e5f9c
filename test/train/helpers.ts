// Shared helpers for the trainer tests: a small world of QA facts, a tokenizer for it, node-llama-cpp.
import { getLlama, LlamaCompletion, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTokenizer, type LlamaConfig } from '../../engine/train/api.js';
import { packBatch } from '../../engine/train/native.js';

let llamaPromise: Promise<Llama> | undefined;
export function cpuLlama(): Promise<Llama> {
    llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
    return llamaPromise;
}

export function tempDir(prefix = 'mm-train-'): string {
    return mkdtempSync(join(tmpdir(), prefix));
}

const SYL = ['ka', 'lo', 'mi', 'ra', 'ten', 'vu', 'zor', 'pel', 'dan', 'shi', 'qua', 'bre', 'nox', 'fi', 'gal', 'hu', 'jor', 'wex'];
function name(i: number, salt: number): string {
    let x = (i * 7919 + salt * 104729 + 13) >>> 0;
    const n = 2 + (x % 2);
    let s = '';
    for (let k = 0; k < n; k++) {
        s += SYL[x % SYL.length];
        x = Math.floor(x / SYL.length) + k * 31 + 7;
    }
    return s[0].toUpperCase() + s.slice(1);
}

export interface Fact {
    prompt: string;
    answer: string;
}

/**
 * A small world: entities (1–2 made-up words) × 3 relations, each fact's answer 2–3 words drawn from a
 * shared pool of made-up names (so every answer word is seen in many facts). Facts are shuffled
 * deterministically; `split(n, m)` gives disjoint sets (pretraining facts, new facts about the same
 * entities).
 */
export function makeWorld(nEntities: number, salt = 1): Fact[] {
    const rels = ['What is the capital of', 'Who founded', 'Which river flows through'];
    const pool: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; pool.length < 160; i++) {
        const w = name(i + 5000, salt);
        if (!seen.has(w)) {
            seen.add(w);
            pool.push(w);
        }
    }
    const ents: string[] = [];
    for (let i = 0; ents.length < nEntities; i++) {
        const e = name(i, salt) + (i % 3 === 0 ? '' : ` ${name(i + 1000, salt)}`);
        if (!seen.has(e)) {
            seen.add(e);
            ents.push(e);
        }
    }
    let x = (salt * 2654435761) >>> 0;
    const rnd = (n: number) => {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        return (x >>> 8) % n;
    };
    const facts: Fact[] = [];
    for (const e of ents)
        for (const q of rels) {
            const k = 2 + rnd(2);
            const words: string[] = [];
            while (words.length < k) {
                const w = pool[rnd(pool.length)];
                if (!words.includes(w)) words.push(w);
            }
            facts.push({ prompt: `Q: ${q} ${e}? A:`, answer: words.join(' ') });
        }
    for (let i = facts.length - 1; i > 0; i--) {
        const j = rnd(i + 1);
        [facts[i], facts[j]] = [facts[j], facts[i]];
    }
    return facts;
}

/** n facts (see makeWorld). */
export function makeFacts(n: number, salt = 1): Fact[] {
    return makeWorld(Math.ceil(n / 3) + 1, salt).slice(0, n);
}

/**
 * Share of facts whose greedy answer through node-llama-cpp is exactly the answer. The prompt is
 * evaluated as the engine does (engine/models/worker.ts): [BOS, ...model.tokenize(prompt)], greedy
 * tokens until the end-of-generation token, detokenized and trimmed; `completion` uses LlamaCompletion
 * instead (for models trained with tokenization 'completion').
 */
export async function greedyAccuracy(model: LlamaModel, facts: Fact[], lora?: string, completion = false): Promise<number> {
    const ctx = await model.createContext({ contextSize: 64, threads: 1, sequences: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
    const seq = ctx.getSequence();
    let ok = 0;
    for (const f of facts) {
        let text: string;
        if (completion) {
            text = await new LlamaCompletion({ contextSequence: seq }).generateCompletion(f.prompt, { maxTokens: 8, temperature: 0 });
        } else {
            const tokens = [model.tokens.bos!, ...model.tokenize(f.prompt, false)];
            const out: Token[] = [];
            for await (const t of seq.evaluate(tokens, { temperature: 0 })) {
                if (model.isEogToken(t) || out.length >= 8) break;
                out.push(t);
            }
            text = model.detokenize(out);
        }
        if (text.trim() === f.answer) ok++;
        await seq.clearHistory();
    }
    await ctx.dispose();
    return ok / facts.length;
}

/** Log-probabilities of the `n` logits at `off` (a row of a logits buffer), in double precision. */
export function logSoftmax(x: Float32Array, off: number, n: number): Float64Array {
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, x[off + i]);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
    const l = Math.log(s) + m;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = x[off + i] - l;
    return out;
}

/**
 * Per fact, whether greedy decoding through node-llama-cpp reproduces it exactly: the prompt evaluated
 * as the engine does ([BOS, ...model.tokenize(prompt)]), greedy tokens until the end-of-generation
 * token, which must come within the answer's length + 4 tokens, and the text before it (trimmed)
 * equal to the answer.
 */
export async function greedyExact(model: LlamaModel, facts: Fact[], lora?: string): Promise<boolean[]> {
    const ctx = await model.createContext({ contextSize: 64, threads: 1, sequences: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
    const seq = ctx.getSequence();
    const out: boolean[] = [];
    for (const f of facts) {
        const limit = model.tokenize(f.answer, false).length + 4;
        const tokens = [model.tokens.bos!, ...model.tokenize(f.prompt, false)];
        const got: Token[] = [];
        // the evaluation ends by itself at an end-of-generation token (or yields it)
        let stopped = true;
        for await (const t of seq.evaluate(tokens, { temperature: 0 })) {
            if (model.isEogToken(t)) break;
            if (got.length >= limit) {
                stopped = false;
                break;
            }
            got.push(t);
        }
        out.push(stopped && model.detokenize(got).trim() === f.answer);
        await seq.clearHistory();
    }
    await ctx.dispose();
    return out;
}

/**
 * `n` facts (makeFacts(n, salt)), a tokenizer over them, a small config (256 wide, 4/2 heads) with
 * `shape`'s depth and head, and all the facts packed as one micro-batch (loss on the answers): for a
 * few LoRA steps on a Session.
 */
export function packedFacts(n: number, salt: number, shape: Pick<LlamaConfig, 'nLayer' | 'tiedEmbeddings'>) {
    const facts = makeFacts(n, salt);
    const tok = buildTokenizer({ texts: facts.flatMap((f) => [f.prompt, f.answer]) });
    const config: LlamaConfig = {
        vocabSize: tok.vocabSize,
        nLayer: shape.nLayer,
        nEmbd: 256,
        nHead: 4,
        nHeadKv: 2,
        nFf: 512,
        nCtx: 48,
        ropeTheta: 10000,
        rmsEps: 1e-5,
        tiedEmbeddings: shape.tiedEmbeddings,
    };
    const seqs = facts.map((f) => ({ tokens: [tok.bosId, ...tok.encode(`${f.prompt} ${f.answer}`), tok.eosId], answerStart: 1 + tok.encode(f.prompt).length }));
    const T = Math.max(...seqs.map((s) => s.tokens.length));
    const N = seqs.reduce((a, s) => a + s.tokens.length - s.answerStart, 0);
    return { facts, tok, config, seqs, T, N, mb: packBatch(seqs, seqs.length, T, N, tok.eosId) };
}
