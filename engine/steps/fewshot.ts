/**
 * Few-shot exemplars, drawn per question (and per prompt, for SliCK's several prompts), seeded, from
 * a pool that never holds the asked question.
 *
 * The pool is the dataset's `train` split. A step that answers the train split itself (labelling,
 * SliCK on the training questions) draws from the other training questions; an evaluate step never
 * draws from the split it evaluates (the language refuses such a spec, and `fewShotPool` refuses it
 * again here for plans built by other means). Exemplars are chosen by a generator seeded with
 * (seed, question id, prompt index): independent of row order and of which other questions are asked,
 * so a resumed or re-ordered run draws the same ones.
 */
import type { FewShotExample } from '../models/types.js';
import { makeRng } from '../world/rng.js';

export const FEW_SHOT_SPLIT = 'train';

interface PoolRecord {
    id: string;
    question: string;
    answers: string[];
    split?: string;
}

export interface FewShotPool {
    records: PoolRecord[];
}

/**
 * The exemplar pool of a step that answers `split` of a dataset, or an explanation of why there is
 * none. `evaluates`: the step is an evaluation, so its split must not be the pool.
 */
export function fewShotPool(all: PoolRecord[], split: string, evaluates: boolean, stepName: string): FewShotPool {
    const train = all.filter((r) => r.split === FEW_SHOT_SPLIT).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (train.length === 0) {
        const names = [...new Set(all.map((r) => r.split))].join(', ');
        throw new Error(`${stepName}: few-shot exemplars are drawn from the dataset's \`${FEW_SHOT_SPLIT}\` split, and it has none (its splits: ${names || 'none'})`);
    }
    if (evaluates && split === FEW_SHOT_SPLIT) {
        throw new Error(`${stepName}: few-shot exemplars would come from the split under evaluation (${split}); evaluate another split than \`${FEW_SHOT_SPLIT}\``);
    }
    return { records: train };
}

/** k exemplars for one question (and prompt), never the question itself (by id or by text). */
export function fewShotFor(pool: FewShotPool, asked: { id: string; question: string }, k: number, seed: number, prompt = 0): FewShotExample[] {
    if (k <= 0) return [];
    const rs = pool.records;
    const eligible = rs.filter((r) => r.id !== asked.id && r.question !== asked.question).length;
    if (eligible < k) throw new Error(`few-shot: ${k} exemplars asked for question ${asked.id}, but the pool holds only ${eligible} other questions`);
    const rng = makeRng(`fewshot:${seed}:${asked.id}:${prompt}`);
    const chosen = new Set<number>();
    const out: FewShotExample[] = [];
    // Rejection sampling: k is small against the pool, so a few draws suffice; with a pool barely
    // larger than k, fall back to a seeded shuffle of the eligible records.
    for (let tries = 0; out.length < k && tries < 64 * k; tries++) {
        const i = rng.int(rs.length);
        const r = rs[i];
        if (chosen.has(i) || r.id === asked.id || r.question === asked.question) continue;
        chosen.add(i);
        out.push({ question: r.question, answer: r.answers[0] });
    }
    if (out.length < k) {
        const rest = rng.shuffle(rs.filter((r, i) => !chosen.has(i) && r.id !== asked.id && r.question !== asked.question));
        for (const r of rest.slice(0, k - out.length)) out.push({ question: r.question, answer: r.answers[0] });
    }
    return out;
}
