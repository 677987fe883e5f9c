/**
 * How every surface (CLI, HTML report, editor annotations, notifications, results webview) writes
 * numbers, percentages, p-values, intervals, durations and the names of steps, so that one result
 * reads the same wherever it is shown. Pure functions, no imports at run time: the webview bundle
 * (browser) includes this file too.
 */
import type { Step } from '../language/plan-types.js';
import type { EpochFitCurve } from './results-types.js';

/** What stands for a number that is missing or not finite. */
export const MISSING = '—';

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** A plain number with `digits` decimals: 0.123; `—` when missing. */
export function formatNumber(x: number | null | undefined, digits = 3): string {
    return finite(x) ? x.toFixed(digits) : MISSING;
}

/** A share (0..1) as a percentage with `digits` decimals: 0.123 → "12.3%"; `—` when missing. */
export function formatPercent(x: number | null | undefined, digits = 1): string {
    return finite(x) ? `${(x * 100).toFixed(digits)}%` : MISSING;
}

/**
 * A p-value: two significant digits (0.41, 0.041, 0.003) down to 0.001, below that the exponent form
 * with two significant digits (9.9e-4, 5.0e-4, 1.2e-12); "1" from 0.995 up (two significant digits
 * of it round to 1.0), "0" for 0, `—` when missing.
 */
export function formatP(p: number | null | undefined): string {
    if (!finite(p)) return MISSING;
    if (p === 0) return '0';
    if (p < 0.001) return p.toExponential(1);
    if (p >= 0.995) return '1';
    return String(Number(p.toPrecision(2)));
}

/** A signed difference of two shares in percentage points, one decimal: 0.042 → "+4.2", −0.1 → "−10.0" (a real minus sign). */
export function formatPoints(x: number | null | undefined): string {
    if (!finite(x)) return MISSING;
    const v = Math.abs(x * 100).toFixed(1);
    // −0.0 reads as a sign where there is none.
    if (Number(v) === 0) return '+0.0';
    return `${x >= 0 ? '+' : '−'}${v}`;
}

/** An interval as "[lo, hi]", each end written by `fmt`; empty when either end is missing. */
export function formatInterval(ci: readonly [number, number] | readonly number[] | null | undefined, fmt: (x: number) => string = (x) => formatNumber(x)): string {
    if (!ci || ci.length !== 2 || !ci.every((x) => Number.isFinite(x))) return '';
    return `[${fmt(ci[0])}, ${fmt(ci[1])}]`;
}

/** A share with its interval: "12.3% [8.1%, 16.5%]" (the interval left out when missing). */
export function formatPercentWithInterval(x: number | null | undefined, ci: readonly number[] | null | undefined, digits = 1): string {
    const i = formatInterval(ci, (v) => formatPercent(v, digits));
    return i ? `${formatPercent(x, digits)} ${i}` : formatPercent(x, digits);
}

