/**
 * Vega-Lite 5 specs for every results plot, shared by the HTML report (`mismatch report`) and the
 * extension's results webview: pure functions from results to specs (data inlined, no URLs).
 */
import type { EvaluateMetrics, FinetuneMetrics, HypothesisMetrics, StepResult } from '../results-types.js';

import { mixTrends } from '../stats/linfit.js';

export type VegaLiteSpec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const OUTCOME_COLORS = { domain: ['correct', 'wrong', 'abstained'], range: ['#2e7d32', '#c62828', '#9e9e9e'] };

const seedLabel = (r: StepResult) => (r.seedIndex === undefined ? 'all' : `seed ${r.seedIndex}`);

function evaluations(results: StepResult[]): StepResult[] {
    return results.filter((r) => r.kind === 'evaluate' && r.status === 'done' && r.metrics);
}

/** Stacked bars: correct / wrong / abstained per arm (a row per evaluate step and seed). */
export function outcomesPlot(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    for (const r of evaluations(results)) {
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            for (const outcome of ['correct', 'wrong', 'abstained'] as const) {
                values.push({ evaluation: r.step, seed: seedLabel(r), arm: a.arm, outcome, count: a[outcome], share: a.total ? a[outcome] / a.total : 0 });
            }
        }
    }
    if (!values.length) return undefined;
    return {
        $schema: SCHEMA,
        title: 'Outcomes per arm',
        data: { values },
        mark: { type: 'bar', tooltip: true },
        encoding: {
            y: { field: 'arm', type: 'nominal', title: null },
            x: { field: 'count', type: 'quantitative', stack: 'zero', title: 'questions' },
            color: { field: 'outcome', type: 'nominal', scale: OUTCOME_COLORS, sort: OUTCOME_COLORS.domain },
            order: { field: 'outcome', sort: 'ascending' },
            row: { field: 'seed', type: 'nominal', title: null },
            tooltip: [{ field: 'arm' }, { field: 'seed' }, { field: 'outcome' }, { field: 'count' }, { field: 'share', format: '.1%' }],
        },
    };
}

/** Outcome × knowledge category, per arm (ground truth for a synthetic world, SliCK otherwise). */
export function knowledgePlot(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    for (const r of evaluations(results)) {
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            for (const [category, o] of Object.entries(a.byKnowledge ?? {})) {
                if (category === 'uncategorised') continue;
                for (const outcome of ['correct', 'wrong', 'abstained'] as const)
                    values.push({ seed: seedLabel(r), arm: a.arm, category, outcome, count: o[outcome], share: o.total ? o[outcome] / o.total : 0 });
            }
        }
    }
    if (!values.length) return undefined;
    return {
        $schema: SCHEMA,
        title: 'Outcome × knowledge',
        data: { values },
        mark: { type: 'bar', tooltip: true },
        encoding: {
            x: { field: 'category', type: 'nominal', title: null },
            y: { field: 'share', type: 'quantitative', stack: 'normalize', axis: { format: '%' }, title: 'share of questions' },
            color: { field: 'outcome', type: 'nominal', scale: OUTCOME_COLORS, sort: OUTCOME_COLORS.domain },
            column: { field: 'arm', type: 'nominal', title: null },
            row: { field: 'seed', type: 'nominal', title: null },
            tooltip: [{ field: 'arm' }, { field: 'category' }, { field: 'outcome' }, { field: 'count' }, { field: 'share', format: '.1%' }],
        },
    };
}

