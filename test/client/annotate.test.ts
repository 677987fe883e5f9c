import { describe, expect, it } from 'vitest';
import { annotate, formatP, formatSeconds } from '../../client/annotate.js';
import type { Plan, Step } from '../../language/plan-types.js';
import type { ArmMetrics, HypothesisMetrics, StepResult } from '../../engine/results-types.js';

const file = '/w/spec.mismatch';
const range = (line: number, endLine = line) => ({ file, start: { line, character: 2 }, end: { line: endLine, character: 80 } });
const decoding = { temperature: 0, maxTokens: 24, stop: [], template: 'raw', fewShot: 0 };
function step(kind: Step['kind'], id: string, line: number, params: Record<string, unknown> = {}, stochastic = false): Step {
    return { kind, id, range: range(line), nameRange: { file, start: { line, character: 8 }, end: { line, character: 8 + id.length } }, inputs: [], key: `k-${id}`, stochastic, files: [], params } as unknown as Step;
}
function plan(steps: Step[], seeds = 1): Plan {
    return { experiment: 'E', file, seed: 7, seeds, alpha: 0.05, steps };
}
function result(s: Step, metrics: unknown, extra: Partial<StepResult> = {}): StepResult {
    return { step: s.id, kind: s.kind, key: `store-${s.id}`, status: 'done', cached: false, seconds: 3, metrics: metrics as StepResult['metrics'], finishedAt: '2026-11-25T08:00:00.000Z', ...extra };
}
function arm(name: string, correct: number, wrong: number, abstained: number): ArmMetrics {
    const total = correct + wrong + abstained;
    return { arm: name, correct, wrong, abstained, total, wrongRate: wrong / total, wrongAnsweredRate: wrong / (correct + wrong), aurc: 0.123, riskCoverage: [], byKnowledge: {} };
}
function hypothesis(verdict: HypothesisMetrics['verdict'], p: number, coverage: number | null, perSeed = 1): HypothesisMetrics {
    const seed = (i: number) => ({ seed: i + 1, holds: verdict === 'holds', verdict, test: 'mcnemar' as const, p, discordant: { b: 30, c: 9 }, coverage, wrongRateA: 0.3, wrongRateB: 0.2, ci95: [0.02, 0.18] as [number, number] });
    return { name: 'h', holds: verdict === 'holds', verdict, test: 'mcnemar', p, discordant: { b: 30, c: 9 }, coverage, alpha: 0.05, perSeed: Array.from({ length: perSeed }, (_, i) => seed(i)) };
}

