/**
 * The pure parts of the steps (no I/O, no models), unit-tested by hand: labelling, the shuffle
 * control, SliCK categories, Gekhman mixes, and the hypothesis computation.
 */
import type { FitCounts, HypothesisMetrics, HypothesisSeedResult, QuestionRecord, TrainingFit } from '../results-types.js';
import { unitHashOf } from '../datasets/index.js';
import { bootstrapPairedDiffCI, discordant, matchCoverage, mcnemarExact, pairedT, signFlipTest, tInterval, verdictOf, type Alternative, type Verdict } from '../stats/index.js';

export interface LabelRow {
    id: string;
    question: string;
    answers: string[];
    /** What the labelling model answered ('' for shuffles and mixes). */
    prediction: string;
    /** Whether that answer matched the gold answers. */
    correct: boolean;
    /** The training label: the gold answer, or the abstention text. */
    label: string;
    abstain: boolean;
    confidence: number | null;
    /** SliCK category of the question for the fine-tuned model (mixes only). */
    category?: string;
}

/** R-Tuning style labels: a correct answer keeps the gold answer, anything else becomes `otherwise`. */
export function labelFor(answers: string[], correct: boolean, otherwise: string): { label: string; abstain: boolean } {
    return correct ? { label: answers[0], abstain: false } : { label: otherwise, abstain: true };
}

/**
 * The shuffle control: exactly as many abstention labels as `source`, on questions drawn at random
 * (seeded, independent of row order: ranked by hash(seed:id)); gold answers everywhere else.
 */
export function shuffleLabels(source: LabelRow[], seed: number, otherwise?: string): LabelRow[] {
    const k = source.filter((r) => r.abstain).length;
    const abstainText = otherwise ?? source.find((r) => r.abstain)?.label ?? "I don't know";
    const ranked = source.map((r) => ({ id: r.id, u: unitHashOf(`shuffle:${seed}:${r.id}`) })).sort((a, b) => a.u - b.u || (a.id < b.id ? -1 : 1));
    const chosen = new Set(ranked.slice(0, k).map((r) => r.id));
    return source.map((r) => (chosen.has(r.id) ? { ...r, prediction: '', correct: false, label: abstainText, abstain: true } : { ...r, prediction: '', correct: true, label: r.answers[0], abstain: false }));
}

export type SlickCategory = 'HighlyKnown' | 'MaybeKnown' | 'WeaklyKnown' | 'Unknown';
export const SLICK_ORDER: SlickCategory[] = ['HighlyKnown', 'MaybeKnown', 'WeaklyKnown', 'Unknown'];

/**
 * SliCK (Gekhman et al. 2024, §3). Each question is asked with Nex different few-shot prompts
 * (the paper: 10 prompts of 4 random exemplars); per prompt, one greedy answer and several samples
 * at temperature T (the paper: 16 at T = 0.5). P_greedy = share of prompts whose greedy answer is
 * right; P_sample = share of samples that are right.
 *   HighlyKnown: P_greedy = 1 (the greedy answer is right with every prompt);
 *   MaybeKnown:  0 < P_greedy < 1;
 *   WeaklyKnown: P_greedy = 0 and P_sample > 0;
 *   Unknown:     P_greedy = 0 and P_sample = 0.
 * Known = the first three. `greedyCorrect` of `prompts` greedy answers were right, `samplesCorrect`
 * samples (over all prompts) were right.
 */
export function slickCategory(greedyCorrect: number, prompts: number, samplesCorrect: number): SlickCategory {
    if (!(prompts >= 1) || greedyCorrect < 0 || greedyCorrect > prompts || samplesCorrect < 0) throw new Error(`SliCK: ${greedyCorrect} right greedy answers of ${prompts} prompts, ${samplesCorrect} right samples`);
    if (greedyCorrect === prompts) return 'HighlyKnown';
    if (greedyCorrect > 0) return 'MaybeKnown';
    return samplesCorrect > 0 ? 'WeaklyKnown' : 'Unknown';
}

/**
 * Gekhman mix: a fine-tuning set whose share of Unknown examples is `unknown`, with gold labels.
 * Size defaults to the largest the categories allow. Seeded, order-independent choice.
 */
