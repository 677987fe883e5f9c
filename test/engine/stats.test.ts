import { describe, expect, it } from 'vitest';
import {
    binomialCdf,
    bootstrapPairedDiffCI,
    holm,
    signFlipTest,
    studentTQuantile,
    tInterval,
    discordant,
    matchCoverage,
    mcnemarExact,
    pairedT,
    riskCoverage,
    studentTSf,
    verdictOf,
    wilcoxonSignedRank,
    type Scored,
} from '../../engine/stats/index.js';
import { adjustFamily, effectText, pText, replicationText, statements, testText } from '../../engine/stats/family.js';
import type { HypothesisMetrics } from '../../engine/results-types.js';

describe('exact McNemar', () => {
    it('b=8, c=2: P(X≤2 | n=10) = (1+10+45)/1024', () => {
        const r = mcnemarExact(8, 2, 'two-sided');
        expect(r.pTwoSided).toBeCloseTo((2 * 56) / 1024, 12);
        expect(mcnemarExact(8, 2, 'greater').p).toBeCloseTo(56 / 1024, 12);
        expect(mcnemarExact(8, 2, 'less').p).toBeCloseTo(1013 / 1024, 12);
        expect(mcnemarExact(2, 8, 'greater').p).toBeCloseTo(1013 / 1024, 12);
    });
    it('b=10, c=0 and no discordant pairs', () => {
        expect(mcnemarExact(10, 0).p).toBeCloseTo(2 / 1024, 14);
        expect(mcnemarExact(10, 0, 'greater').p).toBeCloseTo(1 / 1024, 14);
        expect(mcnemarExact(10, 0, 'greater').minAchievableP).toBeCloseTo(1 / 1024, 14);
        expect(mcnemarExact(0, 0, 'greater').p).toBe(1);
        expect(mcnemarExact(3, 3).p).toBe(1);
    });
    it('large n stays finite and symmetric', () => {
        expect(binomialCdf(500, 1000)).toBeGreaterThan(0.5);
        const p = mcnemarExact(600, 400).p; // z ≈ 6.3 → p ≈ 3e-10
        expect(p).toBeGreaterThan(1e-11);
        expect(p).toBeLessThan(1e-8);
        expect(mcnemarExact(400, 600).p).toBeCloseTo(p, 20);
    });
    it('rejects bad counts', () => {
        expect(() => mcnemarExact(-1, 2)).toThrow(/non-negative/);
    });
});

describe('paired t and Wilcoxon', () => {
    it('t with df=2 has the closed form 1/2 - t/(2√(2+t²))', () => {
        // d = [1,2,3]: mean 2, sd 1, t = 2√3; one-sided p = 1/2 - √(3/14).
        const r = pairedT([1, 2, 3], 'greater');
        expect(r.t).toBeCloseTo(2 * Math.sqrt(3), 12);
        expect(r.p).toBeCloseTo(0.5 - Math.sqrt(3 / 14), 9);
        expect(pairedT([1, 2, 3]).p).toBeCloseTo(2 * (0.5 - Math.sqrt(3 / 14)), 9);
        expect(studentTSf(0, 5)).toBeCloseTo(0.5, 12);
        // df=1 is Cauchy: P(T > 1) = 1/4.
        expect(studentTSf(1, 1)).toBeCloseTo(0.25, 9);
    });
    it('Wilcoxon d=[1,2,3,-0.5]: W+ = 9, P(W+ ≥ 9) = 2/16', () => {
        const r = wilcoxonSignedRank([1, 2, 3, -0.5], 'greater');
        expect(r.wPlus).toBe(9);
        expect(r.p).toBeCloseTo(2 / 16, 12);
        expect(wilcoxonSignedRank([1, 2, 3, -0.5]).p).toBeCloseTo(0.25, 12);
        // ties: |d| = 1,1 → ranks 1.5,1.5; zeros dropped.
        const t = wilcoxonSignedRank([1, -1, 0], 'greater');
        expect(t.n).toBe(2);
        expect(t.wPlus).toBe(1.5);
        expect(t.p).toBeCloseTo(3 / 4, 12);
    });
});

const rec = (id: string, outcome: Scored['outcome'], confidence: number | null): Scored => ({ id, outcome, confidence });

