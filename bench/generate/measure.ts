// What the generation benches share: CPU time of a process, the comparison of two runs' answers, and
// the random-weight model they generate with.
import { readFileSync } from 'node:fs';
import type { GenerationResult } from '../../engine/models/types.js';
import { buildTokenizer, DEFAULT_RMS_EPS, DEFAULT_ROPE_THETA, initLlamaWeights, writeLlamaGguf } from '../../engine/train/api.js';

/**
 * CPU time (user + system) of a process so far, in ms (Linux /proc, 10 ms ticks). Beside wall time:
 * on a loaded machine wall time measures the load as much as the work (llama.cpp's threads spin at
 * their barriers while a sibling is descheduled), the CPU time of the generating process much less.
 */
export function cpuOf(pid: number): number {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time of this process so far, in ms. */
export function cpuHere(): number {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
}

/**
 * Two runs' answers to the same questions (those of `b`): how many texts differ, how many answers are
 * bit-identical (text and every log-probability), and the largest log-probability difference over
 * the tokens both answers have.
 */
export function compareAnswers(a: Map<string, GenerationResult>, b: Map<string, GenerationResult>): { texts: number; identical: number; n: number; maxDiff: number } {
    let texts = 0;
    let identical = 0;
    let maxDiff = 0;
    for (const [id, x] of b) {
        const y = a.get(id)!;
        if (x.text !== y.text) texts++;
        const same = x.logprobs!.length === y.logprobs!.length && x.logprobs!.every((v, k) => v === y.logprobs![k]);
        if (same && x.text === y.text) identical++;
        for (let k = 0; k < Math.min(x.logprobs!.length, y.logprobs!.length); k++) maxDiff = Math.max(maxDiff, Math.abs(x.logprobs![k] - y.logprobs![k]));
    }
    return { texts, identical, n: b.size, maxDiff };
}

/** Writes the benches' random-weight llama (`layers` × `width`, 4 heads, FFN 3 × width) with a vocabulary of the questions' words. */
export function writeBenchModel(path: string, questions: string[], layers: number, width: number): void {
    const tok = buildTokenizer([...questions, 'City Town Village Harbor Mount']);
    const config = {
        vocabSize: tok.vocabSize,
        nLayer: layers,
        nEmbd: width,
        nHead: 4,
        nHeadKv: 4,
        nFf: width * 3,
        nCtx: 256,
        ropeTheta: DEFAULT_ROPE_THETA,
        rmsEps: DEFAULT_RMS_EPS,
        tiedEmbeddings: false,
    };
    writeLlamaGguf(path, { config, tokenizer: tok, tensors: initLlamaWeights(config, 1) });
}
