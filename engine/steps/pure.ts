/**
 * The pure parts of the steps (no I/O, no models), unit-tested by hand: labelling, the shuffle
 * control, SliCK categories, Gekhman mixes, and the hypothesis computation.
 */
import type { HypothesisMetrics, HypothesisSeedResult, QuestionRecord } from '../results-types.js';
import { unitHashOf } from '../datasets/index.js';
import { bootstrapPairedDiffCI, discordant, matchCoverage, mcnemarExact, pairedT, verdictOf, wilcoxonSignedRank, type Alternative, type Verdict } from '../stats/index.js';

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
 * SliCK (Gekhman et al. 2024), adapted to one greedy prompt: HighlyKnown = the greedy answer is
 * correct and so is every sample; MaybeKnown = greedy correct, some sample wrong; WeaklyKnown =
 * greedy wrong, some sample at temperature T correct; Unknown = never correct. (The paper uses
 * several few-shot prompts for P(correct | T=0); `samples` at `temperature` estimate the rest.)
 */
export function slickCategory(greedyCorrect: boolean, samplesCorrect: number, samples: number): SlickCategory {
    if (greedyCorrect) return samplesCorrect === samples ? 'HighlyKnown' : 'MaybeKnown';
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
        rows: pick.map((r) => ({ id: r.id, question: r.question, answers: r.answers, prediction: '', correct: true, label: r.answers[0], abstain: false, confidence: null })),
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

/** One seed's paired comparison (raw or at matched coverage). */
export function compareArms(a: QuestionRecord[], b: QuestionRecord[], options: { direction: 'more' | 'less'; matched: boolean; alpha: number; seedIndex: number; bootstrapSeed?: number }): HypothesisSeedResult & { reason?: string } {
    const bIds = new Set(b.map((r) => r.id));
    const common = a.filter((r) => bIds.has(r.id)).map((r) => r.id).sort();
    const aMap = new Map(a.map((r) => [r.id, r]));
    const bMap = new Map(b.map((r) => [r.id, r]));
    let ra = common.map((id) => aMap.get(id)!);
    let rb = common.map((id) => bMap.get(id)!);
    let coverage: number | null = null;
    let reason: string | undefined;
    if (options.matched) {
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
    };
}

/**
 * The hypothesis over all seeds. One seed: its McNemar test is the verdict. Several seeds: the
 * verdict comes from a one-sided paired t test on the per-seed differences of wrong rate (A - B,
 * at matched coverage when asked); the Wilcoxon signed-rank p is reported beside it (with few seeds
 * it cannot reach small p-values: 3 seeds give at best 1/8).
 */
export function hypothesisOver(name: string, perSeed: (HypothesisSeedResult & { reason?: string })[], direction: 'more' | 'less', alpha: number): HypothesisMetrics & { wilcoxonP?: number; seedsHolding: number } {
    const seedsHolding = perSeed.filter((s) => s.holds).length;
    const sum = perSeed.reduce((acc, s) => ({ b: acc.b + s.discordant.b, c: acc.c + s.discordant.c }), { b: 0, c: 0 });
    const covs = perSeed.map((s) => s.coverage).filter((c): c is number => c !== null);
    const coverage = covs.length ? covs.reduce((a, b) => a + b, 0) / covs.length : null;
    if (perSeed.length === 1) {
        const s = perSeed[0];
        return { name, holds: s.holds, verdict: s.verdict, test: 'mcnemar', p: s.p, discordant: s.discordant, coverage: s.coverage, alpha, perSeed, seedsHolding };
    }
    const alternative: Alternative = direction === 'more' ? 'greater' : 'less';
    const diffs = perSeed.filter((s) => !s.reason).map((s) => s.wrongRateA - s.wrongRateB);
    const t = pairedT(diffs, alternative);
    const w = wilcoxonSignedRank(diffs, alternative);
    // The smallest p a t test can give is 0: it has the power to decide once there are ≥ 2 seeds.
    // Inconclusive when fewer than 2 seeds could be compared, when the differences are all zero
    // (the t statistic is undefined), or when no single seed had the power to decide.
    const degenerate = diffs.length < 2 || Number.isNaN(t.t) || perSeed.every((s) => s.verdict === 'inconclusive');
    const verdict: Verdict = degenerate ? 'inconclusive' : verdictOf(t.p, alpha, 0);
    return {
        name,
        holds: verdict === 'holds',
        verdict,
        test: 'paired-t',
        p: t.p,
        discordant: sum,
        coverage,
        alpha,
        perSeed,
        acrossSeeds: { test: 'paired-t', p: t.p, meanDifference: t.mean, n: diffs.length },
        wilcoxonP: w.p,
        seedsHolding,
    };
}
