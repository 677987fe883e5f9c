import { describe, expect, it } from 'vitest';
import { linearFit, mixTrends } from '../../engine/stats/linfit.js';
import { fitWarning } from '../../engine/steps/finetune-executor.js';
import { mixExamples } from '../../engine/steps/mix-executor.js';
import type { EvaluateMetrics, FinetuneMetrics, StepResult } from '../../engine/results-types.js';
import { trainingFitTable, mixTrendText } from '../../cli/results.js';
import { mixTrendPlot, trainingFitPlot } from '../../engine/report/plots.js';

// Expected values: by hand, and with scipy.stats.linregress + stats.t.ppf(0.975, n - 2) (python3).
describe('linearFit', () => {
    it('matches a hand-computed fit (x 1,2,3; y 1,3,2)', () => {
        // Sxy = 1, Sxx = 2 → slope 0.5, intercept 1; residuals −.5, 1, −.5 → SSE 1.5, se √(1.5/1/2);
        // t(0.975, 1) = 12.7062047.
        const f = linearFit([1, 2, 3], [1, 3, 2]);
        expect(f.slope).toBeCloseTo(0.5, 12);
        expect(f.intercept).toBeCloseTo(1, 12);
        expect(f.slopeSe).toBeCloseTo(0.8660254037844386, 10);
        expect(f.df).toBe(1);
        expect(f.slopeCi[0]).toBeCloseTo(-10.503896087213436, 6);
        expect(f.slopeCi[1]).toBeCloseTo(11.503896087213436, 6);
        expect(f.r2).toBeCloseTo(0.25, 12);
    });

    it('matches scipy on accuracy vs Unknown share over two replicates', () => {
        const xs = [0, 0.25, 0.5, 0.75, 1, 0, 0.25, 0.5, 0.75, 1];
        const ys = [0.5, 0.47, 0.41, 0.36, 0.2, 0.52, 0.49, 0.43, 0.33, 0.19];
        const f = linearFit(xs, ys);
        expect(f.n).toBe(10);
        expect(f.slope).toBeCloseTo(-0.306, 10);
        expect(f.intercept).toBeCloseTo(0.543, 10);
        expect(f.slopeSe).toBeCloseTo(0.03309833832687075, 10);
        expect(f.slopeCi[0]).toBeCloseTo(-0.3823249050501505, 8);
        expect(f.slopeCi[1]).toBeCloseTo(-0.2296750949498495, 8);
        expect(f.r2).toBeCloseTo(0.9144140624999999, 10);
    });

    it('gives no interval without residual degrees of freedom or spread in x', () => {
        expect(linearFit([0, 1], [0.5, 0.2]).slopeCi.every(Number.isNaN)).toBe(true);
        expect(Number.isNaN(linearFit([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]).slope)).toBe(true);
        expect(() => linearFit([0, 1], [1])).toThrow(/2 x values but 1 y values/);
    });
});

const arm = (name: string, correct: number, total: number) => ({
    arm: name,
    correct,
    wrong: total - correct,
    abstained: 0,
    total,
    wrongRate: 0,
    wrongAnsweredRate: 0,
    aurc: null,
    riskCoverage: [],
    byKnowledge: {},
});
const ft = (step: string, seedIndex: number, unknownShare: number, known: [number, number, number], unknown: [number, number, number], warnings: string[] = []): StepResult => {
    const c = (x: [number, number, number]) => ({ total: x[0], fitted: x[1], base: x[2] });
    const all = { total: known[0] + unknown[0], fitted: known[1] + unknown[1], base: known[2] + unknown[2] };
    const m: FinetuneMetrics = {
        lossStart: 1,
        lossEnd: 0.1,
        epochs: 1,
        steps: 1,
        trainSeconds: 1,
        tokensPerSecond: 1,
        curve: [],
        fit: { checked: all.total, examples: all.total, all, known: c(known), unknown: c(unknown), unknownShare },
    };
    return { step, kind: 'finetune', key: `${step}${seedIndex}`, status: 'done', cached: false, seconds: 1, seedIndex, metrics: m, warnings };
};
const ev = (seedIndex: number, arms: ReturnType<typeof arm>[]): StepResult => ({
    step: 'mixes',
    kind: 'evaluate',
    key: `e${seedIndex}`,
    status: 'done',
    cached: false,
    seconds: 1,
    seedIndex,
    metrics: { arms } as EvaluateMetrics,
});

