/**
 * The hypothesis step: compares two arms of an evaluation over its replicates, with the test that
 * fits what was replicated.
 */
import { join } from 'node:path';
import type { EvaluateStep, HypothesisStep } from '../../language/plan-types.js';
import type { HypothesisMetrics, HypothesisSeedResult, QuestionRecord } from '../results-types.js';
import { bootstrapPairedDiffCI, discordant, matchCoverage, mcnemarExact, pairedT, signFlipTest, tInterval, verdictOf, type Alternative, type Verdict } from '../stats/index.js';
import { readJsonlFile } from '../store/index.js';
import { redrawnUpstream } from '../../language/replicates.js';
import type { ExecContext, StepOutcome } from './context.js';
import { stepById } from './context.js';
import type { AnswerRow } from './step-io.js';

export interface ArmRecords {
    seedIndex: number;
    a: QuestionRecord[];
    b: QuestionRecord[];
}

function wrongVector(rs: { id: string; outcome: string }[], ids: string[]): number[] {
    const m = new Map(rs.map((r) => [r.id, r.outcome === 'wrong' ? 1 : 0]));
    return ids.map((id) => m.get(id) ?? 0);
}

/** One replicate's per-question outcomes (after matching coverage), for question-level tests. */
export interface QuestionOutcomes {
    ids: string[];
    texts: string[];
    wrongA: number[];
    wrongB: number[];
}

/** One replicate's comparison, with what the hypothesis needs beyond the stored per-seed result. */
export type SeedComparison = HypothesisSeedResult & {
    reason?: string;
    questions?: QuestionOutcomes;
    /** Questions only one arm answered (left out of the comparison). */
    unpaired?: { onlyA: number; onlyB: number };
};

/** One seed's paired comparison (raw or at matched coverage), on the questions both arms answered. */
export function compareArms(
    a: QuestionRecord[],
    b: QuestionRecord[],
    options: { direction: 'more' | 'less'; matched: boolean; alpha: number; seedIndex: number; bootstrapSeed?: number },
): SeedComparison {
    const bIds = new Set(b.map((r) => r.id));
    const aIds = new Set(a.map((r) => r.id));
    const common = a
        .filter((r) => bIds.has(r.id))
        .map((r) => r.id)
        .sort();
    const onlyA = aIds.size - common.length;
    const onlyB = [...bIds].filter((id) => !aIds.has(id)).length;
    const aMap = new Map(a.map((r) => [r.id, r]));
    const bMap = new Map(b.map((r) => [r.id, r]));
    let ra = common.map((id) => aMap.get(id)!);
    let rb = common.map((id) => bMap.get(id)!);
    let coverage: number | null = null;
    let reason: string | undefined;
    if (common.length === 0) reason = 'the two arms have no question in common';
    else if (options.matched) {
        try {
            const m = matchCoverage(ra, rb);
            ra = m.a;
            rb = m.b;
            coverage = m.coverage;
        } catch (e) {
            reason = (e as Error).message;
        }
    }
    const alternative: Alternative = options.direction === 'more' ? 'greater' : 'less';
    const d = discordant(ra, rb);
    const mc = mcnemarExact(d.b, d.c, alternative);
    const n = common.length;
    const wa = wrongVector(ra, common);
    const wb = wrongVector(rb, common);
    const wrongRateA = n ? wa.reduce((s, x) => s + x, 0) / n : 0;
    const wrongRateB = n ? wb.reduce((s, x) => s + x, 0) / n : 0;
    const ci = n ? bootstrapPairedDiffCI(wa, wb, { seed: options.bootstrapSeed ?? 1 }) : ([NaN, NaN] as [number, number]);
    const verdict: Verdict = reason ? 'inconclusive' : verdictOf(mc.p, options.alpha, mc.minAchievableP);
    return {
        seed: options.seedIndex,
        holds: verdict === 'holds',
        verdict,
        test: 'mcnemar',
        p: reason ? NaN : mc.p,
        discordant: { b: d.b, c: d.c },
        coverage,
        wrongRateA,
        wrongRateB,
        ci95: ci,
        ...(reason ? { reason } : {}),
        ...(onlyA || onlyB ? { unpaired: { onlyA, onlyB } } : {}),
        questions: { ids: common, texts: common.map((id) => aMap.get(id)!.question), wrongA: wa, wrongB: wb },
    };
}