describe('risk–coverage and matched coverage', () => {
    const a = [rec('q1', 'correct', -0.1), rec('q2', 'wrong', -0.2), rec('q3', 'correct', -0.3), rec('q4', 'wrong', -0.4), rec('q5', 'wrong', -0.5)];
    const b = [rec('q1', 'correct', -0.1), rec('q2', 'abstained', null), rec('q3', 'correct', -0.2), rec('q4', 'abstained', null), rec('q5', 'wrong', -0.9)];
    it('curve and AURC by hand', () => {
        const { points, aurc } = riskCoverage(a);
        expect(points.map((p) => p.coverage)).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
        expect(points.map((p) => p.risk)).toEqual([0, 1 / 2, 1 / 3, 2 / 4, 3 / 5]);
        expect(aurc).toBeCloseTo((0 + 0.5 + 1 / 3 + 0.5 + 0.6) / 5, 12);
        expect(riskCoverage([rec('x', 'wrong', null)]).aurc).toBeNull();
    });
    it('the arm that answers more drops its least confident answers', () => {
        const m = matchCoverage(a, b);
        expect(m.reduced).toBe('a');
        expect(m.dropped).toBe(2);
        expect(m.coverage).toBeCloseTo(0.6, 12);
        expect(m.a.map((r) => r.outcome)).toEqual(['correct', 'wrong', 'correct', 'abstained', 'abstained']);
        expect(discordant(m.a, m.b)).toEqual({ b: 1, c: 1, n: 5 });
        // raw: A wrong on q2,q4,q5; B wrong on q5 → b = 2, c = 0.
        expect(discordant(a, b)).toEqual({ b: 2, c: 0, n: 5 });
        // symmetric call reduces b's side instead.
        expect(matchCoverage(b, a).reduced).toBe('b');
    });
    it('needs confidences on the arm that must give answers up', () => {
        const noConf = a.map((r) => ({ ...r, confidence: null }));
        expect(() => matchCoverage(noConf, b)).toThrow(/confidences/);
    });
});

describe('bootstrap and verdict', () => {
    it('degenerate and seeded', () => {
        expect(bootstrapPairedDiffCI([1, 1, 1, 1], [0, 0, 0, 0])).toEqual([1, 1]);
        const xa = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1];
        const xb = [0, 0, 1, 0, 0, 1, 0, 0, 1, 0];
        const c1 = bootstrapPairedDiffCI(xa, xb, { seed: 5 });
        expect(bootstrapPairedDiffCI(xa, xb, { seed: 5 })).toEqual(c1);
        expect(c1[0]).toBeLessThanOrEqual(0.4);
        expect(c1[1]).toBeGreaterThanOrEqual(0.4);
        expect(c1[0]).toBeGreaterThanOrEqual(0);
    });
    it('verdicts', () => {
        expect(verdictOf(0.01, 0.05, 1 / 1024)).toBe('holds');
        expect(verdictOf(0.4, 0.05, 1 / 1024)).toBe('does not hold');
        expect(verdictOf(0.5, 0.05, 0.125)).toBe('inconclusive'); // 3 discordant pairs can never reach 0.05
        expect(verdictOf(NaN, 0.05, 0)).toBe('inconclusive');
    });
});