/** Risk–coverage curves: wrong rate among the answered as the least confident answers abstain. */
export function riskCoveragePlot(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    for (const r of evaluations(results)) {
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            for (const p of a.riskCoverage ?? []) values.push({ seed: seedLabel(r), arm: a.arm, coverage: p.coverage, risk: p.risk, aurc: a.aurc });
        }
    }
    if (!values.length) return undefined;
    return {
        $schema: SCHEMA,
        title: 'Risk–coverage (lower is better)',
        data: { values },
        mark: { type: 'line', interpolate: 'step-after', tooltip: true },
        encoding: {
            x: { field: 'coverage', type: 'quantitative', axis: { format: '%' }, scale: { domain: [0, 1] } },
            y: { field: 'risk', type: 'quantitative', title: 'wrong among answered', axis: { format: '%' } },
            color: { field: 'arm', type: 'nominal' },
            strokeDash: { field: 'seed', type: 'nominal' },
            tooltip: [{ field: 'arm' }, { field: 'seed' }, { field: 'coverage', format: '.1%' }, { field: 'risk', format: '.1%' }, { field: 'aurc', format: '.3f', title: 'AURC' }],
        },
    };
}

/** Training loss per epoch of every finetune step (and validation loss where held out). */
export function lossPlot(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    for (const r of results) {
        if (r.kind !== 'finetune' || r.status !== 'done' || !r.metrics) continue;
        const m = r.metrics as FinetuneMetrics;
        for (const c of m.curve ?? []) {
            values.push({ run: `${r.step} (${seedLabel(r)})`, step: r.step, epoch: c.epoch, optimizerStep: c.step, loss: c.train, split: 'train' });
            if (c.validation !== undefined) values.push({ run: `${r.step} (${seedLabel(r)})`, step: r.step, epoch: c.epoch, optimizerStep: c.step, loss: c.validation, split: 'validation' });
        }
    }
    if (!values.length) return undefined;
    return {
        $schema: SCHEMA,
        title: 'Fine-tuning loss',
        data: { values },
        mark: { type: 'line', point: true, tooltip: true },
        encoding: {
            x: { field: 'epoch', type: 'quantitative' },
            y: { field: 'loss', type: 'quantitative', scale: { zero: false } },
            color: { field: 'run', type: 'nominal', title: 'finetune' },
            strokeDash: { field: 'split', type: 'nominal' },
        },
    };
}

/** Per-seed wrong-rate difference (A − B) of every hypothesis, with its bootstrap 95% CI. */
export function perSeedPlot(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    for (const r of results) {
        if (r.kind !== 'hypothesis' || r.status !== 'done' || !r.metrics) continue;
        const h = r.metrics as HypothesisMetrics;
        for (const s of h.perSeed ?? []) {
            values.push({ hypothesis: r.step, seed: s.seed, difference: s.wrongRateA - s.wrongRateB, lo: s.ci95[0], hi: s.ci95[1], p: s.p, verdict: s.verdict, coverage: s.coverage });
        }
    }
    if (!values.length) return undefined;
    return {
        $schema: SCHEMA,
        title: 'Per-seed difference in wrong rate (A − B) with bootstrap 95% CI',
        data: { values },
        facet: { row: { field: 'hypothesis', type: 'nominal', title: null } },
        spec: {
            layer: [
                { mark: { type: 'rule' }, encoding: { x: { field: 'lo', type: 'quantitative', title: 'wrong rate A − B' }, x2: { field: 'hi' }, y: { field: 'seed', type: 'ordinal' } } },
                {
                    mark: { type: 'point', filled: true, tooltip: true },
                    encoding: {
                        x: { field: 'difference', type: 'quantitative' },
                        y: { field: 'seed', type: 'ordinal' },
                        color: { field: 'verdict', type: 'nominal' },
                        tooltip: [{ field: 'seed' }, { field: 'difference', format: '.3f' }, { field: 'p', format: '.3g' }, { field: 'verdict' }, { field: 'coverage', format: '.1%' }],
                    },
                },
                { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { x: { datum: 0 } } },
            ],
        },
    };
}

const slopeText = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '—');