const pts = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} pts`;

function sameQuestions(x: QuestionOutcomes, y: QuestionOutcomes): boolean {
    return x.ids.length === y.ids.length && x.ids.every((id, i) => id === y.ids[i] && x.texts[i] === y.texts[i]);
}

/**
 * The hypothesis over its replicates (the seeds of `seeds N` that redrew something upstream of it).
 * The test follows what was replicated:
 * - one replicate: exact McNemar on its questions;
 * - replicates that answered the same test questions (nothing upstream of the split redrawn): a
 *   question-level test, the exact sign-flip permutation test on each question's wrong-answer
 *   difference summed over the replicates (questions are the independent units; with one
 *   replicate it is McNemar's test);
 * - independent draws (the questions differ between replicates): a one-sided paired t test on the
 *   replicate-level differences of wrong-answer rate (replicates are the units), with the exact
 *   sign-flip p beside it; when those differences are all equal the t statistic is undefined and the
 *   exact sign-flip p is the test (3 replicates: 1/8 at best, never 0).
 * The effect (difference in wrong-answer rate, A − B) comes with a 95% t interval over the same units.
 * `notes` states what the verdict must carry: replicates that could not be compared, arms that did
 * not answer the same questions, too few units to reach α.
 */
export function hypothesisOver(
    name: string,
    perSeed: SeedComparison[],
    direction: 'more' | 'less',
    alpha: number,
    context: { redrawn?: string[]; seeds?: number } = {},
): HypothesisMetrics & { seedsHolding: number } {
    const alternative: Alternative = direction === 'more' ? 'greater' : 'less';
    const redrawn = context.redrawn ?? [];
    const notes: string[] = [];
    const stored: HypothesisSeedResult[] = perSeed.map(({ questions: _q, ...rest }) => rest);
    const usable = perSeed.filter((s) => !s.reason && s.questions);
    const seedsHolding = perSeed.filter((s) => s.holds).length;
    const sum = usable.reduce((acc, s) => ({ b: acc.b + s.discordant.b, c: acc.c + s.discordant.c }), { b: 0, c: 0 });
    const covs = usable.map((s) => s.coverage).filter((c): c is number => c !== null);
    const coverage = covs.length ? covs.reduce((a, b) => a + b, 0) / covs.length : null;
    const R = perSeed.length;
    for (const s of perSeed.filter((x) => x.reason)) notes.push(`${R > 1 ? `replicate ${s.seed + 1}` : 'the comparison'} could not be made: ${s.reason}`);
    const unpaired = perSeed.filter((s) => s.unpaired);
    if (unpaired.length) {
        const onlyA = unpaired.reduce((t, s) => t + s.unpaired!.onlyA, 0);
        const onlyB = unpaired.reduce((t, s) => t + s.unpaired!.onlyB, 0);
        notes.push(
            `the arms did not answer the same questions: ${onlyA} answered by A only and ${onlyB} by B only${R > 1 ? ` (over ${unpaired.length} of ${R} replicates)` : ''} are left out; the test pairs the questions both answered`,
        );
    }
    if ((context.seeds ?? 1) > 1 && R === 1)
        notes.push(`\`seeds ${context.seeds}\`, but nothing seeded upstream of this comparison is redrawn, so every replicate would be the same run: there is one`);
    const base = { name, discordant: sum, coverage, alpha, perSeed: stored, seedsHolding };
    if (usable.length === 0) {
        return {
            ...base,
            holds: false,
            verdict: 'inconclusive',
            test: R > 1 ? 'sign-flip' : 'mcnemar',
            p: NaN,
            design: { replicates: R, compared: 0, redrawn, sharedQuestions: false, unit: 'questions', units: 0, test: 'none' },
            notes: [...notes, 'no replicate could be compared, so there is no test'],
        };
    }
    const shared = usable.every((s) => sameQuestions(s.questions!, usable[0].questions!));
    let out: HypothesisMetrics & { seedsHolding: number };
    if (usable.length === 1 || shared) {
        const k = usable.length;
        const q0 = usable[0].questions!;
        const n = q0.ids.length;
        const sums = q0.ids.map((_, i) => usable.reduce((t, s) => t + s.questions!.wrongA[i] - s.questions!.wrongB[i], 0));
        const perQuestion = sums.map((x) => x / k);
        const ti = tInterval(perQuestion);
        const effect = { difference: ti.mean, ci95: ti.ci, interval: `t interval over ${n} questions` };
        let p: number;
        let minAchievableP: number;
        let test: string;
        let words: string;
        let informative: number;
        if (k === 1) {
            const mc = mcnemarExact(sum.b, sum.c, alternative);
            p = mc.p;
            minAchievableP = mc.minAchievableP;
            test = 'mcnemar';
            words = 'exact McNemar over questions';
            informative = sum.b + sum.c;
            if (R > 1) notes.push(`an across-replicate test needs at least 2 replicates; only 1 of ${R} could be compared, so the test is McNemar's on its questions`);
        } else {
            const sf = signFlipTest(sums, alternative, { seed: 1, resamples: 10_000 });
            p = sf.p;
            minAchievableP = sf.minAchievableP;
            test = 'sign-flip';
            words = `${sf.method === 'exact' ? 'exact' : `Monte Carlo (${sf.resamples} resamples)`} sign-flip over questions (each question's wrong-answer difference summed over ${k} replicates)`;
            informative = sf.informative;
        }
        const verdict = verdictOf(p, alpha, minAchievableP);
        out = {
            ...base,
            holds: verdict === 'holds',
            verdict,
            test,
            p,
            effect,
            minAchievableP,
            design: { replicates: R, compared: k, redrawn, sharedQuestions: true, unit: 'questions', units: n, informative, test: words },
        };
    } else {
        const diffs = usable.map((s) => s.wrongRateA - s.wrongRateB);
        const t = pairedT(diffs, alternative);
        const sf = signFlipTest(diffs, alternative);
        const ti = tInterval(diffs);
        const effect = { difference: ti.mean, ci95: ti.ci, interval: `t interval over ${diffs.length} replicates` };
        let p: number;
        let minAchievableP: number;
        let test: 'paired-t' | 'sign-flip';
        let words: string;
        if (Number.isFinite(t.p)) {
            p = t.p;
            minAchievableP = 0;
            test = 'paired-t';
            words = `paired t over replicates (exact sign-flip p = ${sf.p.toPrecision(2)})`;
        } else {
            p = sf.p;
            minAchievableP = sf.minAchievableP;
            test = 'sign-flip';
            words = 'exact sign-flip over replicates';
            notes.push(
                `the ${diffs.length} replicate differences are all ${pts(diffs[0])}: a t test is undefined without variance, so the test is the exact sign-flip (at best ${minAchievableP.toPrecision(2)})`,
            );
        }
        const verdict = verdictOf(p, alpha, minAchievableP);
        out = {
            ...base,
            holds: verdict === 'holds',
            verdict,
            test,
            p,
            effect,
            minAchievableP,
            acrossSeeds: { test, p, meanDifference: ti.mean, n: diffs.length, signFlipP: sf.p },
            design: { replicates: R, compared: diffs.length, redrawn, sharedQuestions: false, unit: 'replicates', units: diffs.length, informative: sf.informative, test: words },
        };
    }
    if (out.minAchievableP !== undefined && out.minAchievableP >= alpha && Number.isFinite(out.p)) {
        const d = out.design!;
        notes.push(`with ${d.informative ?? d.units} informative ${d.unit} the smallest p this test can give is ${out.minAchievableP.toPrecision(2)} ≥ α = ${alpha}: it cannot decide`);
    }
    if (notes.length) out.notes = notes;
    return out;
}