describe('annotate', () => {
    const ev = step('evaluate', 'ev', 25, { arms: [{ model: 'a' }], otherwise: '' });
    const ft = step('finetune', 'ft', 21, {}, true);
    const lb = step('label', 'byLarge', 17, { otherwise: "I don't know" });
    const sh = step('shuffle', 'shuffled', 19, { source: 'byLarge', seed: 11 });
    const md = step('model', 'small', 11, {});
    const hy = step('hypothesis', 'h', 26, { a: 'a', b: 'b', direction: 'more', matchedCoverage: true, evaluation: 'ev', alpha: 0.05 });

    it('writes the outcome counts after an evaluate line, one arm', () => {
        const [a] = annotate(plan([ev]), [result(ev, { arms: [arm('a', 112, 41, 47)] })]);
        expect(a).toMatchObject({ step: 'ev', line: 25, file, text: '✗ 41 wrong · ✓ 112 correct · ∅ 47 abstained', tone: 'neutral', stale: false });
        expect(a!.hover).toContain('| `a` | 112 | 41 | 47 | 200 | 20.5% |');
    });

    it('names each arm when an evaluate has several, and sums seeds', () => {
        const p = plan([ev], 2);
        const [a] = annotate(p, [
            result(ev, { arms: [arm('a', 10, 5, 5), arm('b', 12, 3, 5)] }, { seedIndex: 0 }),
            result(ev, { arms: [arm('a', 11, 4, 5), arm('b', 13, 2, 5)] }, { seedIndex: 1 }),
        ]);
        expect(a!.text).toBe('a: ✗ 9 wrong · ✓ 21 correct · ∅ 10 abstained  │  b: ✗ 5 wrong · ✓ 25 correct · ∅ 10 abstained (sum of 2 seeds)');
        expect(a!.hover).toContain('`a` (seed 2)');
    });

    it('writes loss start → end, epochs and time after a finetune line', () => {
        const m = { lossStart: 2.314, lossEnd: 0.181, epochs: 3, steps: 90, trainSeconds: 41.2, tokensPerSecond: 1234, curve: [{ epoch: 1, step: 30, train: 1.2 }] };
        const [a] = annotate(plan([ft]), [result(ft, m)]);
        expect(a!.text).toBe('loss 2.31 → 0.18 · 3 ep · 41 s');
        expect(a!.hover).toContain('**Loss per epoch**');
    });

    it('writes kept vs replaced after a label line, with the abstention text', () => {
        const [a, b] = annotate(plan([lb, sh]), [result(lb, { total: 600, kept: 412, replaced: 188 }), result(sh, { total: 600, kept: 412, replaced: 188 })]);
        expect(a!.text).toBe('✓ 412 kept · ∅ 188 replaced by “I don\'t know” (31%)');
        expect(b!.text).toBe('✓ 412 kept · ∅ 188 abstentions moved by “I don\'t know” (31%)');
    });

    it('writes the knowledge check after a pretrain model line', () => {
        const m = { taughtAccuracy: 0.963, untaughtAccuracy: 0.031, chance: 0.02, confidenceTaught: 0.96, confidenceUntaught: 0.33, taught: 225, untaught: 75, warnings: [] };
        const [a] = annotate(plan([md]), [result(md, m)]);
        expect(a!.text).toBe('knows 96% of 225 taught · 3% of 75 untaught (chance 2%) · confidence 0.96 vs 0.33');
    });

    it('writes the verdict, the test and the coverage after a hypothesis line, colored by verdict', () => {
        const [h1] = annotate(plan([hy]), [result(hy, hypothesis('holds', 0.003, null))]);
        expect(h1).toMatchObject({ text: 'holds · McNemar p = 0.003', tone: 'holds' });
        const [h2] = annotate(plan([hy]), [result(hy, hypothesis('does not hold', 0.41, 0.62))]);
        expect(h2).toMatchObject({ text: 'does not hold · McNemar p = 0.41 · at 62% coverage', tone: 'does-not-hold' });
        const m = { ...hypothesis('holds', 1.2e-21, 0.62, 5), acrossSeeds: { test: 'paired-t' as const, p: 0.0123, meanDifference: 0.05, n: 5 } };
        const [h3] = annotate(plan([hy], 5), [result(hy, m)]);
        expect(h3!.text).toBe('holds · McNemar p = 1.2e-21 · at 62% coverage · 5/5 seeds hold (paired-t p = 0.012)');
        expect(h3!.hover).toContain('Across 5 seeds: paired-t p = 0.012');
    });

    it('greys stale results and says so', () => {
        const [a] = annotate(plan([ev]), [result(ev, { arms: [arm('a', 1, 2, 3)] }, { stale: true })]);
        expect(a).toMatchObject({ tone: 'stale', stale: true, text: '✗ 2 wrong · ✓ 1 correct · ∅ 3 abstained · stale' });
        expect(a!.hover).toContain('**Stale**');
    });

    it('turns a failed step into an error text and a diagnostic on its name', () => {
        const [a] = annotate(plan([ft]), [result(ft, undefined, { status: 'failed', error: { message: 'not enough memory\nmore', detail: 'trace' } })]);
        expect(a).toMatchObject({ tone: 'error', text: '✗ failed: not enough memory' });
        expect(a!.diagnostic).toEqual({ message: 'finetune ft failed: not enough memory\nmore', range: ft.nameRange });
    });

    it('shows progress on the step in flight and nothing for steps without results', () => {
        const anns = annotate(plan([ft, ev]), [], { running: { step: 'ft', done: 45, total: 90, unit: 'steps' } });
        expect(anns).toHaveLength(1);
        expect(anns[0]).toMatchObject({ step: 'ft', text: '⟳ running 50% (45/90 steps)', tone: 'running' });
    });

    it('marks partial per-seed results', () => {
        const m = { lossStart: 2, lossEnd: 1, epochs: 3, steps: 9, trainSeconds: 10, tokensPerSecond: 1, curve: [] };
        const [a] = annotate(plan([ft], 3), [result(ft, m, { seedIndex: 0 })]);
        expect(a!.text).toBe('loss 2.00 → 1.00 · 3 ep · 10 s · 1/3 seeds');
    });
});

describe('world and dataset lines', () => {
    it('summarise entities, facts, questions and splits', () => {
        const w = step('world', 'atlas', 6);
        const d = step('dataset', 'trivia', 7);
        const anns = annotate(plan([w, d]), [
            result(w, { entities: 24, facts: 48, relations: ['capital', 'river'], chance: 0.0446 }),
            result(d, { total: 48, splits: { train: 24, test: 24 }, duplicatesDropped: 0 }),
        ]);
        expect(anns.map((a) => a.text)).toEqual(['24 entities · 48 facts · 2 relations', '48 questions · train 24 · test 24']);
    });
});

describe('formatting', () => {
    it('formats p-values and durations', () => {
        expect([0.41, 0.003, 0.0412, 0.00099, 1, 0.9999].map(formatP)).toEqual(['0.41', '0.003', '0.041', '9.9e-4', '1', '1']);
        expect([4.25, 41.2, 125, 3600 + 300].map(formatSeconds)).toEqual(['4.3 s', '41 s', '2 min 5 s', '1 h 5 min']);
    });
});