/** Test accuracy against the Unknown share of each fine-tune's training set, with the least-squares line. */
export function mixTrendPlot(results: StepResult[]): VegaLiteSpec | undefined {
    const trends = mixTrends(results);
    if (!trends.length) return undefined;
    const values = trends.flatMap((t) =>
        t.points.map((p) => ({ evaluation: t.evaluation, arm: p.arm, seed: p.seed === undefined ? 'all' : `seed ${p.seed}`, unknown: p.unknownShare, accuracy: p.accuracy })),
    );
    const line = trends.flatMap((t) =>
        [0, 1].map((x) => ({ evaluation: t.evaluation, unknown: x, accuracy: t.fit.intercept + t.fit.slope * x, slope: t.fit.slope, lo: t.fit.slopeCi[0], hi: t.fit.slopeCi[1] })),
    );
    return {
        $schema: SCHEMA,
        title: {
            text: 'Test accuracy vs Unknown share of the fine-tuning set (least-squares line)',
            subtitle: trends.map(
                (t) =>
                    `${t.evaluation}: slope ${slopeText(t.fit.slope)} pts per 100% Unknown, 95% CI [${slopeText(t.fit.slopeCi[0])}, ${slopeText(t.fit.slopeCi[1])}] (t, ${t.fit.df} df), ${t.fit.n} points${t.replicates ? `; per replicate: mean ${slopeText(t.replicates.mean)} [${slopeText(t.replicates.ci[0])}, ${slopeText(t.replicates.ci[1])}] (t across ${t.replicates.slopes.length} replicates)` : ''}`,
            ),
        },
        layer: [
            {
                data: { values },
                mark: { type: 'point', filled: true, tooltip: true },
                encoding: {
                    x: { field: 'unknown', type: 'quantitative', title: 'Unknown examples in the fine-tuning set', axis: { format: '%' }, scale: { domain: [0, 1] } },
                    y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', axis: { format: '%' } },
                    color: { field: 'evaluation', type: 'nominal' },
                    shape: { field: 'seed', type: 'nominal' },
                    tooltip: [{ field: 'arm' }, { field: 'seed' }, { field: 'unknown', format: '.0%' }, { field: 'accuracy', format: '.1%' }],
                },
            },
            {
                data: { values: line },
                mark: { type: 'line', tooltip: true },
                encoding: {
                    x: { field: 'unknown', type: 'quantitative' },
                    y: { field: 'accuracy', type: 'quantitative' },
                    color: { field: 'evaluation', type: 'nominal' },
                    tooltip: [{ field: 'evaluation' }, { field: 'slope', format: '.3f' }, { field: 'lo', format: '.3f', title: '95% CI low' }, { field: 'hi', format: '.3f', title: '95% CI high' }],
                },
            },
        ],
    };
}

/** Training accuracy (after fine-tuning, and the base model's before) on the Known and the Unknown examples of every fine-tune. */
export function trainingFitPlot(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    for (const r of results) {
        if (r.kind !== 'finetune' || r.status !== 'done' || !r.metrics) continue;
        const f = (r.metrics as FinetuneMetrics).fit;
        if (!f) continue;
        const parts =
            f.known && f.unknown
                ? ([
                      ['Known', f.known],
                      ['Unknown', f.unknown],
                  ] as const)
                : ([['all', f.all]] as const);
        for (const [examples, c] of parts) {
            if (!c.total) continue;
            for (const [model, n] of [
                ['base', c.base],
                ['fine-tuned', c.fitted],
            ] as const)
                values.push({ finetune: r.step, seed: seedLabel(r), examples, model, accuracy: n / c.total, count: n, total: c.total, unknownShare: f.unknownShare });
        }
    }
    if (!values.length) return undefined;
    return {
        $schema: SCHEMA,
        title: 'Training accuracy per fine-tune: Known vs Unknown examples (base model before, fine-tuned after)',
        data: { values },
        mark: { type: 'bar', tooltip: true },
        encoding: {
            x: { field: 'examples', type: 'nominal', title: null },
            xOffset: { field: 'model', type: 'nominal' },
            y: { field: 'accuracy', type: 'quantitative', aggregate: 'mean', title: 'training accuracy (mean over replicates)', axis: { format: '%' }, scale: { domain: [0, 1] } },
            color: { field: 'model', type: 'nominal' },
            column: { field: 'finetune', type: 'nominal', title: null },
            tooltip: [{ field: 'finetune' }, { field: 'examples' }, { field: 'model' }, { field: 'accuracy', aggregate: 'mean', format: '.1%' }],
        },
    };
}

