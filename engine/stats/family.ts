/**
 * The hypotheses of one experiment as a family: Holm's correction across them (raw and adjusted p,
 * the verdict from the adjusted one), and the words every consumer (CLI, editor annotations, HTML
 * report) shows for a verdict, effect first, p second, with what was replicated and which test.
 * Pure functions over result data; no I/O.
 */
import type { HypothesisMetrics, Verdict } from '../results-types.js';
import { holm, verdictOf } from './index.js';
import { formatInterval, formatP, formatPoints } from '../format.js';

/**
 * Applies Holm's correction across `hypotheses` (one experiment). `size` is the number of hypotheses
 * the experiment states (default: those given); members with no result yet count with p = 1, which
 * can only make the others' adjusted p larger. Each result gets `family` (adjusted p, the verdict
 * before the correction) and its verdict from the adjusted p. When no p the family could produce
 * can reach α, the verdict is inconclusive and `family.note` says so. Idempotent.
 */
export function adjustFamily<T extends HypothesisMetrics>(hypotheses: T[], size = hypotheses.length): T[] {
    const m = Math.max(size, hypotheses.length);
    const adjusted = holm(
        hypotheses.map((h) => h.p),
        m,
    );
    // Holm's adjusted p of any member is at least m × the smallest raw p in the family, and at least
    // its own raw p: so at least max(m × the family's smallest achievable p, its own).
    const floors = hypotheses.map((h) => h.minAchievableP ?? 0);
    const familyFloor = m * Math.min(...floors, 1);
    return hypotheses.map((h, i) => {
        const unadjusted: Verdict = h.family?.verdictUnadjusted ?? h.verdict;
        const pAdjusted = adjusted[i];
        const bound = Math.max(familyFloor, floors[i]);
        let verdict: Verdict;
        let note: string | undefined;
        if (!Number.isFinite(h.p)) verdict = 'inconclusive';
        else if (m > 1 && bound >= h.alpha && floors[i] < h.alpha) {
            verdict = 'inconclusive';
            note = `a family of ${m} hypotheses (Holm): no adjusted p here can be below ${Math.min(1, bound).toPrecision(2)} ≥ α = ${h.alpha}, so no verdict can reach α; add replicates or questions, or state fewer hypotheses`;
        } else verdict = verdictOf(pAdjusted, h.alpha, bound);
        const missing = Math.max(0, m - hypotheses.length);
        return { ...h, verdict, holds: verdict === 'holds', family: { method: 'holm', size: m, missing, pAdjusted, verdictUnadjusted: unadjusted, ...(note ? { note } : {}) } };
    });
}

/** The hypothesis results of a set of step results, adjusted as one family of `size` (the plan's hypothesis count). */
export function adjustFamilyOf<R extends { kind: string; metrics?: unknown }>(results: R[], size?: number): R[] {
    const idx: number[] = [];
    const hs: HypothesisMetrics[] = [];
    results.forEach((r, i) => {
        const m = r.metrics as HypothesisMetrics | undefined;
        if (r.kind === 'hypothesis' && m && typeof m.verdict === 'string' && typeof m.p === 'number') {
            idx.push(i);
            hs.push(m);
        }
    });
    if (!hs.length) return results;
    const adj = adjustFamily(hs, size ?? hs.length);
    const out = results.slice();
    idx.forEach((i, k) => (out[i] = { ...out[i], metrics: adj[k] }));
    return out;
}

/** "+4.2 pts [1.0, 7.4]": the difference in wrong-answer rate (A − B) with its 95% interval. */
export function effectText(h: HypothesisMetrics): string {
    const e = h.effect;
    const d = e?.difference ?? (h.perSeed.length === 1 ? h.perSeed[0].wrongRateA - h.perSeed[0].wrongRateB : NaN);
    if (!Number.isFinite(d)) return 'no effect estimate';
    const interval = formatInterval(e?.ci95 ?? h.perSeed[0]?.ci95, formatPoints);
    return `${formatPoints(d)} pts${interval ? ` ${interval}` : ''}`;
}

/** "p = 0.012 (Holm, 3 hypotheses; raw 0.004)", or "p = 0.004" alone in a family of one. */
export function pText(h: HypothesisMetrics, fmt: (p: number) => string = formatP): string {
    if (!Number.isFinite(h.p)) return 'no p';
    if (h.family && h.family.size > 1) return `p = ${fmt(h.family.pAdjusted)} (Holm, ${h.family.size} hypotheses; raw ${fmt(h.p)})`;
    return `p = ${fmt(h.p)}`;
}

/** What was replicated: "5 replicates redrawing world, split, pretrain, finetune, sampling", "1 run". */
export function replicationText(h: HypothesisMetrics): string {
    const d = h.design;
    if (!d) return h.perSeed.length > 1 ? `${h.perSeed.length} seeds` : '1 run';
    if (d.replicates <= 1) return '1 run, not replicated';
    const what = d.redrawn.length ? `redrawing ${d.redrawn.join(', ')}` : 'redrawing nothing';
    const shared = d.sharedQuestions ? ', same test questions' : ', independent draws';
    const compared = d.compared < d.replicates ? ` (${d.compared} compared)` : '';
    return `${d.replicates} replicates ${what}${shared}${compared}`;
}

/** Which test and how many independent units: "exact sign-flip over questions · 312 questions (41 differ)". */
export function testText(h: HypothesisMetrics): string {
    const d = h.design;
    if (!d) return h.test === 'mcnemar' ? 'exact McNemar' : h.test;
    const inf = d.informative !== undefined && d.unit === 'questions' ? ` (${d.informative} differ)` : '';
    return `${d.test}; ${d.units} independent ${d.unit}${inf}`;
}

/** Every statement the verdict carries (its notes, then the family's). */
export function statements(h: HypothesisMetrics): string[] {
    return [...(h.notes ?? []), ...(h.family?.note ? [h.family.note] : [])];
}
