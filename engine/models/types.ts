/**
 * What every generation backend (local GGUF in a child process, OpenAI-compatible server) offers the
 * steps: answer questions with a decoding, optionally several samples per question, with per-token
 * log-probabilities where the backend gives them.
 */
import type { Decoding } from '../../language/plan-types.js';

export interface FewShotExample {
    question: string;
    answer: string;
}

export interface GenerationItem {
    /** Question id (results are keyed by id and sample index). */
    id: string;
    question: string;
    /** Few-shot exemplars of this question's prompt (drawn per question; override the options' shared ones). */
    fewShot?: FewShotExample[];
}

export interface GenerationResult {
    id: string;
    /** 0 for the first (or only) sample. */
    sample: number;
    text: string;
    /** Number of generated tokens. */
    tokens: number;
    /** Log-probability of each generated token (null when the backend cannot give them). */
    logprobs: number[] | null;
    /** Why generation stopped. */
    finish: 'eos' | 'stop' | 'length' | 'error';
}

export interface GenerateOptions {
    /** Samples per question (SliCK); each sample i uses seed derived from (decoding.seed, id, i). */
    samples?: number;
    /** Decoding override for the samples (temperature). */
    fewShot?: FewShotExample[];
    onResult?: (r: GenerationResult) => void | Promise<void>;
    /**
     * The step's whole list of questions, of which `items` are the ones to answer (the rest are
     * stored already). A batched local model decodes fixed groups of this list (by question id), so
     * an answer does not depend on which others were stored (servers answer `items` only).
     */
    all?: GenerationItem[];
    signal?: AbortSignal;
    /** What a backend has to say while it works (a server leaving the rotation). */
    onLog?: (level: 'info' | 'warn', message: string) => void;
}

export interface Generator {
    readonly description: string;
    /** Whether answers come with token log-probabilities. */
    readonly logprobs: boolean;
    generate(items: GenerationItem[], decoding: Decoding, options?: GenerateOptions): Promise<GenerationResult[]>;
    close(): Promise<void>;
}

/** Per-item, per-sample sampling seed: independent of batching and order, so resumed runs match. */
export function itemSeed(decodingSeed: number | undefined, id: string, sample: number): number {
    let h = 2166136261 ^ (decodingSeed ?? 0);
    const s = `${id}#${sample}`;
    for (let i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = Math.imul(h, 16777619);
    }
    return h >>> 0;
}

/**
 * The prompt text for the 'raw' and custom templates (the 'chat' template is built from the
 * model's own chat template by the backend). Raw: the question as is (the embedded world's format:
 * question, space, answer, EOS); few-shot examples come first, one "question answer" per line.
 * Custom: the template with `{question}` replaced (and `{answer}` empty); few-shot examples are the
 * template filled with their question and answer, one per line.
 */
export function buildPrompt(template: string, question: string, fewShot: FewShotExample[] = []): string {
    if (template === 'raw' || template === '') {
        return [...fewShot.map((e) => `${e.question} ${e.answer}`), question].join('\n');
    }
    const fill = (q: string, a: string) => template.replaceAll('{question}', q).replaceAll('{answer}', a);
    return [...fewShot.map((e) => (template.includes('{answer}') ? fill(e.question, e.answer) : `${fill(e.question, '')} ${e.answer}`)), fill(question, '')].join('\n');
}

/** Cuts generated text at the first stop string; returns whether one was found. */
export function applyStops(text: string, stops: string[]): { text: string; stopped: boolean } {
    let cut = -1;
    for (const s of stops) {
        if (!s) continue;
        const i = text.indexOf(s);
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    return cut >= 0 ? { text: text.slice(0, cut), stopped: true } : { text, stopped: false };
}
