import { describe, expect, it } from 'vitest';
import { compareArms, hypothesisOver } from '../../engine/steps/hypothesis-executor.js';
import { slickCategory } from '../../engine/steps/knowledge-executor.js';
import { labelFor } from '../../engine/steps/label-executor.js';
import { mixExamples } from '../../engine/steps/mix-executor.js';
import { shuffleLabels } from '../../engine/steps/shuffle-executor.js';
import type { LabelRow } from '../../engine/steps/step-io.js';
import type { QuestionRecord } from '../../engine/results-types.js';

const row = (id: string, abstain: boolean): LabelRow => ({
    id,
    question: `Q ${id}?`,
    answers: [`A${id}`, `alias${id}`],
    prediction: abstain ? 'wrong' : `A${id}`,
    correct: !abstain,
    label: abstain ? "I don't know" : `A${id}`,
    abstain,
    confidence: null,
});

describe('labels and the shuffle control', () => {
    it('R-Tuning labels', () => {
        expect(labelFor(['Paris', 'paris'], true, 'IDK')).toEqual({ label: 'Paris', abstain: false });
        expect(labelFor(['Paris'], false, 'IDK')).toEqual({ label: 'IDK', abstain: true });
    });
    it('same number of abstentions, gold elsewhere, seeded and independent of row order', () => {
        const src = Array.from({ length: 10 }, (_, i) => row(`q${i}`, i < 3)); // 3 abstentions on q0..q2
        const a = shuffleLabels(src, 11);
        expect(a.filter((r) => r.abstain)).toHaveLength(3);
        for (const r of a) expect(r.label).toBe(r.abstain ? "I don't know" : r.answers[0]);
        const b = shuffleLabels(src.slice().reverse(), 11);
        const ids = (xs: LabelRow[]) =>
            xs
                .filter((r) => r.abstain)
                .map((r) => r.id)
                .sort();
        expect(ids(b)).toEqual(ids(a));
        // a different seed moves them (over 10 seeds at least one differs from seed 11's choice)
        expect(Array.from({ length: 10 }, (_, s) => ids(shuffleLabels(src, s)).join()).some((x) => x !== ids(a).join())).toBe(true);
        expect(
            shuffleLabels(
                src.map((r) => ({ ...r, abstain: false })),
                1,
            ).filter((r) => r.abstain),
        ).toHaveLength(0);
    });
});

describe('SliCK and mixes', () => {
    it('categories', () => {
        // Gekhman et al. 2024 §3: greedy right on all Nex prompts / on some / on none but a sample
        // at T = 0.5 is right / never right; the samples do not split HighlyKnown from MaybeKnown.
        expect(slickCategory(10, 10, 0)).toBe('HighlyKnown');
        expect(slickCategory(10, 10, 160)).toBe('HighlyKnown');
        expect(slickCategory(9, 10, 160)).toBe('MaybeKnown');
        expect(slickCategory(1, 10, 0)).toBe('MaybeKnown');
        expect(slickCategory(0, 10, 1)).toBe('WeaklyKnown');
        expect(slickCategory(0, 10, 0)).toBe('Unknown');
        expect(slickCategory(1, 1, 0)).toBe('HighlyKnown');
        expect(() => slickCategory(11, 10, 0)).toThrow(/SliCK/);
    });
    it('a 25% Unknown mix from 4 Unknown and 20 known questions has 16 examples, 4 Unknown', () => {
        const rows = Array.from({ length: 24 }, (_, i) => ({ id: `q${i}`, question: `Q${i}`, answers: [`A${i}`], category: (i < 4 ? 'Unknown' : 'HighlyKnown') as 'Unknown' | 'HighlyKnown' }));
        const m = mixExamples(rows, 0.25, 1);
        expect([m.size, m.unknown, m.known]).toEqual([16, 4, 12]);
        expect(m.rows.every((r) => r.label === r.answers[0])).toBe(true);
        expect(mixExamples(rows, 0, 1).size).toBe(20);
        expect(() => mixExamples(rows, 0.5, 1, 20)).toThrow(/needs 10 Unknown/);
    });
});

const q = (id: string, outcome: QuestionRecord['outcome'], confidence: number | null): QuestionRecord => ({ id, question: id, gold: ['x'], prediction: 'p', outcome, logprob: confidence, confidence });