describe('mixTrends', () => {
    it("pairs each arm with the same replicate's fine-tune and fits accuracy on the Unknown share", () => {
        const results: StepResult[] = [
            ft('on0', 0, 0, [10, 10, 10], [0, 0, 0]),
            ft('on50', 0, 0.5, [5, 5, 5], [5, 4, 0]),
            ft('on100', 0, 1, [0, 0, 0], [10, 9, 0]),
            ft('on0', 1, 0, [10, 10, 10], [0, 0, 0]),
            ft('on50', 1, 0.5, [5, 5, 5], [5, 5, 0]),
            ft('on100', 1, 1, [0, 0, 0], [10, 10, 0]),
            // accuracies 0.5, 0.4, 0.2 (seed 0) and 0.6, 0.4, 0.1 (seed 1); the base arm has no fine-tune
            ev(0, [arm('on0', 50, 100), arm('on50', 40, 100), arm('on100', 20, 100), arm('small', 50, 100)]),
            ev(1, [arm('on0', 60, 100), arm('on50', 40, 100), arm('on100', 10, 100), arm('small', 60, 100)]),
        ];
        const [t] = mixTrends(results);
        expect(t.points).toHaveLength(6);
        expect(t.points.find((p) => p.arm === 'on100' && p.seed === 1)).toMatchObject({ unknownShare: 1, accuracy: 0.1 });
        // by hand: x̄ = .5, ȳ = 2.2/6; Sxy = −.5(.5+.6) + .5(.2+.1) = −.4; Sxx = 4 · .25 = 1 → slope −.4,
        // intercept 2.2/6 + .2 = 17/30; residuals −1/15, 1/30, 1/30 (×2) → SSE .04/3; se √(SSE/4/1)
        // (scipy.stats.linregress: slope −0.4, intercept 0.566667, stderr 0.0577350)
        expect(t.fit.slope).toBeCloseTo(-0.4, 12);
        expect(t.fit.intercept).toBeCloseTo(17 / 30, 12);
        expect(t.fit.slopeSe).toBeCloseTo(0.057735026918962554, 10);
        // per replicate: seed 0 slope −.15/.5 = −.3, seed 1 −.25/.5 = −.5; mean −.4, sd √.02, se .1,
        // t(0.975, 1) = 12.7062047 → [−1.670620, 0.870620]
        expect(t.replicates!.slopes.map((x) => +x.toFixed(12))).toEqual([-0.3, -0.5]);
        expect(t.replicates!.mean).toBeCloseTo(-0.4, 12);
        expect(t.replicates!.ci[0]).toBeCloseTo(-1.670620473617469, 8);
        expect(t.replicates!.ci[1]).toBeCloseTo(0.8706204736174694, 8);
        expect(t.replicates!.df).toBe(1);
        const text = mixTrendText(results)!;
        expect(text).toContain('slope per replicate -30.0, -50.0: mean -40.0 pts (95% CI -167.1 to 87.1, t across 2 replicates, 1 df)');
        expect(text).toContain('slope -40.0 pts per 100% Unknown');
        expect(text).toContain('6 points');
        const spec = mixTrendPlot(results) as { title: { subtitle: string[] }; layer: { data: { values: { accuracy: number; unknown: number }[] } }[] };
        // t(0.975, 4) = 2.776445: −40.0 ± 2.776445 · 5.7735 → [−56.0, −24.0]
        expect(spec.title.subtitle[0]).toBe('mixes: slope -40.0 pts per 100% Unknown, 95% CI [-56.0, -24.0] (t, 4 df), 6 points; per replicate: mean -40.0 [-167.1, 87.1] (t across 2 replicates)');
        expect(spec.layer[0].data.values).toHaveLength(6);
        expect(spec.layer[1].data.values.map((v) => v.accuracy)).toEqual([t.fit.intercept, t.fit.intercept + t.fit.slope]);
    });

    it('reports Known vs Unknown training accuracy, marking a fine-tune that fitted nothing', () => {
        const w = 'the fine-tune did not fit its training examples: it answers 5% of them, the base model 0%; raise learningRate or epochs';
        const results = [ft('on100', 0, 1, [0, 0, 0], [20, 1, 0], [w]), ft('on100', 1, 1, [0, 0, 0], [20, 20, 0]), ft('on50', 0, 0.5, [10, 10, 9], [10, 7, 0])];
        const table = trainingFitTable(results)!;
        // on100 pooled: 21 of 40 fitted, base 0 of 40
        expect(table).toMatch(/on100.*0\.0% → 52\.5%.*⚠ fitted nothing in 1 of 2/);
        expect(table).toMatch(/on50.*90\.0% → 100\.0%.*0\.0% → 70\.0%/);
        const plot = trainingFitPlot(results) as { data: { values: { finetune: string; examples: string; model: string; accuracy: number }[] } };
        expect(plot.data.values.find((v) => v.finetune === 'on50' && v.examples === 'Unknown' && v.model === 'fine-tuned')!.accuracy).toBeCloseTo(0.7, 12);
    });
});

describe('fitWarning', () => {
    const fit = (all: [number, number, number], unknown?: [number, number, number]) => ({
        checked: all[0],
        examples: all[0],
        all: { total: all[0], fitted: all[1], base: all[2] },
        ...(unknown ? { unknown: { total: unknown[0], fitted: unknown[1], base: unknown[2] }, known: { total: all[0] - unknown[0], fitted: all[1] - unknown[1], base: all[2] - unknown[2] } } : {}),
    });
    it('flags a fine-tune that answers about what the base model did', () => {
        // 160 examples, base 80, tuned 90: +6 points and 56% → not fitted
        expect(fitWarning(fit([160, 90, 80], [80, 10, 0]))).toMatch(/did not fit its training examples: it answers 56% of them, the base model 50%/);
    });
    it('flags unfitted Unknown examples, and nothing once they are fitted', () => {
        // +19 points overall (Known 80 of 80), but only 30 of 80 Unknown (37.5%)
        expect(fitWarning(fit([160, 110, 80], [80, 30, 0]))).toBe('the fine-tune fitted only 38% of its Unknown examples (Known: 100%)');
        expect(fitWarning(fit([160, 158, 80], [80, 78, 0]))).toBeUndefined();
        // a mix of Known examples only is already answered: nothing to warn about
        expect(fitWarning(fit([160, 160, 159]))).toBeUndefined();
    });
});

describe('mixExamples', () => {
    it("carries each example's SliCK category so training accuracy can be split by it", () => {
        const rows = Array.from({ length: 8 }, (_, i) => ({ id: `q${i}`, question: `Q${i}?`, answers: [`a${i}`], category: (i < 4 ? 'Unknown' : 'HighlyKnown') as 'Unknown' | 'HighlyKnown' }));
        const m = mixExamples(rows, 0.5, 1, 4);
        expect(m.rows.map((r) => r.category).sort()).toEqual(['HighlyKnown', 'HighlyKnown', 'Unknown', 'Unknown']);
    });
});