export function mixExamples(rows: { id: string; question: string; answers: string[]; category: SlickCategory }[], unknown: number, seed: number, size?: number): { rows: LabelRow[]; size: number; unknown: number; known: number } {
    const rank = (xs: typeof rows) => xs.map((r) => ({ r, u: unitHashOf(`mix:${seed}:${r.id}`) })).sort((a, b) => a.u - b.u).map((x) => x.r);
    const unk = rank(rows.filter((r) => r.category === 'Unknown'));
    const known = rank(rows.filter((r) => r.category !== 'Unknown'));
    let n = size ?? Infinity;
    if (size === undefined) {
        if (unknown > 0) n = Math.min(n, Math.floor(unk.length / unknown));
        if (unknown < 1) n = Math.min(n, Math.floor(known.length / (1 - unknown)));
        if (!Number.isFinite(n)) n = unk.length + known.length;
    }
    const nU = Math.round(unknown * n);
    const nK = n - nU;
    if (nU > unk.length || nK > known.length) throw new Error(`a mix of ${n} examples with ${Math.round(unknown * 100)}% Unknown needs ${nU} Unknown and ${nK} known questions; there are ${unk.length} and ${known.length}`);
    const pick = [...unk.slice(0, nU), ...known.slice(0, nK)];
    return {
        rows: pick.map((r) => ({ id: r.id, question: r.question, answers: r.answers, prediction: '', correct: true, label: r.answers[0], abstain: false, confidence: null, category: r.category })),
        size: n,
        unknown: nU,
        known: nK,
    };
}

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
export function compareArms(a: QuestionRecord[], b: QuestionRecord[], options: { direction: 'more' | 'less'; matched: boolean; alpha: number; seedIndex: number; bootstrapSeed?: number }): SeedComparison {
    const bIds = new Set(b.map((r) => r.id));
    const aIds = new Set(a.map((r) => r.id));
    const common = a.filter((r) => bIds.has(r.id)).map((r) => r.id).sort();
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
        notes.push(`the arms did not answer the same questions: ${onlyA} answered by A only and ${onlyB} by B only${R > 1 ? ` (over ${unpaired.length} of ${R} replicates)` : ''} are left out; the test pairs the questions both answered`);
    }
    if ((context.seeds ?? 1) > 1 && R === 1) notes.push(`\`seeds ${context.seeds}\`, but nothing seeded upstream of this comparison is redrawn, so every replicate would be the same run: there is one`);
    const base = { name, discordant: sum, coverage, alpha, perSeed: stored, seedsHolding };
    if (usable.length === 0) {
        return {
            ...base, holds: false, verdict: 'inconclusive', test: R > 1 ? 'sign-flip' : 'mcnemar', p: NaN,
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
            ...base, holds: verdict === 'holds', verdict, test, p, effect, minAchievableP,
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
            notes.push(`the ${diffs.length} replicate differences are all ${pts(diffs[0])}: a t test is undefined without variance, so the test is the exact sign-flip (at best ${minAchievableP.toPrecision(2)})`);
        }
        const verdict = verdictOf(p, alpha, minAchievableP);
        out = {
            ...base, holds: verdict === 'holds', verdict, test, p, effect, minAchievableP,
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

/**
 * The warning a fine-tune's training fit deserves: it fitted nothing (answers under 10 points more of
 * its examples than the base model did, and under 90% of them), or it fitted under half of its
 * Unknown examples. Undefined when it fitted them.
 */
export function fitWarning(fit: TrainingFit): string | undefined {
    const rate = (c: FitCounts | undefined) => (c && c.total ? c.fitted / c.total : NaN);
    const pctOf = (x: number) => `${(100 * x).toFixed(0)}%`;
    const all = fit.all;
    if (all.total && (all.fitted - all.base) / all.total < 0.1 && rate(all) < 0.9) {
        return `the fine-tune did not fit its training examples: it answers ${pctOf(rate(all))} of them, the base model ${pctOf(all.base / all.total)}; raise learningRate or epochs`;
    }
    if (fit.unknown?.total && rate(fit.unknown) < 0.5) return `the fine-tune fitted only ${pctOf(rate(fit.unknown))} of its Unknown examples (Known: ${fit.known?.total ? pctOf(rate(fit.known)) : '—'})`;
    return undefined;
}
