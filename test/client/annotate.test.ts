import { describe, expect, it } from 'vitest';
import { AFTER_LINE_COLUMNS, AFTER_LINE_MIN, afterLineText, annotate, formatP, formatSeconds, hoverFor } from '../../client/annotate.js';
import type { Plan, Step } from '../../language/plan-types.js';
import type { ArmMetrics, HypothesisMetrics, StepResult } from '../../engine/results-types.js';

const file = '/w/spec.mismatch';
const range = (line: number, endLine = line) => ({ file, start: { line, character: 2 }, end: { line: endLine, character: 80 } });
function step(kind: Step['kind'], id: string, line: number, params: Record<string, unknown> = {}, stochastic = false): Step {
    return {
        kind,
        id,
        range: range(line),
        nameRange: { file, start: { line, character: 8 }, end: { line, character: 8 + id.length } },
        inputs: [],
        key: `k-${id}`,
        stochastic,
        files: [],
        params,
    } as unknown as Step;
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
    const seed = (i: number) => ({
        seed: i + 1,
        holds: verdict === 'holds',
        verdict,
        test: 'mcnemar' as const,
        p,
        discordant: { b: 30, c: 9 },
        coverage,
        wrongRateA: 0.3,
        wrongRateB: 0.2,
        ci95: [0.02, 0.18] as [number, number],
    });
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
        expect(a!.hover).toContain('| `a` | 112 | 41 | 47 | 0 | 200 | 20.5% |');
    });

    it('names each arm when an evaluate has several, and sums seeds', () => {
        const p = plan([ev], 2);
        const [a] = annotate(p, [result(ev, { arms: [arm('a', 10, 5, 5), arm('b', 12, 3, 5)] }, { seedIndex: 0 }), result(ev, { arms: [arm('a', 11, 4, 5), arm('b', 13, 2, 5)] }, { seedIndex: 1 })]);
        expect(a!.text).toBe('a: ✗ 9 wrong · ✓ 21 correct · ∅ 10 abstained  │  b: ✗ 5 wrong · ✓ 25 correct · ∅ 10 abstained (sum of 2 seeds)');
        expect(a!.hover).toContain('`a` (seed 2)');
    });

    it('writes loss start → end, epochs and time after a finetune line', () => {
        const m = { lossStart: 2.314, lossEnd: 0.181, epochs: 3, steps: 90, trainSeconds: 41.2, tokensPerSecond: 1234, curve: [{ epoch: 1, step: 30, train: 1.2 }] };
        const [a] = annotate(plan([ft]), [result(ft, m)]);
        expect(a!.text).toBe('loss 2.31 → 0.18 · 3 ep · 41 s');
        expect(a!.hover).toContain('**Loss per epoch**');
    });

    describe('training fit of a finetune', () => {
        const base = { lossStart: 2.314, lossEnd: 0.181, epochs: 4, steps: 40, trainSeconds: 41.2, tokensPerSecond: 1234, curve: [] };
        // per epoch [Known fitted, Unknown fitted] of K Known and U Unknown examples
        const curve = (K: number, U: number, pts: [number, number][]) => ({
            version: 1 as const,
            examples: K + U,
            epochs: pts.map(([k, u], i) => ({ epoch: i + 1, step: 10 * (i + 1), all: { total: K + U, fitted: k + u }, known: { total: K, fitted: k }, unknown: { total: U, fitted: u } })),
        });
        const rep1 = {
            ...base,
            fitByEpoch: curve(12, 8, [
                [6, 0],
                [12, 2],
                [12, 2],
                [12, 4],
            ]),
            fit: { checked: 20, examples: 20, all: { total: 20, fitted: 16, base: 12 }, known: { total: 12, fitted: 12, base: 11 }, unknown: { total: 8, fitted: 4, base: 1 }, unknownShare: 0.4 },
        };
        const rep2 = {
            ...base,
            fitByEpoch: curve(10, 10, [
                [10, 1],
                [10, 1],
                [10, 2],
                [10, 3],
            ]),
            fit: { checked: 20, examples: 20, all: { total: 20, fitted: 14, base: 10 }, known: { total: 10, fitted: 10, base: 9 }, unknown: { total: 10, fitted: 4, base: 1 }, unknownShare: 0.5 },
        };

        it('after the line: Known and Unknown fitted after the last epoch, averaged over replicates', () => {
            const [a] = annotate(plan([ft], 2), [result(ft, rep1, { seedIndex: 0 }), result(ft, rep2, { seedIndex: 1 })]);
            // Unknown: mean of 4/8 and 3/10 = 40% (pooled 7/18 would be 39%)
            expect(a!.text).toBe('loss 2.31 → 0.18 · fits Known 100% · Unknown 40% (epoch 4) · 4 ep · 1 min 22 s · mean of 2 seeds');
        });

        it('on hover: a table by epoch per replicate and pooled, and the greedy check after training', () => {
            const [a] = annotate(plan([ft], 2), [result(ft, rep1, { seedIndex: 0 }), result(ft, rep2, { seedIndex: 1 })]);
            expect(a!.hover).toContain('**Training fit by epoch**: Known / Unknown examples fitted');
            expect(a!.hover).toContain(
                [
                    '| run | ep 1 | ep 2 | ep 3 | ep 4 |',
                    '| :-- | --: | --: | --: | --: |',
                    '| seed 1 | 50% / 0% | 100% / 25% | 100% / 25% | 100% / 50% |',
                    '| seed 2 | 100% / 10% | 100% / 10% | 100% / 20% | 100% / 30% |',
                    // 16/22, 1/18 | 22/22, 3/18 | 22/22, 4/18 | 22/22, 7/18
                    '| 2 replicates pooled | 73% / 6% | 100% / 17% | 100% / 22% | 100% / 39% |',
                ].join('\n'),
            );
            expect(a!.hover).toContain('**Greedy check after training**, summed over 2 replicates');
            expect(a!.hover).toContain(
                [
                    '| examples | checked | base model | fine-tuned |',
                    '| :-- | --: | --: | --: |',
                    '| all examples | 40 | 22/40 (55%) | 30/40 (75%) |',
                    '| Known | 22 | 20/22 (91%) | 22/22 (100%) |',
                    '| Unknown | 18 | 2/18 (11%) | 8/18 (44%) |',
                ].join('\n'),
            );
        });

        it('a fine-tune that fitted nothing says so after the line, its warning on hover', () => {
            const warning = 'the fine-tune did not fit its training examples: it answers 10% of them, the base model 5%; raise learningRate or epochs';
            const m = {
                ...base,
                lossEnd: 2.2,
                epochs: 2,
                fitByEpoch: {
                    version: 1,
                    examples: 20,
                    epochs: [
                        { epoch: 1, step: 5, all: { total: 20, fitted: 1 } },
                        { epoch: 2, step: 10, all: { total: 20, fitted: 2 } },
                    ],
                },
                fit: { checked: 20, examples: 20, all: { total: 20, fitted: 2, base: 1 } },
            };
            const [a] = annotate(plan([ft]), [result(ft, m, { warnings: [warning] })]);
            expect(a!.text).toBe('loss 2.31 → 2.20 · fits 10% (epoch 2) · ⚠ fitted nothing · 2 ep · 41 s');
            expect(a!.hover).toContain('**Training fit by epoch**: training examples fitted');
            expect(a!.hover).toContain('| run | ep 1 | ep 2 |\n| :-- | --: | --: |\n| ft | 5% | 10% |');
            expect(a!.hover).toContain('| all examples | 20 | 1/20 (5%) | 2/20 (10%) |');
            expect(a!.hover).not.toContain('| Known |');
            expect(a!.hover).toContain(`⚠ ${warning}`);
        });

        it('leaves out a group without examples (a mix of 0% Unknown)', () => {
            const m = { ...base, epochs: 1, fitByEpoch: curve(10, 0, [[8, 0]]) };
            const [a] = annotate(plan([ft]), [result(ft, m)]);
            expect(a!.text).toBe('loss 2.31 → 0.18 · fits Known 80% (epoch 1) · 1 ep · 41 s');
            expect(a!.hover).toContain('| ft | 80% / — |');
        });

        it('shows 8 epochs spread over a longer run, the first and the last included', () => {
            const m = {
                ...base,
                epochs: 16,
                fitByEpoch: { version: 1, examples: 4, epochs: Array.from({ length: 16 }, (_, i) => ({ epoch: i + 1, step: i + 1, all: { total: 4, fitted: Math.min(4, i) } })) },
            };
            const [a] = annotate(plan([ft]), [result(ft, m)]);
            // 1 + i·15/7 rounded, i = 0..7
            expect(a!.hover).toContain('| run | ep 1 | ep 3 | ep 5 | ep 7 | ep 10 | ep 12 | ep 14 | ep 16 |');
            expect(a!.hover).toContain('| ft | 0% | 50% | 100% | 100% | 100% | 100% | 100% | 100% |');
            expect(a!.text).toBe('loss 2.31 → 0.18 · fits 100% (epoch 16) · 16 ep · 41 s');
        });

        it('an older result without the per-epoch record or the greedy check shows neither, and a record of an unknown format is skipped', () => {
            const [a] = annotate(plan([ft]), [result(ft, base)]);
            expect(a!.text).toBe('loss 2.31 → 0.18 · 4 ep · 41 s');
            expect(a!.hover).not.toContain('Training fit');
            expect(a!.hover).not.toContain('Greedy check');
            const [b] = annotate(plan([ft]), [result(ft, { ...base, fitByEpoch: { version: 2, points: [] } })]);
            expect(b!.text).toBe('loss 2.31 → 0.18 · 4 ep · 41 s');
            expect(b!.hover).not.toContain('Training fit');
        });
    });

    it('writes kept vs replaced after a label line, with the abstention text', () => {
        const [a, b] = annotate(plan([lb, sh]), [result(lb, { total: 600, kept: 412, replaced: 188 }), result(sh, { total: 600, kept: 412, replaced: 188 })]);
        expect(a!.text).toBe("✓ 412 kept · ∅ 188 replaced by “I don't know” (31%)");
        expect(b!.text).toBe("✓ 412 kept · ∅ 188 abstentions moved by “I don't know” (31%)");
    });

    it('writes the knowledge check after a pretrain model line', () => {
        const m = { taughtAccuracy: 0.963, untaughtAccuracy: 0.031, chance: 0.02, confidenceTaught: 0.96, confidenceUntaught: 0.33, taught: 225, untaught: 75, warnings: [] };
        const [a] = annotate(plan([md]), [result(md, m)]);
        expect(a!.text).toBe('knows 96% of 225 taught · 3% of 75 untaught (chance 2%) · confidence 0.96 vs 0.33');
    });

    it('writes the verdict, the effect with its interval, then p and the test after a hypothesis line, colored by verdict', () => {
        // one run: wrong rates .3 and .2, bootstrap CI [.02, .18] → +10.0 pts [+2.0, +18.0]
        const [h1] = annotate(plan([hy]), [result(hy, hypothesis('holds', 0.003, null))]);
        expect(h1).toMatchObject({ text: 'holds · wrong +10.0 pts [+2.0, +18.0] · p = 0.003 · McNemar', tone: 'holds' });
        const [h2] = annotate(plan([hy]), [result(hy, hypothesis('does not hold', 0.41, 0.62))]);
        expect(h2).toMatchObject({ text: 'does not hold · wrong +10.0 pts [+2.0, +18.0] · p = 0.41 · at 62% coverage · McNemar', tone: 'does-not-hold' });
        const m: HypothesisMetrics = {
            ...hypothesis('holds', 0.0123, 0.62, 5),
            test: 'paired-t',
            minAchievableP: 0,
            effect: { difference: 0.05, ci95: [0.012, 0.088], interval: 't interval over 5 replicates' },
            design: { replicates: 5, compared: 5, redrawn: ['facts', 'splits', 'pretraining', 'finetuning'], sharedQuestions: false, unit: 'replicates', units: 5, test: 'paired t over replicates' },
        };
        const [h3] = annotate(plan([hy], 5), [result(hy, m)]);
        expect(h3!.text).toBe('holds · wrong +5.0 pts [+1.2, +8.8] · p = 0.012 · at 62% coverage · paired t over 5 independent replicates');
        // replicates that share their test questions: a question-level test, and what they redrew
        const q: HypothesisMetrics = {
            ...hypothesis('does not hold', 22 / 64, null, 3),
            test: 'sign-flip',
            minAchievableP: 1 / 64,
            effect: { difference: 0.2, ci95: [-0.364, 0.764], interval: 't interval over 10 questions' },
            design: { replicates: 3, compared: 3, redrawn: ['finetuning'], sharedQuestions: true, unit: 'questions', units: 10, informative: 6, test: 'exact sign-flip over questions' },
        };
        const [h4] = annotate(plan([hy], 3), [result(hy, q)]);
        expect(h4!.text).toBe('does not hold · wrong +20.0 pts [−36.4, +76.4] · p = 0.34 · sign-flip over 10 questions × 3 replicates (finetuning redrawn)');
        expect(h4!.hover).toContain('- test: exact sign-flip over questions; 10 independent questions (6 differ)');
        expect(h3!.hover).toContain('- replicated: 5 replicates redrawing facts, splits, pretraining, finetuning, independent draws');
        expect(h3!.hover).toContain('| replicate 5 | 10.0 [2.0, 18.0] |');
    });

    it('names unnamed steps by their text in hovers and diagnostics; the annotation keeps the id', () => {
        const uh = step('hypothesis', 'hypothesis@27', 26, { a: 'smallOnLarge', b: 'smallOnSmall', direction: 'more', matchedCoverage: true, evaluation: 'evaluate@26', alpha: 0.05 });
        const ue = step('evaluate', 'evaluate@26', 25, { arms: [{ model: 'smallOnLarge' }, { model: 'smallOnSmall' }], dataset: 'trivia', split: 'test' });
        const [h] = annotate(plan([uh]), [result(uh, { ...hypothesis('holds', 0.003, 0.5), name: '' })]);
        expect(h!.step).toBe('hypothesis@27');
        expect(h!.hover).toContain('smallOnLarge > smallOnSmall (matched)');
        expect(h!.hover).not.toMatch(/hypothesis@27/);
        const [f] = annotate(plan([ue]), [result(ue, undefined, { status: 'failed', error: { message: 'boom' } })]);
        expect(f!.diagnostic!.message).toBe('evaluate smallOnLarge, smallOnSmall on trivia.test failed: boom');
        expect(f!.hover).not.toMatch(/evaluate@26/);
    });

    it("adjusts the experiment's hypotheses as a family (Holm) and states what blocks a verdict", () => {
        const hy2 = step('hypothesis', 'h2', 27, { a: 'a', b: 'b', direction: 'more', matchedCoverage: false, evaluation: 'ev', alpha: 0.05 });
        // raw .03 and .04: Holm .03·2 = .06, max(.06, .04·1) = .06 → neither holds at .05
        const [a1, a2] = annotate(plan([hy, hy2]), [result(hy, hypothesis('holds', 0.03, null)), result(hy2, hypothesis('holds', 0.04, null))]);
        expect(a1!.text).toBe('does not hold · wrong +10.0 pts [+2.0, +18.0] · p = 0.06 (Holm, 2 hypotheses; raw 0.03) · McNemar');
        expect(a2!.text).toBe('does not hold · wrong +10.0 pts [+2.0, +18.0] · p = 0.06 (Holm, 2 hypotheses; raw 0.04) · McNemar');
        expect(a1!.hover).toContain('verdict before the correction: holds');
        // the second hypothesis has no result yet: it still counts in the family (p = 1)
        const [b1] = annotate(plan([hy, hy2]), [result(hy, hypothesis('holds', 0.02, null))]);
        expect(b1!.text).toContain('p = 0.04 (Holm, 2 hypotheses; raw 0.02)');
        expect(b1!.tone).toBe('holds');
        // 3 replicates on shared questions with b = 4, c = 2: the note is on the line
        const shared: HypothesisMetrics = {
            ...hypothesis('does not hold', 22 / 64, null, 3),
            test: 'sign-flip',
            minAchievableP: 1 / 8,
            notes: ['with 3 informative questions the smallest p this test can give is 0.13 ≥ α = 0.05: it cannot decide'],
        };
        const [c1] = annotate(plan([hy], 3), [result(hy, shared)]);
        expect(c1!.text).toBe('inconclusive · no effect estimate · p = 0.34 · sign-flip · ⚠ with 3 informative questions the smallest p this test can give is 0.13 ≥ α = 0.05: it cannot decide');
        expect(c1!.tone).toBe('inconclusive');
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

describe('the metrics of an evaluate and a hypothesis hover', () => {
    const ev = step('evaluate', 'ev', 25, { arms: [{ model: 'a' }, { model: 'b' }] });
    const hy = step('hypothesis', 'h', 26, { a: 'a', b: 'b', direction: 'more', matchedCoverage: false, evaluation: 'ev', alpha: 0.05 });
    const cell = (correct: number, wrong: number, abstained: number) => ({ correct, wrong, abstained, total: correct + wrong + abstained });
    const grid: ArmMetrics['grid'] = {
        teacher: 'large',
        student: 'small',
        source: 'taught',
        cells: { both: cell(5, 1, 0), teacherOnly: cell(0, 3, 1), studentOnly: cell(0, 0, 0), neither: cell(0, 2, 2) },
        uncategorised: 0,
    };
    // Replicate 1: a has 6 correct, 3 wrong, 1 abstained of 10: accuracy 6/10, given attempted 6/9,
    // F = 2·0.6·(6/9)/(0.6 + 6/9) = 0.631579; replicate 2: 8, 1, 1: 0.8, 8/9, F = 0.842105.
    const seed1 = {
        arms: [
            { ...arm('a', 6, 3, 1), accuracy: 0.6, accuracyGivenAttempted: 6 / 9, fScore: 0.631579, ece: null, grid },
            { ...arm('b', 5, 5, 0), accuracy: 0.5, accuracyGivenAttempted: 0.5, fScore: 0.5, ece: null },
        ],
    };
    const seed2 = {
        arms: [
            { ...arm('a', 8, 1, 1), accuracy: 0.8, accuracyGivenAttempted: 8 / 9, fScore: 0.842105, ece: 0.05, grid },
            { ...arm('b', 5, 4, 1), accuracy: 0.5, accuracyGivenAttempted: 5 / 9, fScore: 0.526316, ece: 0.1 },
        ],
    };
    const results = [result(ev, seed1, { seedIndex: 0 }), result(ev, seed2, { seedIndex: 1 })];

    it('means accuracy, accuracy given attempted, SimpleQA F, AURC and ECE over replicates (ECE where log-probs exist)', () => {
        const [a] = annotate(plan([ev], 2), results);
        expect(a!.hover).toContain('**Selective prediction** (mean of 2 replicates)');
        expect(a!.hover).toContain('| arm | accuracy | accuracy given attempted | SimpleQA F | AURC | ECE |');
        // accuracy (0.6 + 0.8)/2, given attempted (6/9 + 8/9)/2 = 0.7778, F (0.631579 + 0.842105)/2 = 0.736842,
        // ECE only replicate 2 has one: 0.05
        expect(a!.hover).toContain('| `a` | 70.0% | 77.8% | 0.737 | 0.123 | 0.050 |');
        // b: (5/10 + 5/10)/2, (0.5 + 5/9)/2 = 0.5278, (0.5 + 0.526316)/2 = 0.513158, ECE (0 + 0.1)/1
        expect(a!.hover).toContain('| `b` | 50.0% | 52.8% | 0.513 | 0.123 | 0.100 |');
        expect(a!.hover).toContain('area under the risk–coverage curve');
    });

    it('shows the teacher × student grid in short: wrong of questions per cell, summed over replicates', () => {
        const [a] = annotate(plan([ev], 2), results);
        // both: 1 + 1 wrong of 6 + 6; teacher only: 3 + 3 of 4 + 4; student only: none; neither: 2 + 2 of 4 + 4
        expect(a!.hover).toContain('| `a` (large → small) | 2/12 (17%) | 6/8 (75%) | — | 4/8 (50%) |');
        expect(a!.hover).toContain('summed over 2 replicates; who knows from the facts each model was taught');
        expect(a!.hover).not.toMatch(/\| `b` \(\w+ → /); // b has no grid
    });

    it('counts empty answers apart, on the line and in the table', () => {
        const one = { arms: [{ ...arm('a', 4, 3, 1), empty: 2, total: 10 }] };
        const e1 = step('evaluate', 'e1', 25, { arms: [{ model: 'a' }] });
        const [a] = annotate(plan([e1]), [result(e1, one)]);
        expect(a!.text).toBe('✗ 3 wrong · ✓ 4 correct · ∅ 1 abstained · 2 empty');
        expect(a!.hover).toContain('| `a` | 4 | 3 | 1 | 2 | 10 |');
        // results written before the metrics existed: no selective table, no empty count on the line
        const [old] = annotate(plan([e1]), [result(e1, { arms: [arm('a', 4, 3, 1)] })]);
        expect(old!.text).toBe('✗ 3 wrong · ✓ 4 correct · ∅ 1 abstained');
        expect(old!.hover).not.toContain('Selective prediction');
    });

    it("puts both arms' metrics in the hypothesis hover", () => {
        const m = { ...hypothesis('holds', 0.003, null), name: 'h' };
        const anns = annotate(plan([ev, hy], 2), [...results, result(hy, m)]);
        const h = anns.find((x) => x.step === 'h')!;
        expect(h.hover).toContain('| `a` | 70.0% | 77.8% | 0.737 | 0.123 | 0.050 |');
        expect(h.hover).toContain('| `b` | 50.0% | 52.8% | 0.513 | 0.123 | 0.100 |');
    });
});

describe('model lines', () => {
    const server = (url: string) => step('model', 'big', 12, { source: { kind: 'server', url, name: 'llama-2-13b', api: 'chat', logprobs: true, concurrency: 4, timeoutMs: 60000 } });
    const metrics = { url: 'http://127.0.0.1:8080/v1', name: 'llama-2-13b', api: 'chat' };

    it('do not repeat the URL the line already shows', () => {
        const s = server('http://127.0.0.1:8080/v1');
        const [a] = annotate(plan([s]), [result(s, metrics)]);
        expect(a!.text).toBe('name llama-2-13b · api chat');
        expect(a!.hover).toContain('http://127.0.0.1:8080/v1');
    });

    it('name the URL when it came from the settings (the line has none)', () => {
        const s = server('');
        const [a] = annotate(plan([s]), [result(s, metrics)]);
        expect(a!.text).toBe('url http://127.0.0.1:8080/v1 · name llama-2-13b · api chat');
    });

    it('say only that a GGUF model is ready (its path is on the line)', () => {
        const s = step('model', 'local', 12, { source: { kind: 'gguf', path: '/m/llama.gguf' } });
        const [a] = annotate(plan([s]), [result(s, { path: '/m/llama.gguf' })]);
        expect(a!.text).toBe('✓ ready');
    });
});

describe('after-line width', () => {
    const long = 'a: ✗ 41 wrong · ✓ 112 correct · ∅ 47 abstained  │  b: ✗ 5 wrong · ✓ 25 correct · ∅ 10 abstained';

    it('keeps a text that fits beside its line', () => {
        expect(afterLineText('✗ 2 wrong · ✓ 1 correct', 60)).toBe('✗ 2 wrong · ✓ 1 correct');
        expect(afterLineText(long, 0)).toBe(long); // 97 characters, 140 columns
    });

    it('cuts a long text at the last item that fits, with an ellipsis', () => {
        // a 100-column line leaves 40: the first 39 characters end in "∅ 47 ab"; the last " · " is at 29
        expect(AFTER_LINE_COLUMNS).toBe(140);
        expect(afterLineText(long, 100)).toBe('a: ✗ 41 wrong · ✓ 112 correct …');
        // a longer line leaves the minimum, never less
        expect(afterLineText(long, 130)).toBe(afterLineText(long, 100));
        expect(AFTER_LINE_MIN).toBe(40);
        // 60 columns left (line of 80): the first 59 characters end in "b: ✗ 5"; " │ " items end at 46
        expect(afterLineText(long, 80)).toBe('a: ✗ 41 wrong · ✓ 112 correct · ∅ 47 abstained …');
    });

    it('never cuts inside a character outside the BMP', () => {
        const emoji = '😀'.repeat(50);
        const cut = afterLineText(emoji, 200);
        expect(cut).toBe(`${'😀'.repeat(39)} …`);
    });

    it('puts the whole text at the top of the hover only when the line shows it cut', () => {
        expect(hoverFor({ text: long, hover: '| t |' }, 0)).toBe('| t |');
        expect(hoverFor({ text: long, hover: '| t |' }, 100)).toBe(`${long}\n\n| t |`);
        expect(hoverFor({ text: 'x_y '.repeat(20), hover: 'h' }, 120)).toBe(`${'x\\_y '.repeat(20)}\n\nh`);
    });
});