describe('hypothesis computation', () => {
    // A: wrong on q1..q8 except where B is wrong; constructed so that b = 8, c = 2.
    const a: QuestionRecord[] = [];
    const b: QuestionRecord[] = [];
    for (let i = 0; i < 8; i++) {
        a.push(q(`d${i}`, 'wrong', -1));
        b.push(q(`d${i}`, 'abstained', null));
    }
    for (let i = 0; i < 2; i++) {
        a.push(q(`e${i}`, 'correct', -0.1));
        b.push(q(`e${i}`, 'wrong', -0.5));
    }
    for (let i = 0; i < 5; i++) {
        a.push(q(`s${i}`, 'correct', -0.2));
        b.push(q(`s${i}`, 'correct', -0.2));
    }
    it('raw: McNemar b=8, c=2 → one-sided p = 56/1024', () => {
        const r = compareArms(a, b, { direction: 'more', matched: false, alpha: 0.05, seedIndex: 0 });
        expect(r.discordant).toEqual({ b: 8, c: 2 });
        expect(r.p).toBeCloseTo(56 / 1024, 12);
        expect(r.verdict).toBe('does not hold');
        expect(r.coverage).toBeNull();
        expect(r.wrongRateA).toBeCloseTo(8 / 15, 12);
        expect(r.wrongRateB).toBeCloseTo(2 / 15, 12);
    });
    it('matched: A (15 answered) drops its 8 least confident answers to match B (7)', () => {
        const r = compareArms(a, b, { direction: 'more', matched: true, alpha: 0.05, seedIndex: 0 });
        expect(r.coverage).toBeCloseTo(7 / 15, 12);
        // the 8 dropped are the wrong ones at confidence -1: A is now never wrong; c = 2.
        expect(r.discordant).toEqual({ b: 0, c: 2 });
        expect(r.p).toBe(1);
    });
});

/**
 * One replicate of a comparison on `n` questions named `${prefix}q<i>`: A alone wrong on the first
 * `bOnly`, B alone wrong on the next `cOnly`, both right elsewhere. Replicates that redraw the split
 * get different prefixes (different questions); replicates on shared questions the same one.
 */
function replicate(prefix: string, n: number, bOnly: number, cOnly: number): { a: QuestionRecord[]; b: QuestionRecord[] } {
    const a: QuestionRecord[] = [];
    const b: QuestionRecord[] = [];
    for (let i = 0; i < n; i++) {
        const id = `${prefix}q${i}`;
        a.push(q(id, i < bOnly ? 'wrong' : 'correct', -0.1));
        b.push(q(id, i >= bOnly && i < bOnly + cOnly ? 'wrong' : 'correct', -0.1));
    }
    return { a, b };
}
const over = (reps: { a: QuestionRecord[]; b: QuestionRecord[] }[], context: { redrawn?: string[]; seeds?: number } = {}, matched = false) =>
    hypothesisOver(
        'h',
        reps.map((r, i) => compareArms(r.a, r.b, { direction: 'more', matched, alpha: 0.05, seedIndex: i })),
        'more',
        0.05,
        context,
    );

