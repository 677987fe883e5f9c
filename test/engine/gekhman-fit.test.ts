/**
 * End to end on an embedded world (a spec like examples/gekhman.mismatch, scaled down): fine-tunes on
 * SliCK mixes report their training fit from the models' own answers, Known vs Unknown apart, a
 * fine-tune that fitted nothing carries the warning, and the accuracy-vs-Unknown trend pairs the
 * evaluation with the fine-tunes. Counts are recomputed here from the steps' output files.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readResults, runExperiment } from '../../engine/run.js';
import { renderResults } from '../../cli/results.js';
import { reportHtml } from '../../engine/report/html.js';
import { loadPlan } from '../../language/load.js';
import { mixTrends } from '../../engine/stats/linfit.js';
import type { EvaluateMetrics, FinetuneMetrics } from '../../engine/results-types.js';
import { tempDir } from './fixtures.js';

const jsonl = <T>(path: string): T[] =>
    readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as T);

const SPEC = `experiment Tiny {
  seed 5
  world atlas { entities 60  relations capital, founder }
  dataset trivia from atlas { split train 60%  split test 40% }
  model small = pretrain on atlas { layers 2  width 64  knows 50% }
  decoding greedy { temperature 0  maxTokens 16 }
  knowledge known = small on trivia.train using greedy { samples 2  temperature 0.5  fewShot 0 }
  label mix0   = mix known { unknown 0%    size 24 }
  label mix50  = mix known { unknown 50%   size 24 }
  label mix100 = mix known { unknown 100%  size 24 }
  finetune on0   = small on mix0   { lora rank 16  epochs 16  learningRate 3e-3 }
  finetune on50  = small on mix50  { lora rank 16  epochs 16  learningRate 3e-3 }
  finetune on100 = small on mix100 { lora rank 16  epochs 16  learningRate 3e-3 }
  finetune idle  = small on mix100 { lora rank 2  epochs 1  learningRate 1e-6 }
  evaluate mixes = on0, on50, on100, small on trivia.test using greedy
}
`;

describe('training fit of fine-tunes on SliCK mixes', () => {
    it('reports Known vs Unknown training accuracy, flags a fine-tune that fitted nothing, and fits accuracy on the Unknown share', async () => {
        const dir = tempDir();
        const file = join(dir, 'tiny.mismatch');
        writeFileSync(file, SPEC);
        const { plan, diagnostics } = await loadPlan(file);
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        const s = await runExperiment(plan!, { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error?.message))).toBe('done');
        const step = (id: string) => s.steps.find((x) => x.step === id)!;
        const known = new Map(jsonl<{ id: string; category: string }>(join(step('known').dir!, 'knowledge.jsonl')).map((r) => [r.id, r.category]));
        for (const [id, share] of [
            ['on0', 0],
            ['on50', 0.5],
            ['on100', 1],
            ['idle', 1],
        ] as const) {
            const fit = (step(id).metrics as FinetuneMetrics).fit!;
            expect(fit.unknownShare).toBe(share);
            expect(fit.checked).toBe(24);
            // the split follows the knowledge step's categories of the mix's examples
            const mixId = id === 'on0' ? 'mix0' : id === 'on50' ? 'mix50' : 'mix100';
            const ids = jsonl<{ id: string }>(join(step(mixId).dir!, 'labels.jsonl')).map((r) => r.id);
            expect(fit.unknown!.total).toBe(ids.filter((q) => known.get(q) === 'Unknown').length);
            expect(fit.known!.total + fit.unknown!.total).toBe(24);
            // Unknown questions: the base model never answers them greedily (SliCK's definition)
            expect(fit.unknown!.base).toBe(0);
        }
        // Fitted: nearly every example, the Unknown ones included; no warning
        for (const id of ['on50', 'on100']) {
            const fit = (step(id).metrics as FinetuneMetrics).fit!;
            expect(fit.unknown!.fitted / fit.unknown!.total).toBeGreaterThanOrEqual(0.9);
            expect(step(id).warnings ?? []).not.toContainEqual(expect.stringMatching(/did not fit/));
        }
        // A learning rate of 1e-6 for one epoch fits nothing, and says so
        const idle = (step('idle').metrics as FinetuneMetrics).fit!;
        expect(idle.all.fitted).toBeLessThanOrEqual(2);
        expect(step('idle').warnings).toContainEqual(expect.stringMatching(/^the fine-tune did not fit its training examples/));
        // The trend: one point per fine-tuned arm at its share, accuracy from the evaluation's counts
        const [trend] = mixTrends(s.steps);
        const arms = (step('mixes').metrics as EvaluateMetrics).arms;
        expect(trend.points.map((p) => [p.arm, p.unknownShare, p.accuracy])).toEqual(
            ['on0', 'on50', 'on100'].map((a, i) => [a, i / 2, arms.find((x) => x.arm === a)!.correct / arms.find((x) => x.arm === a)!.total]),
        );
        expect(trend.fit.n).toBe(3);
        expect(trend.fit.df).toBe(1);

        // How fast: the trainer's per-epoch fit, Known vs Unknown by the labels' categories
        for (const [id, mixId, epochs] of [
            ['on0', 'mix0', 16],
            ['on50', 'mix50', 16],
            ['on100', 'mix100', 16],
            ['idle', 'mix100', 1],
        ] as const) {
            const m = step(id).metrics as FinetuneMetrics;
            const byEpoch = m.fitByEpoch!;
            expect(byEpoch.version).toBe(1);
            expect(byEpoch.examples).toBe(24);
            expect(byEpoch.epochs.map((e) => e.epoch)).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
            const labels = jsonl<{ id: string; category: string }>(join(step(mixId).dir!, 'labels.jsonl'));
            const nUnknown = labels.filter((l) => known.get(l.id) === 'Unknown').length;
            // per example, fitted after each epoch (an output of the step) agrees with the counts
            const perExample = jsonl<{ id: string; category: string; fitted: boolean[] }>(join(step(id).dir!, 'fit-by-epoch.jsonl'));
            expect(perExample.map((r) => r.id)).toEqual(labels.map((l) => l.id));
            for (const [k, e] of byEpoch.epochs.entries()) {
                expect(e.known!.total + e.unknown!.total).toBe(24);
                expect(e.all).toEqual({ total: 24, fitted: e.known!.fitted + e.unknown!.fitted });
                expect(e.unknown!.total).toBe(nUnknown);
                expect(e.unknown!.fitted).toBe(perExample.filter((r) => known.get(r.id) === 'Unknown' && r.fitted[k]).length);
                expect(e.known!.fitted).toBe(perExample.filter((r) => known.get(r.id) !== 'Unknown' && r.fitted[k]).length);
            }
            // after the last epoch: the examples the fine-tuned model answers greedily after training
            // (the step's own check through node-llama-cpp), counted teacher-forced by the trainer
            const last = byEpoch.epochs.at(-1)!;
            expect([last.known!.fitted, last.unknown!.fitted]).toEqual([m.fit!.known!.fitted, m.fit!.unknown!.fitted]);
            // the loss per epoch and per step, as the trainer returned them (24 examples, batch 8: 3 steps per epoch)
            expect(m.curve.map((c) => [c.epoch, c.step])).toEqual(Array.from({ length: epochs }, (_, i) => [i + 1, 3 * (i + 1)]));
            expect(m.stepCurve!.map((c) => c.step)).toEqual(Array.from({ length: 3 * epochs }, (_, i) => i + 1));
        }
        // Unknown examples are fitted later than Known ones on the 50% mix (Gekhman et al.'s finding;
        // here the Known ones are answered from the start)
        const half = (step('on50').metrics as FinetuneMetrics).fitByEpoch!.epochs;
        const firstHalf = (pick: (e: (typeof half)[number]) => { total: number; fitted: number }) => half.find((e) => pick(e).fitted >= pick(e).total / 2)?.epoch ?? Infinity;
        expect(firstHalf((e) => e.known!)).toBeLessThan(firstHalf((e) => e.unknown!));

        // An older result (made before the per-epoch record and the step curve existed) still loads and reports
        const entry = step('on50').dir!;
        const stored = JSON.parse(readFileSync(join(entry, 'result.json'), 'utf8'));
        delete stored.metrics.fitByEpoch;
        delete stored.metrics.stepCurve;
        const text = JSON.stringify(stored, null, 1);
        writeFileSync(join(entry, 'result.json'), text);
        const manifest = JSON.parse(readFileSync(join(entry, 'manifest.json'), 'utf8'));
        writeFileSync(join(entry, 'manifest.json'), JSON.stringify({ ...manifest, resultChecksum: createHash('sha256').update(text).digest('hex') }, null, 1));
        const again = await readResults(plan!, join(dir, 'store'));
        const on50 = again.find((r) => r.step === 'on50')!;
        expect(on50.status).toBe('done');
        expect((on50.metrics as FinetuneMetrics).fitByEpoch).toBeUndefined();
        const cli = renderResults(again, { verbose: true }).replace(/\u001b\[[0-9;]*m/g, '');
        expect(cli).toMatch(/^ {2}on100: fitted Unknown \d+\.\d% after epoch 16 \(half fitted: Unknown epoch \d+\)$/m);
        expect(cli).not.toMatch(/^ {2}on50: fitted/m);
        const html = reportHtml(plan!, again);
        expect(html).toContain('id="plot-training-by-epoch"');
    }, 240_000);
});
