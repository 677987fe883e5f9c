/**
 * How fast each fine-tune fitted its examples (per-epoch training accuracy, Known vs Unknown) in the
 * CLI and the HTML report; results made before the record existed (or by external trainers) show
 * nothing for it and still render. Shares are computed here by hand from the counts.
 */
import { describe, expect, it } from 'vitest';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { epochFitLines, epochFitTable, renderResults } from '../../cli/results.js';
import { reportHtml } from '../../engine/report/html.js';
import { allPlots, trainingByEpochPlot } from '../../engine/report/plots.js';
import type { EpochFitPoint, FinetuneMetrics, StepResult } from '../../engine/results-types.js';
import { makePlan } from './plan-helpers.js';

const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');
// known / unknown: [total, fitted] per epoch
const point = (epoch: number, known: [number, number], unknown: [number, number]): EpochFitPoint => ({
    epoch,
    step: 5 * epoch,
    all: { total: known[0] + unknown[0], fitted: known[1] + unknown[1] },
    known: { total: known[0], fitted: known[1] },
    unknown: { total: unknown[0], fitted: unknown[1] },
});
const base: FinetuneMetrics = { lossStart: 2, lossEnd: 0.1, epochs: 3, steps: 15, trainSeconds: 1, tokensPerSecond: 1, curve: [] };
const ft = (step: string, seedIndex: number | undefined, extra: Partial<FinetuneMetrics>): StepResult => ({
    step,
    kind: 'finetune',
    key: `${step}${seedIndex}`,
    status: 'done',
    cached: false,
    seconds: 1,
    seedIndex,
    metrics: { ...base, ...extra },
});

// on50, two replicates of 20 examples (10 Known, 10 Unknown)
const on50 = [
    ft('on50', 0, { fitByEpoch: { version: 1, examples: 20, epochs: [point(1, [10, 6], [10, 0]), point(2, [10, 9], [10, 3]), point(3, [10, 10], [10, 7])] } }),
    ft('on50', 1, { fitByEpoch: { version: 1, examples: 20, epochs: [point(1, [10, 4], [10, 1]), point(2, [10, 10], [10, 2]), point(3, [10, 10], [10, 9])] } }),
];
// a mix without Unknown examples: the line names the Known ones only
const on0 = ft('on0', 0, { fitByEpoch: { version: 1, examples: 4, epochs: [point(1, [4, 1], [0, 0]), point(2, [4, 3], [0, 0])] } });
// plain labels (no SliCK categories): "all" only, 8 examples
const plain = ft('plain', undefined, {
    fitByEpoch: {
        version: 1,
        examples: 8,
        epochs: [
            { epoch: 1, step: 2, all: { total: 8, fitted: 2 } },
            { epoch: 2, step: 4, all: { total: 8, fitted: 6 } },
        ],
    },
});
// made before the record existed (its `curve` mixes step and epoch rows, as the CSV parser made it), and an external trainer's
const old = ft('old', undefined, {
    curve: [
        { epoch: 0.5, step: 1, train: 2 },
        { epoch: 1, step: 2, train: 1.5 },
        { epoch: 1, step: 2, train: 1.6 },
    ],
    fit: { checked: 4, examples: 4, all: { total: 4, fitted: 4, base: 0 } },
});
const external = { ...ft('ext', undefined, { curve: [{ epoch: 1, step: 3, train: 1 }] }), metrics: { ...base, curve: [{ epoch: 1, step: 3, train: 1 }], trainer: 'trl' } } as StepResult;

