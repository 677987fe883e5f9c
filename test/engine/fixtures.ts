// Test fixtures for the engine: real tiny llama GGUF models written with the trainer's GGUF writer
// (random weights: real inference through node-llama-cpp, meaningless answers), and tiny datasets.
import { PassThrough } from 'node:stream';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTokenizer, initLlamaWeights, writeLlamaGguf, DEFAULT_RMS_EPS, DEFAULT_ROPE_THETA } from '../../engine/train/api.js';

export function tempDir(prefix = 'mm-engine-'): string {
    return mkdtempSync(join(tmpdir(), prefix));
}

export const QUESTIONS = Array.from({ length: 24 }, (_, i) => ({
    id: `q${i}`,
    question: `What is the capital of Land${i}?`,
    answer: `City${i % 5}`,
}));

/**
 * 16,000 filler words: with them a tiny model's vocabulary is real-sized (~16k tokens), so every
 * greedy token is a top-1 choice over a real vocabulary and sampling takes long enough for
 * concurrent samplers to overlap.
 */
export const LARGE_VOCABULARY = Array.from({ length: 8000 }, (_, i) => `w${i} v${i}`);

/** A random-weight llama model (1 layer, 32 wide) whose vocabulary covers `texts`: by default the QUESTIONS and their answers. */
export function makeTinyModel(dir: string, seed = 1, name = 'tiny', texts = [...QUESTIONS.flatMap((q) => [q.question, q.answer]), "I don't know"]): string {
    const tokenizer = buildTokenizer(texts);
    const config = { vocabSize: tokenizer.vocabSize, nLayer: 1, nEmbd: 32, nHead: 2, nHeadKv: 2, nFf: 64, nCtx: 128, ropeTheta: DEFAULT_ROPE_THETA, rmsEps: DEFAULT_RMS_EPS, tiedEmbeddings: false };
    const tensors = initLlamaWeights(config, seed);
    const path = join(dir, `${name}.gguf`);
    writeLlamaGguf(path, { config, tokenizer, tensors, name });
    return path;
}

export function writeQuestionsJsonl(dir: string): string {
    const p = join(dir, 'questions.jsonl');
    writeFileSync(p, QUESTIONS.map((q) => JSON.stringify({ id: q.id, question: q.question, answer: q.answer })).join('\n') + '\n');
    return p;
}

/** The CLI's output streams, captured: what `mismatch` wrote to stdout and stderr. */
export function captureIo() {
    const out = new PassThrough();
    const err = new PassThrough();
    let o = '';
    let e = '';
    out.on('data', (d) => (o += d));
    err.on('data', (d) => (e += d));
    return { io: { out: out as unknown as NodeJS.WriteStream, err: err as unknown as NodeJS.WriteStream }, stdout: () => o, stderr: () => e, text: () => o + e };
}