describe('replicates: sign-flip test, t quantiles and intervals', () => {
    it('one comparison repeated: per-question sums ±3 over 3 replicates (b = 4, c = 2) give the exact McNemar p, never 0', () => {
        // Signs of 6 equal magnitudes: S* ≥ S ⇔ at least 4 of 6 positive: (C(6,4)+C(6,5)+C(6,6))/64 = 22/64
        // = one-sided exact McNemar for b = 4, c = 2; two-sided 2·P(X ≤ 2) = 44/64.
        const sums = [3, 3, 3, 3, -3, -3, 0, 0, 0];
        const r = signFlipTest(sums, 'greater');
        expect(r.p).toBeCloseTo(22 / 64, 12);
        expect(r.method).toBe('exact');
        expect(r.units).toBe(9);
        expect(r.informative).toBe(6);
        expect(r.minAchievableP).toBeCloseTo(1 / 64, 14);
        expect(signFlipTest(sums, 'two-sided').p).toBeCloseTo(44 / 64, 12);
        expect(mcnemarExact(4, 2, 'greater').p).toBeCloseTo(22 / 64, 12);
    });
    it('zero variance across replicates: 2^-n, not 0', () => {
        // [.02, .02, .02]: only the all-plus assignment reaches S → 1/8.
        expect(signFlipTest([0.02, 0.02, 0.02], 'greater').p).toBeCloseTo(1 / 8, 12);
        // [.02, .02, .03] (t p = 0.0099, python3 scipy.stats.ttest_1samp(..., alternative='greater')) → 1/8 too.
        expect(signFlipTest([0.02, 0.02, 0.03], 'greater').p).toBeCloseTo(1 / 8, 12);
        expect(pairedT([0.02, 0.02, 0.03], 'greater').p).toBeCloseTo(0.009901970590196563, 9);
        // The t statistic of equal differences is undefined: no p at all rather than p = 0.
        expect(pairedT([0.02, 0.02, 0.02], 'greater').p).toBeNaN();
        // (.1 + .1 + .1) / 3 = 0.10000000000000002: rounding is not variance
        expect(pairedT([0.1, 0.1, 0.1], 'greater').p).toBeNaN();
        expect(signFlipTest([0, 0, 0], 'greater')).toMatchObject({ p: 1, minAchievableP: 1, informative: 0 });
    });
    // python3: numpy enumeration of all 2^22 sign assignments of |values|, counting S* >= S
    // (ints: rng = np.random.default_rng(7); rs.integers(-3, 4, size=22); halves: next draw + 0.5).
    const ints = [3, 1, 1, 3, 1, 2, 2, -2, -3, -1, -2, 3, 3, -3, 0, 2, -3, 2, -3, 0, 2, -1];
    const halves = [-0.5, -0.5, 1.5, -0.5, 2.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 2.5, 2.5, 1.5, 1.5, 1.5, -0.5, 2.5, 0.5, -0.5, 2.5, -1.5];
    it('integer values: exact by dynamic programming, equal to full enumeration', () => {
        const r = signFlipTest(ints, 'greater', { exactLimit: 0 });
        expect(r.method).toBe('exact');
        expect(r.p).toBeCloseTo(0.2818784713745117, 12);
        expect(signFlipTest(ints, 'two-sided', { exactLimit: 0 }).p).toBeCloseTo(0.5637569427490234, 12);
        expect(
            signFlipTest(
                ints.map((x) => -x),
                'less',
                { exactLimit: 0 },
            ).p,
        ).toBeCloseTo(0.2818784713745117, 12);
    });
    it('non-integer values: enumeration when few, seeded Monte Carlo with stated resamples when many', () => {
        const e = signFlipTest(halves, 'greater', { exactLimit: 22 });
        expect(e.method).toBe('exact');
        expect(e.p).toBeCloseTo(0.003346681594848633, 12);
        const mc = signFlipTest(halves, 'greater', { exactLimit: 10, resamples: 20000, seed: 3 });
        expect(mc.method).toBe('monte-carlo');
        expect(mc.resamples).toBe(20000);
        // binomial standard error of the estimate is √(p(1−p)/20000) ≈ 4.1e-4; allow 5 of them.
        expect(Math.abs(mc.p - 0.003346681594848633)).toBeLessThan(5 * 4.1e-4);
        expect(signFlipTest(halves, 'greater', { exactLimit: 10, resamples: 20000, seed: 3 }).p).toBe(mc.p);
        expect(mc.p).toBeGreaterThanOrEqual(1 / 20001);
    });
    it('t quantiles and the t interval (python3 scipy.stats.t.ppf)', () => {
        expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.302652729749462, 8);
        expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764451051977934, 8);
        expect(studentTQuantile(0.975, 1000)).toBeCloseTo(1.9623390808264083, 8);
        expect(studentTQuantile(0.9, 7)).toBeCloseTo(1.4149239276505086, 8);
        expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.7764451051977934, 8);
        // mean 0.026, sd 0.023022, t.ppf(0.975, 4) · sd/√5 (python3 numpy + scipy)
        const r = tInterval([0.05, 0.02, 0.04, -0.01, 0.03]);
        expect(r.mean).toBeCloseTo(0.026, 12);
        expect(r.ci[0]).toBeCloseTo(-0.0025852519098702245, 8);
        expect(r.ci[1]).toBeCloseTo(0.05458525190987023, 8);
        expect(tInterval([0.1]).ci.every(Number.isNaN)).toBe(true);
    });
});

