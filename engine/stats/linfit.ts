/**
 * Ordinary least-squares line y = a + b·x with the t-based 95% interval of the slope, and the
 * accuracy-versus-Unknown-share trend of fine-tunes on SliCK mixes (Gekhman et al. 2024, fig. 2)
 * derived from stored results: each fine-tune records the Unknown share of the examples it was
 * trained on, each evaluation the accuracy of its arms.
 */
import type { EvaluateMetrics, FinetuneMetrics, StepResult } from '../results-types.js';
import { studentTQuantile, tInterval } from './index.js';

export interface LinearFit {
    n: number;
    slope: number;
    intercept: number;
    /** Standard error of the slope: sqrt(SSE / (n − 2) / Sxx). */
    slopeSe: number;
    /** Two-sided interval of the slope from Student's t with n − 2 degrees of freedom (NaN bounds below 3 points or without spread in x). */
    slopeCi: [number, number];
    level: number;
    df: number;
    r2: number;
}

export function linearFit(xs: number[], ys: number[], level = 0.95): LinearFit {
    if (xs.length !== ys.length) throw new Error(`linearFit: ${xs.length} x values but ${ys.length} y values`);
    const n = xs.length;
    const mx = xs.reduce((s, x) => s + x, 0) / n;
    const my = ys.reduce((s, y) => s + y, 0) / n;
    let sxx = 0;
    let sxy = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
        sxx += (xs[i] - mx) ** 2;
        sxy += (xs[i] - mx) * (ys[i] - my);
        syy += (ys[i] - my) ** 2;
    }
    const slope = n >= 2 && sxx > 0 ? sxy / sxx : NaN;
    const intercept = my - slope * mx;
    const df = n - 2;
    const sse = Math.max(0, syy - slope * sxy);
    const slopeSe = df > 0 && sxx > 0 ? Math.sqrt(sse / df / sxx) : NaN;
    const t = df > 0 ? studentTQuantile(1 - (1 - level) / 2, df) : NaN;
    const slopeCi: [number, number] = Number.isFinite(slopeSe) ? [slope - t * slopeSe, slope + t * slopeSe] : [NaN, NaN];
    const r2 = syy > 0 && Number.isFinite(slope) ? (slope * sxy) / syy : NaN;
    return { n, slope, intercept, slopeSe, slopeCi, level, df, r2 };
}

export interface MixTrendPoint {
    evaluation: string;
    arm: string;
    seed?: number;
    /** Share of Unknown examples in the fine-tune's training set (0..1). */
    unknownShare: number;
    accuracy: number;
}

export interface MixTrend {
    evaluation: string;
    points: MixTrendPoint[];
    /** accuracy = a + b · unknownShare over every (fine-tune, replicate) point. */
    fit: LinearFit;
    /** With several replicates: each replicate's own slope, and their mean with its t interval
     * across replicates (n − 1 degrees of freedom): the interval that treats replicates, not points,
     * as the independent units. */
    replicates?: { slopes: number[]; mean: number; ci: [number, number]; df: number };
}

/**
 * Per evaluate step: test accuracy of every arm that is a fine-tune on examples of known SliCK
 * categories, against that fine-tune's Unknown share (the same replicate's fine-tune), with the
 * least-squares line. Undefined per evaluation with fewer than two distinct shares.
 */
export function mixTrends(results: StepResult[]): MixTrend[] {
    const fits = new Map<string, number>();
    for (const r of results) {
        if (r.kind !== 'finetune' || r.status !== 'done' || !r.metrics) continue;
        const share = (r.metrics as FinetuneMetrics).fit?.unknownShare;
        if (typeof share === 'number') fits.set(`${r.step}#${r.seedIndex ?? ''}`, share);
    }
    const byEval = new Map<string, MixTrendPoint[]>();
    for (const r of results) {
        if (r.kind !== 'evaluate' || r.status !== 'done' || !r.metrics) continue;
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            const share = fits.get(`${a.arm}#${r.seedIndex ?? ''}`);
            if (share === undefined || !a.total) continue;
            const pts = byEval.get(r.step) ?? [];
            pts.push({ evaluation: r.step, arm: a.arm, ...(r.seedIndex !== undefined ? { seed: r.seedIndex } : {}), unknownShare: share, accuracy: a.correct / a.total });
            byEval.set(r.step, pts);
        }
    }
    const out: MixTrend[] = [];
    for (const [evaluation, points] of byEval) {
        if (new Set(points.map((p) => p.unknownShare)).size < 2) continue;
        const fit = linearFit(
            points.map((p) => p.unknownShare),
            points.map((p) => p.accuracy),
        );
        const seeds = [...new Set(points.map((p) => p.seed))].filter((x) => x !== undefined);
        const slopes = seeds
            .map((seed) => {
                const ps = points.filter((p) => p.seed === seed);
                return linearFit(
                    ps.map((p) => p.unknownShare),
                    ps.map((p) => p.accuracy),
                ).slope;
            })
            .filter(Number.isFinite);
        const across = slopes.length >= 2 ? tInterval(slopes) : undefined;
        out.push({ evaluation, points, fit, ...(across ? { replicates: { slopes, mean: across.mean, ci: across.ci, df: slopes.length - 1 } } : {}) });
    }
    return out;
}
