/**
 * The plots that carry a verdict, aggregated over the replicates (the per-replicate plots are in
 * `plots.ts`): each arm's share of wrong, abstained and correct answers with its 95% interval, and
 * the teacher × student knowledge grid as one heat map. Pure functions from results to Vega-Lite specs.
 */
import type { ArmMetrics, EvaluateMetrics, StepResult } from '../results-types.js';
import { tInterval } from '../stats/index.js';
import type { VegaLiteSpec } from './plots.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const OUTCOME_COLORS = { domain: ['wrong', 'abstained', 'correct'], range: ['#c62828', '#9e9e9e', '#2e7d32'] };

/** Each (evaluation, arm)'s metrics over its replicates, in the order they first appear. */
export function armsByEvaluation(results: StepResult[]): { evaluation: string; arm: string; replicates: ArmMetrics[] }[] {
    const out = new Map<string, { evaluation: string; arm: string; replicates: ArmMetrics[] }>();
    for (const r of results) {
        if (r.kind !== 'evaluate' || r.status !== 'done' || !r.metrics) continue;
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            const k = JSON.stringify([r.step, a.arm]);
            const g = out.get(k) ?? { evaluation: r.step, arm: a.arm, replicates: [] };
            g.replicates.push(a);
            out.set(k, g);
        }
    }
    return [...out.values()];
}

/** The row label of an arm: its name, prefixed by the evaluation's where several evaluations are shown. */
function rowLabel(groups: { evaluation: string }[]): (g: { evaluation: string; arm: string }) => string {
    const several = new Set(groups.map((g) => g.evaluation)).size > 1;
    return (g) => (several ? `${g.evaluation}: ${g.arm}` : g.arm);
}

/** Mean of shares with its 95% t interval across replicates, clipped to [0, 1]; one replicate: no interval. */
export function shareInterval(xs: number[]): { mean: number; lo: number | null; hi: number | null; n: number } {
    const v = xs.filter(Number.isFinite);
    const t = tInterval(v);
    const clip = (x: number) => Math.min(1, Math.max(0, x));
    return v.length > 1 ? { mean: t.mean, lo: clip(t.ci[0]), hi: clip(t.ci[1]), n: v.length } : { mean: t.mean, lo: null, hi: null, n: v.length };
}

/** Share of wrong, abstained and correct answers per arm: the mean over replicates with its 95% t interval. */
export function armIntervalsPlot(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    const groups = armsByEvaluation(results);
    const label = rowLabel(groups);
    for (const g of groups) {
        for (const outcome of ['wrong', 'abstained', 'correct'] as const) {
            const s = shareInterval(g.replicates.map((a) => (a.total ? a[outcome] / a.total : NaN)));
            if (!Number.isFinite(s.mean)) continue;
            values.push({ evaluation: g.evaluation, arm: label(g), outcome, share: s.mean, lo: s.lo ?? s.mean, hi: s.hi ?? s.mean, replicates: s.n });
        }
    }
    if (!values.length) return undefined;
    const x = { type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '%' } };
    return {
        $schema: SCHEMA,
        data: { values },
        width: 560,
        layer: [
            {
                mark: { type: 'rule', strokeWidth: 2 },
                encoding: {
                    x: { field: 'lo', ...x, title: 'share of the questions (mean over replicates, 95% interval)' },
                    x2: { field: 'hi' },
                    y: { field: 'arm', type: 'nominal', title: null, sort: null },
                    yOffset: { field: 'outcome', sort: OUTCOME_COLORS.domain },
                    color: { field: 'outcome', type: 'nominal', scale: OUTCOME_COLORS, sort: OUTCOME_COLORS.domain },
                },
            },
            {
                mark: { type: 'point', filled: true, size: 60, tooltip: true },
                encoding: {
                    x: { field: 'share', ...x },
                    y: { field: 'arm', type: 'nominal', sort: null },
                    yOffset: { field: 'outcome', sort: OUTCOME_COLORS.domain },
                    color: { field: 'outcome', type: 'nominal', scale: OUTCOME_COLORS, sort: OUTCOME_COLORS.domain },
                    tooltip: [
                        { field: 'arm' },
                        { field: 'outcome' },
                        { field: 'share', format: '.1%', title: 'mean' },
                        { field: 'lo', format: '.1%', title: '95% low' },
                        { field: 'hi', format: '.1%', title: '95% high' },
                        { field: 'replicates' },
                    ],
                },
            },
        ],
    };
}

const CELLS = [
    ['both', 'both know'],
    ['teacherOnly', 'teacher only'],
    ['studentOnly', 'student only'],
    ['neither', 'neither knows'],
] as const;

/** The teacher × student knowledge grid: each arm's wrong-answer share per cell, pooled over the replicates. */
export function gridHeatmap(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    const groups = armsByEvaluation(results);
    const label = rowLabel(groups);
    for (const g of groups) {
        const grids = g.replicates.map((a) => a.grid).filter((x): x is NonNullable<ArmMetrics['grid']> => !!x);
        if (!grids.length) continue;
        for (const [key, name] of CELLS) {
            const wrong = grids.reduce((s, x) => s + x.cells[key].wrong, 0);
            const total = grids.reduce((s, x) => s + x.cells[key].total, 0);
            values.push({
                evaluation: g.evaluation,
                arm: label(g),
                cell: name,
                wrong,
                total,
                share: total ? wrong / total : null,
                text: total ? `${Math.round((100 * wrong) / total)}% of ${total}` : '—',
            });
        }
    }
    if (!values.length) return undefined;
    const xy = { x: { field: 'cell', type: 'nominal', title: null, sort: CELLS.map((c) => c[1]), axis: { labelAngle: 0 } }, y: { field: 'arm', type: 'nominal', title: null, sort: null } };
    return {
        $schema: SCHEMA,
        data: { values },
        width: 440,
        height: { step: 34 },
        layer: [
            {
                mark: { type: 'rect', tooltip: true },
                encoding: {
                    ...xy,
                    color: { field: 'share', type: 'quantitative', title: 'wrong', scale: { domain: [0, 1], scheme: 'reds' }, legend: { format: '%' } },
                    tooltip: [{ field: 'arm' }, { field: 'cell' }, { field: 'wrong' }, { field: 'total' }, { field: 'share', format: '.1%', title: 'wrong / total' }],
                },
            },
            { mark: { type: 'text', fontSize: 11 }, encoding: { ...xy, text: { field: 'text' }, color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' } } },
        ],
    };
}