describe('Holm', () => {
    it('step-down by hand', () => {
        // sorted .005, .01, .03, .04 × 4, 3, 2, 1 = .02, .03, .06, .04 → running max .02, .03, .06, .06
        const adj = holm([0.01, 0.04, 0.03, 0.005]);
        [0.03, 0.06, 0.06, 0.02].forEach((x, i) => expect(adj[i]).toBeCloseTo(x, 12));
        // a member without a p counts as 1; a family of 5 with two known: .01·5 = .05, max(.05, .02·4)
        const part = holm([0.01, 0.02], 5);
        expect(part[0]).toBeCloseTo(0.05, 12);
        expect(part[1]).toBeCloseTo(0.08, 12);
        expect(holm([NaN, 0.01])).toEqual([1, 0.02]);
        expect(holm([0.6, 0.7])).toEqual([1, 1]);
    });
});

describe('a family of hypotheses', () => {
    const h = (name: string, p: number, minAchievableP = 0, extra: Partial<HypothesisMetrics> = {}): HypothesisMetrics => ({
        name,
        p,
        minAchievableP,
        holds: p < 0.05,
        verdict: p < 0.05 ? 'holds' : 'does not hold',
        test: 'paired-t',
        discordant: { b: 0, c: 0 },
        coverage: null,
        alpha: 0.05,
        perSeed: [],
        ...extra,
    });
    it('Holm: raw and adjusted p, the verdict from the adjusted one', () => {
        // raw .01, .04, .03 → sorted .01·3 = .03, .03·2 = .06, .04·1 → running max .06: adjusted .03, .06, .06
        const out = adjustFamily([h('a', 0.01), h('b', 0.04), h('c', 0.03)]);
        expect(out.map((x) => x.family!.pAdjusted)).toEqual([0.03, 0.06, 0.06].map((x) => expect.closeTo(x, 12)));
        expect(out.map((x) => x.verdict)).toEqual(['holds', 'does not hold', 'does not hold']);
        expect(out.map((x) => x.family!.verdictUnadjusted)).toEqual(['holds', 'holds', 'holds']);
        expect(out.map((x) => x.p)).toEqual([0.01, 0.04, 0.03]);
        // idempotent: adjusting again keeps the unadjusted verdicts
        expect(adjustFamily(out).map((x) => x.family!.verdictUnadjusted)).toEqual(['holds', 'holds', 'holds']);
        expect(pText(out[1], (p) => p.toFixed(2))).toBe('p = 0.06 (Holm, 3 hypotheses; raw 0.04)');
        // a family of one is its own raw p
        expect(pText(adjustFamily([h('a', 0.01)])[0], (p) => p.toFixed(2))).toBe('p = 0.01');
        // a member not computed yet counts as p = 1: .01 in a family of 3 → .03
        expect(adjustFamily([h('a', 0.01)], 3)[0].family).toMatchObject({ size: 3, missing: 2, pAdjusted: expect.closeTo(0.03, 12) });
    });
    it('a family so large that no verdict can reach α says so', () => {
        // 5 replicates, exact sign-flip: at best 1/32 = .03125 each; Holm's smallest adjusted p is 3/32 = .094 ≥ .05
        const out = adjustFamily([h('a', 1 / 32, 1 / 32), h('b', 1 / 32, 1 / 32), h('c', 0.5, 1 / 32)]);
        expect(out.map((x) => x.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
        expect(out[0].family!.verdictUnadjusted).toBe('holds');
        expect(statements(out[0]).join(' ')).toMatch(/a family of 3 hypotheses \(Holm\): no adjusted p here can be below 0\.094 ≥ α = 0\.05/);
        // the same two with a t test (no floor) can decide: .03125·2 = .0625 ≥ .05 → does not hold
        expect(adjustFamily([h('a', 1 / 32), h('b', 1 / 32)]).map((x) => x.verdict)).toEqual(['does not hold', 'does not hold']);
    });
    it('effect first, then p, with what was replicated and which test', () => {
        const x = h('a', 0.004, 0, {
            effect: { difference: 0.042, ci95: [0.01, 0.074], interval: 't interval over 5 replicates' },
            design: { replicates: 5, compared: 5, redrawn: ['facts', 'splits', 'pretraining', 'finetuning'], sharedQuestions: false, unit: 'replicates', units: 5, test: 'paired t over replicates' },
        });
        expect(effectText(x)).toBe('+4.2 pts [+1.0, +7.4]');
        expect(replicationText(x)).toBe('5 replicates redrawing facts, splits, pretraining, finetuning, independent draws');
        expect(testText(x)).toBe('paired t over replicates; 5 independent replicates');
        expect(effectText(h('n', NaN))).toBe('no effect estimate');
        expect(pText(h('n', NaN))).toBe('no p');
    });
});