/**
 * Training accuracy after every epoch, Known vs Unknown examples, one panel per fine-tune (Gekhman et
 * al. 2024, Fig. 1's training-accuracy curves): the share of training examples greedy decoding reproduces,
 * mean over replicates. Only fine-tunes whose results carry the per-epoch record (the embedded trainer).
 */
export function trainingByEpochPlot(results: StepResult[]): VegaLiteSpec | undefined {
    const values: Record<string, unknown>[] = [];
    for (const r of results) {
        if (r.kind !== 'finetune' || r.status !== 'done' || !r.metrics) continue;
        const f = (r.metrics as FinetuneMetrics).fitByEpoch;
        if (!f || f.version !== 1) continue;
        for (const e of f.epochs) {
            const parts =
                e.known && e.unknown
                    ? ([
                          ['Known', e.known],
                          ['Unknown', e.unknown],
                      ] as const)
                    : ([['all', e.all]] as const);
            for (const [examples, c] of parts) {
                if (!c.total) continue;
                values.push({ finetune: r.step, seed: seedLabel(r), epoch: e.epoch, examples, accuracy: c.fitted / c.total, fitted: c.fitted, total: c.total });
            }
        }
    }
    if (!values.length) return undefined;
    // panels in the plan's order (not alphabetical: on100 would come before on25); colours fixed per group
    const order = [...new Set(values.map((v) => v.finetune as string))];
    const groups = (['Known', 'Unknown', 'all'] as const).filter((g) => values.some((v) => v.examples === g));
    const colour = { Known: '#1f77b4', Unknown: '#d62728', all: '#555555' };
    return {
        $schema: SCHEMA,
        title: 'Training accuracy by epoch, Known vs Unknown examples (greedy reproduces the training answer)',
        data: { values },
        facet: { column: { field: 'finetune', type: 'nominal', title: null, sort: order } },
        spec: {
            mark: { type: 'line', point: true, tooltip: true },
            encoding: {
                x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
                y: { field: 'accuracy', type: 'quantitative', aggregate: 'mean', title: 'training accuracy (mean over replicates)', axis: { format: '%' }, scale: { domain: [0, 1] } },
                color: { field: 'examples', type: 'nominal', title: 'examples', scale: { domain: groups, range: groups.map((g) => colour[g]) } },
                tooltip: [
                    { field: 'finetune' },
                    { field: 'examples' },
                    { field: 'epoch' },
                    { field: 'accuracy', aggregate: 'mean', format: '.1%' },
                    { field: 'fitted', aggregate: 'sum', title: 'fitted (all replicates)' },
                    { field: 'total', aggregate: 'sum', title: 'examples (all replicates)' },
                ],
            },
        },
    };
}

export interface NamedPlot {
    id: string;
    title: string;
    spec: VegaLiteSpec;
}

/** Every plot that has data, in reading order. */
export function allPlots(results: StepResult[]): NamedPlot[] {
    const out: NamedPlot[] = [];
    const add = (id: string, title: string, spec: VegaLiteSpec | undefined) => spec && out.push({ id, title, spec });
    add('outcomes', 'Outcomes per arm', outcomesPlot(results));
    add('knowledge', 'Outcome × knowledge', knowledgePlot(results));
    add('risk-coverage', 'Risk–coverage', riskCoveragePlot(results));
    add('accuracy-vs-unknown', 'Test accuracy vs Unknown share', mixTrendPlot(results));
    add('training-fit', 'Training accuracy: Known vs Unknown', trainingFitPlot(results));
    add('training-by-epoch', 'Training accuracy by epoch: Known vs Unknown', trainingByEpochPlot(results));
    add('loss', 'Loss curves', lossPlot(results));
    add('per-seed', 'Per-seed results', perSeedPlot(results));
    return out;
}