describe('hypotheses over replicates', () => {
    it('independent draws (questions differ): paired t over replicate differences, t interval, sign-flip beside', () => {
        // 10 questions each, b − c = 1, 2, 3 → differences .1, .2, .3: t = 0.2/(0.1/√3) = 2√3,
        // one-sided p = 1/2 − √(3/14) = 0.0371 (python3 scipy.stats.ttest_1samp(..., alternative='greater'));
        // 95% interval .2 ± t.ppf(.975, 2)·0.1/√3 = [−0.048414, 0.448414]; sign-flip: only all-plus reaches 0.6 → 1/8.
        const h = over([replicate('r0-', 10, 1, 0), replicate('r1-', 10, 2, 0), replicate('r2-', 10, 3, 0)], { redrawn: ['facts', 'splits', 'pretraining', 'finetuning'], seeds: 3 });
        expect(h.test).toBe('paired-t');
        expect(h.p).toBeCloseTo(0.5 - Math.sqrt(3 / 14), 9);
        expect(h.verdict).toBe('holds');
        expect(h.effect!.difference).toBeCloseTo(0.2, 12);
        expect(h.effect!.ci95[0]).toBeCloseTo(-0.048413771175032955, 8);
        expect(h.effect!.ci95[1]).toBeCloseTo(0.448413771175033, 8);
        expect(h.acrossSeeds!.signFlipP).toBeCloseTo(1 / 8, 12);
        expect(h.design).toMatchObject({ replicates: 3, compared: 3, unit: 'replicates', units: 3, sharedQuestions: false, redrawn: ['facts', 'splits', 'pretraining', 'finetuning'] });
        expect(h.discordant).toEqual({ b: 6, c: 0 });
        expect(h.notes).toBeUndefined();
    });
    it('3 seeds repeating one comparison on shared questions (b = 4, c = 2 each) is not p = 0: exact sign-flip = McNemar 22/64', () => {
        // Per question, the wrong-answer difference summed over 3 replicates: +3 on 4 questions, −3 on 2.
        // P(at least 4 of 6 signs +) = 22/64 = 0.34375, McNemar's one-sided exact p for b = 4, c = 2.
        const reps = [0, 1, 2].map(() => replicate('', 10, 4, 2));
        const h = over(reps, { redrawn: ['finetuning'], seeds: 3 });
        expect(h.test).toBe('sign-flip');
        expect(h.p).toBeCloseTo(22 / 64, 12);
        expect(h.verdict).toBe('does not hold');
        expect(h.design).toMatchObject({ unit: 'questions', units: 10, informative: 6, sharedQuestions: true, replicates: 3 });
        expect(h.design!.test).toMatch(/^exact sign-flip over questions/);
        // per-question differences [1,1,1,1,−1,−1,0,0,0,0]: mean .2, t interval over 10 questions
        // (python3: scipy.stats.t.ppf(.975, 9) · sd/√10) = [−0.364281, 0.764281]
        expect(h.effect!.difference).toBeCloseTo(0.2, 12);
        expect(h.effect!.ci95[0]).toBeCloseTo(-0.3642811372151657, 8);
        expect(h.effect!.ci95[1]).toBeCloseTo(0.7642811372151657, 8);
        // one replicate of it: exact McNemar, the same p
        const one = over([reps[0]]);
        expect(one.test).toBe('mcnemar');
        expect(one.p).toBeCloseTo(22 / 64, 12);
    });
    it('independent replicates with equal differences: no t test, exact sign-flip 1/8, and it says it cannot decide', () => {
        const h = over([replicate('r0-', 10, 1, 0), replicate('r1-', 10, 1, 0), replicate('r2-', 10, 1, 0)], { redrawn: ['splits'], seeds: 3 });
        expect(h.test).toBe('sign-flip');
        expect(h.p).toBeCloseTo(1 / 8, 12);
        expect(h.minAchievableP).toBeCloseTo(1 / 8, 12);
        expect(h.verdict).toBe('inconclusive');
        expect(h.notes!.join(' ')).toMatch(/all \+10\.0 pts: a t test is undefined/);
        expect(h.notes!.join(' ')).toMatch(/smallest p this test can give is 0\.13 ≥ α = 0\.05/);
    });
    it('one replicate left for an across-replicate test: says so, tests it by McNemar', () => {
        // replicate 2 cannot be matched (no confidences on the arm that answers more)
        const bad = replicate('r1-', 10, 3, 0);
        bad.a = bad.a.map((r) => ({ ...r, confidence: null }));
        bad.b = bad.b.map((r, i) => (i > 5 ? { ...r, outcome: 'abstained' as const } : r));
        const h = over([replicate('r0-', 10, 6, 0), bad], { redrawn: ['splits'], seeds: 2 }, true);
        expect(h.design).toMatchObject({ replicates: 2, compared: 1, unit: 'questions' });
        expect(h.test).toBe('mcnemar');
        expect(h.p).toBeCloseTo(1 / 64, 12); // b = 6, c = 0
        expect(h.notes!.join(' ')).toMatch(/replicate 2 could not be made: matched coverage needs confidences/);
        expect(h.notes!.join(' ')).toMatch(/across-replicate test needs at least 2 replicates; only 1 of 2/);
    });
    it('arms that did not answer the same questions, and seeds with nothing redrawn, are stated', () => {
        const r = replicate('', 10, 3, 0);
        r.a.push(q('extra1', 'wrong', -1), q('extra2', 'correct', -1));
        const h = over([r], { seeds: 5 });
        expect(h.notes!.join(' ')).toMatch(/did not answer the same questions: 2 answered by A only and 0 by B only/);
        expect(h.notes!.join(' ')).toMatch(/`seeds 5`, but nothing seeded upstream of this comparison is redrawn/);
        expect(h.design!.units).toBe(10);
        expect(h.discordant).toEqual({ b: 3, c: 0 });
    });
});