/** A duration: "4.3 s", "41 s", "2 min 5 s", "1 h 5 min"; "?" when not a duration. */
export function formatSeconds(s: number): string {
    if (!Number.isFinite(s) || s < 0) return '?';
    if (s < 10) return `${Number(s.toFixed(1))} s`;
    if (s < 60) return `${Math.round(s)} s`;
    if (s < 3600) {
        const m = Math.floor(s / 60);
        const r = Math.round(s - m * 60);
        return r ? `${m} min ${r} s` : `${m} min`;
    }
    const h = Math.floor(s / 3600);
    const m = Math.round((s - h * 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
}

/** True for the id the plan generates for a step written without a name (`evaluate@32`, `hypothesis@33#2`). */
export function isGeneratedId(step: Pick<Step, 'id' | 'kind'>): boolean {
    return new RegExp(`^${step.kind}@\\d+(#\\d+)?$`).test(step.id);
}

/**
 * The name people read for a step: its own name, or for a step written without one, words from its
 * statement: "smallOnLarge > smallOnSmall (matched)" for a hypothesis, "smallOnLarge,
 * smallOnSmall on trivia.test" for an evaluation. Display only: the step's id (store keys, events,
 * `--json` names) stays what the plan made.
 */
export function stepTitle(step: Step): string {
    if (!isGeneratedId(step)) return step.id;
    switch (step.kind) {
        case 'hypothesis': {
            const p = step.params;
            return `${p.a} ${p.direction === 'more' ? '>' : '<'} ${p.b}${p.matchedCoverage ? ' (matched)' : ''}`;
        }
        case 'evaluate': {
            const p = step.params;
            return `${p.arms.map((a) => a.model).join(', ')} on ${p.split === 'all' ? p.dataset : `${p.dataset}.${p.split}`}`;
        }
        default:
            return step.id;
    }
}

/** Display names of a plan's steps by id (only unnamed steps differ from their id); `name(id)` falls back to the id. */
export function stepTitles(steps: readonly Step[]): (id: string) => string {
    const titles = new Map(steps.map((s) => [s.id, stepTitle(s)]));
    // Two unnamed steps with the same words (the same hypothesis written twice) keep apart by their line.
    const seen = new Map<string, number>();
    for (const t of titles.values()) seen.set(t, (seen.get(t) ?? 0) + 1);
    for (const s of steps) {
        const t = titles.get(s.id)!;
        if (t !== s.id && seen.get(t)! > 1) titles.set(s.id, `${t} (line ${s.range.start.line + 1})`);
    }
    return (id: string) => titles.get(id) ?? id;
}

/** The long form of a hypothesis, in words: "smallOnLarge hallucinates more than smallOnSmall at matched coverage". */
export function hypothesisWords(step: Step): string | undefined {
    if (step.kind !== 'hypothesis') return undefined;
    const p = step.params;
    return `${p.a} hallucinates ${p.direction} than ${p.b}${p.matchedCoverage ? ' at matched coverage' : ''}`;
}

// --- training fit by epoch (CLI tables and lines, editor hover) ------------------------------

/** Examples of one group measured after an epoch, and how many of them were fitted. */
export interface EpochFitShare {
    total: number;
    fitted: number;
}

/** One epoch's fit, counts summed over the curves given (replicates of one fine-tune). */
export interface EpochFitRow {
    epoch: number;
    all: EpochFitShare;
    known?: EpochFitShare;
    unknown?: EpochFitShare;
}

/** Per-epoch fit pooled over curves (counts summed per epoch number), in epoch order; curves of a
 * format version this code does not know are skipped. */
export function pooledEpochFit(curves: readonly (EpochFitCurve | undefined)[]): EpochFitRow[] {
    const byEpoch = new Map<number, EpochFitRow>();
    const add = (a: EpochFitShare | undefined, b: EpochFitShare | undefined) => (b ? { total: (a?.total ?? 0) + b.total, fitted: (a?.fitted ?? 0) + b.fitted } : a);
    for (const f of curves) {
        if (!f || f.version !== 1) continue;
        for (const e of f.epochs) {
            const cur = byEpoch.get(e.epoch) ?? { epoch: e.epoch, all: { total: 0, fitted: 0 } };
            byEpoch.set(e.epoch, { epoch: e.epoch, all: add(cur.all, e.all)!, known: add(cur.known, e.known), unknown: add(cur.unknown, e.unknown) });
        }
    }
    return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** The share of a group fitted: "41.2%" (`digits` decimals); `—` for a group without examples. */
export function formatFitShare(c: EpochFitShare | undefined, digits = 1): string {
    return c && c.total ? formatPercent(c.fitted / c.total, digits) : MISSING;
}

/** A cell of a table by epoch, whole percents: "100% / 41%" (Known / Unknown) where the examples carry
 * SliCK categories, else the share of all examples. */
export function formatEpochFitCell(e: EpochFitRow): string {
    return e.known && e.unknown ? `${formatFitShare(e.known, 0)} / ${formatFitShare(e.unknown, 0)}` : formatFitShare(e.all, 0);
}

/** The epochs a table by epoch shows: all of them up to 8, else 8 spread over the run, the first and the last included. */
export function epochFitColumns(maxEpoch: number): number[] {
    return maxEpoch <= 8 ? Array.from({ length: maxEpoch }, (_, i) => i + 1) : [...new Set(Array.from({ length: 8 }, (_, i) => Math.round(1 + (i * (maxEpoch - 1)) / 7)))];
}
