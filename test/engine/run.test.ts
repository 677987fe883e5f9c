import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPlan } from '../../language/load.js';
import { readJsonlFile } from '../../engine/store/index.js';
import { describe, expect, it } from 'vitest';
import { readResults, runExperiment } from '../../engine/run.js';
import type { EngineEvent } from '../../engine/events.js';
import type { EvaluateMetrics, HypothesisMetrics } from '../../engine/results-types.js';
import { makeTinyModel, tempDir, writeQuestionsJsonl } from './fixtures.js';
import { basicSteps, greedy, makePlan } from './plan-helpers.js';

describe('runExperiment on real tiny models', () => {
    const dir = tempDir();
    const data = writeQuestionsJsonl(dir);
    const a = makeTinyModel(dir, 1, 'a');
    const b = makeTinyModel(dir, 2, 'b');
    const spec = join(dir, 'exp.mismatch');
    const store = join(dir, '.mismatch');

    it('runs, then re-runs from the cache, then recomputes exactly what a temperature change touches', async () => {
        const plan = makePlan(spec, basicSteps(data, a, b));
        const events: EngineEvent[] = [];
        const s1 = await runExperiment(plan, { storeDir: store, threads: 1, gpu: 'off', onEvent: (e) => events.push(e) });
        expect(
            s1.status,
            JSON.stringify(
                s1.steps.filter((x) => x.error),
                null,
                1,
            ),
        ).toBe('done');
        expect(s1.steps.map((x) => x.cached)).toEqual(plan.steps.map(() => false));
        const ev = s1.steps.find((x) => x.step === 'ev')!.metrics as EvaluateMetrics;
        expect(ev.arms.map((x) => x.total)).toEqual([12, 12]);
        expect(ev.arms[0].riskCoverage.length).toBeGreaterThan(0);
        expect(s1.evaluations).toHaveLength(2);
        expect(s1.hypotheses.map((h) => h.step)).toEqual(['h1', 'h2']);
        const h2 = s1.hypotheses[1] as HypothesisMetrics;
        expect(h2.coverage).not.toBeNull();
        expect(['holds', 'does not hold', 'inconclusive']).toContain(h2.verdict);
        expect(events.some((e) => e.type === 'step-progress')).toBe(true);
        const shuf = s1.steps.find((x) => x.step === 'shuf')!.metrics as { replaced: number };
        const byA = s1.steps.find((x) => x.step === 'byA')!.metrics as { replaced: number };
        expect(shuf.replaced).toBe(byA.replaced);

        const s2 = await runExperiment(plan, { storeDir: store, threads: 1, gpu: 'off' });
        expect(s2.steps.every((x) => x.cached && x.status === 'done')).toBe(true);
        expect(s2.hypotheses).toEqual(s1.hypotheses);

        const plan3 = makePlan(spec, basicSteps(data, a, b, { ...greedy, temperature: 0.7, seed: 5 }));
        const s3 = await runExperiment(plan3, { storeDir: store, threads: 1, gpu: 'off' });
        const recomputed = s3.steps.filter((x) => !x.cached).map((x) => x.step);
        expect(recomputed).toEqual(['ev', 'h1', 'h2']);

        // readResults: current results for plan3; for the original plan the evaluate entries are
        // still in the store, so they read as current (not stale).
        const r3 = await readResults(plan3, store);
        expect(r3.map((r) => r.step)).toEqual(plan3.steps.map((s) => s.id));
        expect(r3.every((r) => !r.stale)).toBe(true);
        const plan4 = makePlan(spec, basicSteps(data, a, b, { ...greedy, maxTokens: 3 }));
        const r4 = await readResults(plan4, store);
        expect(r4.filter((r) => r.stale).map((r) => r.step)).toEqual(['ev', 'h1', 'h2']);
    }, 300_000);

    it('--step runs a step and its inputs only; --force recomputes', async () => {
        const plan = makePlan(spec, basicSteps(data, a, b));
        const s = await runExperiment(plan, { storeDir: join(dir, 'store2'), threads: 1, gpu: 'off', step: 'byA' });
        expect(s.steps.map((x) => x.step)).toEqual(['qa', 'a', 'byA']);
        const f = await runExperiment(plan, { storeDir: join(dir, 'store2'), threads: 1, gpu: 'off', step: 'byA', force: ['byA'] });
        expect(f.steps.map((x) => [x.step, x.cached])).toEqual([
            ['qa', true],
            ['a', true],
            ['byA', false],
        ]);
        const bad = await runExperiment(plan, { storeDir: join(dir, 'store2'), threads: 1, gpu: 'off', step: 'nope' });
        expect(bad.status).toBe('failed');
        expect(bad.error?.message).toMatch(/--step nope: no such step/);
    });

    it('a located failure stops dependants only', async () => {
        const plan = makePlan(spec, basicSteps(join(dir, 'missing.jsonl'), a, b));
        const s = await runExperiment(plan, { storeDir: join(dir, 'store3'), threads: 1, gpu: 'off' });
        expect(s.status).toBe('failed');
        expect(s.steps.find((x) => x.step === 'qa')!.error!.message).toMatch(/file not found: .*missing.jsonl/);
        expect(s.steps.find((x) => x.step === 'a')!.status).toBe('done');
        expect(s.steps.find((x) => x.step === 'byA')!.error!.message).toMatch(/input qa failed/);
    });

    it('knowledge (SliCK) → mix → finetune → evaluate sliced by SliCK categories', async () => {
        const steps = basicSteps(data, a, b).filter((s) => ['qa', 'a'].includes(s.id));
        const plan = makePlan(spec, [
            ...steps,
            { id: 'k', kind: 'knowledge', inputs: ['a', 'qa'], stochastic: true, params: { model: 'a', dataset: 'qa', split: 'train', samples: 3, temperature: 1, seed: 2, decoding: greedy } },
            { id: 'm', kind: 'mix', inputs: ['k'], stochastic: true, params: { knowledge: 'k', unknown: 1, seed: 1 } },
            {
                id: 'ft',
                kind: 'finetune',
                inputs: ['a', 'm'],
                stochastic: true,
                params: {
                    model: 'a',
                    labels: 'm',
                    mode: 'lora',
                    lora: { rank: 2, alpha: 4, targets: ['attn_q', 'attn_v'] },
                    epochs: 1,
                    learningRate: 1e-3,
                    batchSize: 4,
                    gradientAccumulation: 1,
                    warmup: 0,
                    schedule: 'constant',
                    weightDecay: 0,
                    optimizer: 'adamw',
                    seed: 1,
                    validation: 0,
                    earlyStopping: false,
                },
            },
            {
                id: 'ev',
                kind: 'evaluate',
                inputs: ['ft', 'a', 'qa', 'k'],
                params: { arms: [{ model: 'ft' }, { model: 'a' }], dataset: 'qa', split: 'train', decoding: greedy, abstain: ["I don't know"], match: 'exact', knowledge: 'k' },
            },
        ] as never);
        const s = await runExperiment(plan, { storeDir: join(dir, 'store4'), threads: 1, gpu: 'off' });
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error?.message))).toBe('done');
        const k = s.steps.find((x) => x.step === 'k')!.metrics as { total: number; categories: Record<string, number> };
        expect(Object.values(k.categories).reduce((x, y) => x + y, 0)).toBe(k.total);
        const m = s.steps.find((x) => x.step === 'm')!.metrics as { total: number; unknown: number };
        expect(m.total).toBe(k.categories.Unknown);
        expect(m.unknown).toBe(m.total);
        const ft = s.steps.find((x) => x.step === 'ft')!;
        expect(ft.outputs).toEqual(expect.arrayContaining(['adapter.gguf', 'model.json']));
        const ev = s.steps.find((x) => x.step === 'ev')!.metrics as EvaluateMetrics;
        for (const arm of ev.arms) {
            const cats = Object.keys(arm.byKnowledge);
            expect(cats.every((c) => ['HighlyKnown', 'MaybeKnown', 'WeaklyKnown', 'Unknown'].includes(c))).toBe(true);
            expect(Object.values(arm.byKnowledge).reduce((x, y) => x + y.total, 0)).toBe(arm.total);
        }
    });

    it('seeds 3: stochastic steps and their dependants run per seed', async () => {
        const plan = makePlan(spec, basicSteps(data, a, b), { seeds: 3 });
        const s = await runExperiment(plan, { storeDir: store, threads: 1, gpu: 'off' });
        expect(s.status).toBe('done');
        expect(s.steps.filter((x) => x.step === 'shuf').map((x) => x.seedIndex)).toEqual([0, 1, 2]);
        expect(s.steps.filter((x) => x.step === 'ev').map((x) => x.seedIndex)).toEqual([undefined]);
        // seed index 0 shares its key with the single-seed run
        expect(s.steps.find((x) => x.step === 'shuf' && x.seedIndex === 0)!.cached).toBe(true);
    });
});