export async function hypothesisStep(ctx: ExecContext, s: HypothesisStep): Promise<StepOutcome> {
    const p = s.params;
    const evals = ctx.inputsAll(p.evaluation);
    const perSeed = [];
    for (const [i, e] of evals.entries()) {
        const rows = await readJsonlFile<AnswerRow>(join(e.dir, 'answers.jsonl'));
        // Rows carry the arms' names when the evaluation was made: a stored evaluation may predate a
        // rename, so arms are matched by their position in the evaluate step.
        const stored = [...new Set(rows.map((r) => r.arm))];
        const current = (stepById(ctx.plan, p.evaluation) as EvaluateStep).params.arms.map((x) => x.model);
        const armName = (id: string) => (stored.length === current.length && current.includes(id) ? stored[current.indexOf(id)] : id);
        const a = rows.filter((r) => r.arm === armName(p.a));
        const b = rows.filter((r) => r.arm === armName(p.b));
        if (!a.length) throw new Error(`hypothesis ${s.id}: ${p.a} is not an arm of ${p.evaluation}`);
        if (!b.length) throw new Error(`hypothesis ${s.id}: ${p.b} is not an arm of ${p.evaluation}`);
        perSeed.push(compareArms(a, b, { direction: p.direction, matched: p.matchedCoverage, alpha: p.alpha, seedIndex: e.seedIndex ?? i, bootstrapSeed: 1 + i }));
    }
    const h = hypothesisOver(s.id, perSeed, p.direction, p.alpha, { redrawn: redrawnUpstream(ctx.plan, s.id), seeds: ctx.plan.seeds });
    const warnings = perSeed.filter((x) => x.reason).map((x) => `seed ${x.seed}: inconclusive: ${x.reason}`);
    return { metrics: h, warnings };
}