describe('per-epoch training fit in the CLI and the report', () => {
    it('one line per fine-tune: pooled shares after the last epoch and the epoch each half was fitted', () => {
        const text = strip(epochFitLines([...on50, plain, on0, old, external])!);
        const lines = text.split('\n');
        expect(lines).toHaveLength(3);
        // epoch 3 pooled: Known 20/20 = 100.0%, Unknown 16/20 = 80.0%; Known ≥ half at epoch 1 (10/20),
        // Unknown at epoch 3 (epoch 2: 5/20)
        expect(lines[0]).toBe('  on50: fitted Known 100.0% / Unknown 80.0% after epoch 3 (half fitted: Known epoch 1, Unknown epoch 3); 2 replicates pooled');
        // plain: 6/8 = 75.0%, half at epoch 2
        expect(lines[1]).toBe('  plain: fitted 75.0% of its examples after epoch 2 (half fitted: epoch 2)');
        // on0: 3/4 = 75.0% Known after epoch 2, half (2 of 4) first at epoch 2
        expect(lines[2]).toBe('  on0: fitted Known 75.0% after epoch 2 (half fitted: Known epoch 2)');
    });

    it('the verbose table: a row per replicate with Known / Unknown per epoch', () => {
        const rows = strip(epochFitTable(on50)!).split('\n');
        const cells = (needle: string) =>
            rows
                .find((l) => l.includes(needle))!
                .split('│')
                .map((c) => c.trim())
                .filter(Boolean);
        expect(cells('ep 1')).toEqual(['finetune (Known / Unknown)', 'ep 1', 'ep 2', 'ep 3']);
        expect(cells('on50 (seed 0)')).toEqual(['on50 (seed 0)', '60% / 0%', '90% / 30%', '100% / 70%']);
        expect(cells('on50 (seed 1)')).toEqual(['on50 (seed 1)', '40% / 10%', '100% / 20%', '100% / 90%']);
        // 16 epochs: 8 columns from the first to the last, round(1 + 15i/7) = 1, 3, 5, 7, 10, 12, 14, 16
        const long = ft('long', undefined, {
            fitByEpoch: { version: 1, examples: 3, epochs: Array.from({ length: 16 }, (_, i) => ({ epoch: i + 1, step: i + 1, all: { total: 3, fitted: i < 10 ? 1 : 3 } })) },
        });
        const longRows = strip(epochFitTable([long])!).split('\n');
        expect(
            longRows
                .find((l) => l.includes('ep 1'))!
                .split('│')
                .map((c) => c.trim())
                .filter(Boolean),
        ).toEqual(['finetune', ...[1, 3, 5, 7, 10, 12, 14, 16].map((e) => `ep ${e}`)]);
        // 1 of 3 = 33%, 3 of 3 = 100% from epoch 11 on
        expect(
            longRows
                .find((l) => l.includes('long'))!
                .split('│')
                .map((c) => c.trim())
                .filter(Boolean),
        ).toEqual(['long', '33%', '33%', '33%', '33%', '33%', '100%', '100%', '100%']);
        const all = strip(renderResults([...on50, plain, old], { verbose: true }));
        expect(all).toContain('Training accuracy by epoch');
        expect(all).toContain('How fast each fine-tune fitted its examples');
        expect(strip(renderResults([...on50], {}))).not.toContain('Training accuracy by epoch');
    });

    it('the Vega-Lite line plot: accuracy by epoch, Known vs Unknown, a panel per fine-tune', async () => {
        const spec = trainingByEpochPlot([...on50, plain, old, external]) as {
            data: { values: { finetune: string; seed: string; epoch: number; examples: string; accuracy: number }[] };
            facet: unknown;
            spec: { mark: { type: string }; encoding: Record<string, { field: string; aggregate?: string }> };
        };
        expect(spec.spec.mark.type).toBe('line');
        expect(spec.spec.encoding.x.field).toBe('epoch');
        expect(spec.spec.encoding.y).toMatchObject({ field: 'accuracy', aggregate: 'mean' });
        expect(spec.spec.encoding.color.field).toBe('examples');
        // panels in the results' order, not alphabetical
        expect(spec.facet).toEqual({ column: { field: 'finetune', type: 'nominal', title: null, sort: ['on50', 'plain'] } });
        const v = spec.data.values;
        // on50: 2 replicates × 3 epochs × (Known, Unknown); plain: 2 epochs × all; old and ext: nothing
        expect(v).toHaveLength(14);
        expect(new Set(v.map((x) => x.finetune))).toEqual(new Set(['on50', 'plain']));
        expect(v.find((x) => x.finetune === 'on50' && x.seed === 'seed 1' && x.epoch === 2 && x.examples === 'Unknown')!.accuracy).toBeCloseTo(0.2, 12);
        expect(v.find((x) => x.finetune === 'plain' && x.epoch === 2)).toMatchObject({ examples: 'all', accuracy: 0.75 });
        // Vega-Lite compiles it without a warning and Vega draws it: a panel per fine-tune, a line per
        // group of examples (on50: Known and Unknown; plain: all)
        const warnings: string[] = [];
        const logger = {
            level: () => logger,
            error: (...a: unknown[]) => {
                warnings.push(a.join(' '));
                return logger;
            },
            warn: (...a: unknown[]) => {
                warnings.push(a.join(' '));
                return logger;
            },
            info: () => logger,
            debug: () => logger,
        };
        const view = new vega.View(vega.parse(vl.compile(spec as never, { logger: logger as never }).spec), { renderer: 'none' });
        await view.runAsync();
        expect(warnings).toEqual([]);
        const svg = await view.toSVG();
        expect(svg).toContain('training accuracy (mean over replicates)');
        expect((svg.match(/aria-roledescription="line mark"/g) ?? []).length).toBe(3);
        // nothing to plot: no spec, and the report has no such plot
        expect(trainingByEpochPlot([old, external])).toBeUndefined();
        expect(allPlots([old, external]).map((p) => p.id)).not.toContain('training-by-epoch');
    });

    it('the HTML report carries the plot spec; results without the record still render', () => {
        const html = reportHtml(makePlan('/x/e.mismatch', []), [...on50, old]);
        expect(html).toContain('id="plot-training-by-epoch"');
        expect(html).toContain('Training accuracy by epoch, Known vs Unknown examples');
        const oldOnly = reportHtml(makePlan('/x/e.mismatch', []), [old, external]);
        expect(oldOnly).not.toContain('plot-training-by-epoch');
        expect(oldOnly).toContain('plot-loss');
        const text = strip(renderResults([old, external], { verbose: true }));
        expect(text).not.toContain('How fast');
        expect(text).not.toContain('Training accuracy by epoch');
        expect(epochFitLines([old, external])).toBeUndefined();
        expect(epochFitTable([old, external])).toBeUndefined();
    });

    it('a record of a later format is skipped, not misread', () => {
        const future = ft('future', undefined, { fitByEpoch: { version: 2, examples: 1, epochs: [] } as unknown as FinetuneMetrics['fitByEpoch'] });
        expect(trainingByEpochPlot([future])).toBeUndefined();
        expect(epochFitLines([future])).toBeUndefined();
    });
});
