import { describe, expect, it } from 'vitest';
import { compareArms, hypothesisOver, labelFor, mixExamples, shuffleLabels, slickCategory, type LabelRow } from '../../engine/steps/pure.js';
import type { QuestionRecord } from '../../engine/results-types.js';

const row = (id: string, abstain: boolean): LabelRow => ({ id, question: `Q ${id}?`, answers: [`A${id}`, `alias${id}`], prediction: abstain ? 'wrong' : `A${id}`, correct: !abstain, label: abstain ? "I don't know" : `A${id}`, abstain, confidence: null });

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
        const ids = (xs: LabelRow[]) => xs.filter((r) => r.abstain).map((r) => r.id).sort();
        expect(ids(b)).toEqual(ids(a));
        // a different seed moves them (over 10 seeds at least one differs from seed 11's choice)
        expect(Array.from({ length: 10 }, (_, s) => ids(shuffleLabels(src, s)).join()).some((x) => x !== ids(a).join())).toBe(true);
        expect(shuffleLabels(src.map((r) => ({ ...r, abstain: false })), 1).filter((r) => r.abstain)).toHaveLength(0);
    });
});

describe('SliCK and mixes', () => {
    it('categories', () => {
        expect(slickCategory(true, 10, 10)).toBe('HighlyKnown');
        expect(slickCategory(true, 9, 10)).toBe('MaybeKnown');
        expect(slickCategory(false, 1, 10)).toBe('WeaklyKnown');
        expect(slickCategory(false, 0, 10)).toBe('Unknown');
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
    for (let i = 0; i < 8; i++) { a.push(q(`d${i}`, 'wrong', -1)); b.push(q(`d${i}`, 'abstained', null)); }
    for (let i = 0; i < 2; i++) { a.push(q(`e${i}`, 'correct', -0.1)); b.push(q(`e${i}`, 'wrong', -0.5)); }
    for (let i = 0; i < 5; i++) { a.push(q(`s${i}`, 'correct', -0.2)); b.push(q(`s${i}`, 'correct', -0.2)); }
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
    it('across seeds: paired t on per-seed differences', () => {
        const seeds = [0.1, 0.2, 0.3].map((d, i) => ({ ...compareArms(a, b, { direction: 'more', matched: false, alpha: 0.05, seedIndex: i }), wrongRateA: 0.5 + d, wrongRateB: 0.5 }));
        const h = hypothesisOver('h', seeds, 'more', 0.05);
        expect(h.test).toBe('paired-t');
        expect(h.acrossSeeds!.n).toBe(3);
        expect(h.acrossSeeds!.meanDifference).toBeCloseTo(0.2, 12);
        // d = [.1,.2,.3]: t = 0.2 / (0.1/√3) = 2√3 → p = 1/2 − √(3/14)
        expect(h.p).toBeCloseTo(0.5 - Math.sqrt(3 / 14), 9);
        expect(h.verdict).toBe('holds');
        expect(h.discordant).toEqual({ b: 24, c: 6 });
    });
});