describe('replicates redraw what the spec says', () => {
    const dir = tempDir();
    const spec = (seeds: number, redraw = '') => {
        const file = join(dir, `r${seeds}${redraw.replace(/\W/g, '')}.mismatch`);
        writeFileSync(
            file,
            `experiment R {\n  seed 7\n  seeds ${seeds}\n${redraw ? `  redraw ${redraw}\n` : ''}  world w { entities 40 relations capital, river }\n  dataset d from w { split train 50%  split test 50% }\n}\n`,
        );
        return file;
    };
    const planOf = async (file: string) => {
        const { plan, diagnostics } = await loadPlan(file);
        expect(diagnostics.filter((x) => x.severity === 'error')).toEqual([]);
        return plan!;
    };
    const testIds = async (dirOf: string | undefined) =>
        (await readJsonlFile<{ id: string; split: string }>(join(dirOf!, 'records.jsonl')))
            .filter((r) => r.split === 'test')
            .map((r) => r.id)
            .sort()
            .join();
    it('by default each replicate draws its own world and split; replicate 0 is the single run', async () => {
        const store = join(dir, '.mismatch');
        const one = await runExperiment(await planOf(spec(1)), { storeDir: store, threads: 1, gpu: 'off' });
        expect(one.status).toBe('done');
        const s = await runExperiment(await planOf(spec(2)), { storeDir: store, threads: 1, gpu: 'off' });
        expect(s.status).toBe('done');
        const worlds = s.steps.filter((x) => x.step === 'w');
        expect(worlds.map((x) => [x.seedIndex, x.cached])).toEqual([
            [0, true],
            [1, false],
        ]);
        const seeds = await Promise.all(worlds.map(async (x) => JSON.parse(readFileSync(join(x.dir!, 'world.json'), 'utf8')).params.seed));
        expect(seeds).toEqual([7, 8]);
        const ds = s.steps.filter((x) => x.step === 'd');
        expect(ds.map((x) => x.seedIndex)).toEqual([0, 1]);
        expect(await testIds(ds[0].dir)).not.toEqual(await testIds(ds[1].dir));
    });
    it('`redraw finetuning` keeps one world and one split for every replicate', async () => {
        const s = await runExperiment(await planOf(spec(2, 'finetuning')), { storeDir: join(dir, '.mismatch2'), threads: 1, gpu: 'off' });
        expect(s.status).toBe('done');
        expect(s.steps.filter((x) => x.step === 'w' || x.step === 'd').map((x) => x.seedIndex)).toEqual([undefined, undefined]);
    });
});
