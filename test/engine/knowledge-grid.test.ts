/**
 * End to end on real tiny models: SliCK with several few-shot prompts, few-shot exemplars drawn per
 * question, and the teacher × student knowledge grid of an evaluation `by` the SliCK steps of both
 * models, checked against cells recomputed here from the steps' own output files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExperiment } from '../../engine/run.js';
import type { EvaluateMetrics } from '../../engine/results-types.js';
import { makeTinyModel, tempDir, writeQuestionsJsonl } from './fixtures.js';
import { basicSteps, greedy, makePlan } from './plan-helpers.js';

const jsonl = <T>(path: string): T[] =>
    readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as T);

describe('SliCK, few-shot and the knowledge grid through the engine', () => {
    const dir = tempDir();
    const data = writeQuestionsJsonl(dir);
    const a = makeTinyModel(dir, 1, 'a');
    const b = makeTinyModel(dir, 2, 'b');
    const spec = join(dir, 'exp.mismatch');
    const shots = { ...greedy, fewShot: 2 };
    const slick = (id: string, model: string) => ({
        id,
        kind: 'knowledge',
        inputs: [model, 'qa'],
        stochastic: true,
        params: { model, dataset: 'qa', split: 'test', prompts: 3, samples: 2, temperature: 1, seed: 2, decoding: shots, match: 'contains' },
    });
    const steps = [
        ...basicSteps(data, a, b).filter((s) => ['qa', 'a', 'b'].includes(s.id)),
        { id: 'byA', kind: 'label', inputs: ['a', 'qa'], params: { model: 'a', dataset: 'qa', split: 'train', decoding: shots, otherwise: "I don't know", match: 'exact' } },
        {
            id: 'ft',
            kind: 'finetune',
            inputs: ['b', 'byA'],
            stochastic: true,
            params: {
                model: 'b',
                labels: 'byA',
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
        slick('kA', 'a'),
        slick('kB', 'b'),
        {
            id: 'ev',
            kind: 'evaluate',
            inputs: ['ft', 'b', 'qa', 'kB', 'kA'],
            params: { arms: [{ model: 'ft' }, { model: 'b' }], dataset: 'qa', split: 'test', decoding: shots, abstain: ["I don't know"], match: 'exact', knowledge: 'kB', knowledgeAlso: ['kA'] },
        },
        { id: 'evTrain', kind: 'evaluate', inputs: ['b', 'qa'], params: { arms: [{ model: 'b' }], dataset: 'qa', split: 'train', decoding: shots, abstain: ["I don't know"], match: 'exact' } },
    ];

    it("categorises with Nex prompts, and reports every arm's outcomes per grid cell", async () => {
        const plan = makePlan(spec, steps as never);
        const s = await runExperiment(plan, { storeDir: join(dir, 'store'), threads: 1, gpu: 'off', step: 'ev' });
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error?.message))).toBe('done');
        const km = s.steps.find((x) => x.step === 'kA')!;
        expect(km.metrics).toMatchObject({ prompts: 3, fewShot: 2, samples: 2, match: 'contains' });
        const know = (id: string) =>
            jsonl<{ id: string; prompts: number; greedyCorrect: number; samplesCorrect: number; samples: number; category: string }>(join(s.steps.find((x) => x.step === id)!.dir!, 'knowledge.jsonl'));
        const [kA, kB] = [know('kA'), know('kB')];
        expect(kA).toHaveLength(12);
        for (const r of [...kA, ...kB]) {
            expect(r.prompts).toBe(3);
            expect(r.samples).toBe(6); // 2 samples × 3 prompts
            // the paper's definitions, from the counts
            const want = r.greedyCorrect === 3 ? 'HighlyKnown' : r.greedyCorrect > 0 ? 'MaybeKnown' : r.samplesCorrect > 0 ? 'WeaklyKnown' : 'Unknown';
            expect(r.category).toBe(want);
        }
        const ev = s.steps.find((x) => x.step === 'ev')!;
        const answers = jsonl<{ arm: string; id: string; outcome: string }>(join(ev.dir!, 'answers.jsonl'));
        const teacher = new Map(kA.map((r) => [r.id, r.category !== 'Unknown']));
        const student = new Map(kB.map((r) => [r.id, r.category !== 'Unknown']));
        for (const arm of (ev.metrics as EvaluateMetrics).arms) {
            expect(arm.grid).toBeDefined();
            expect([arm.grid!.teacher, arm.grid!.student, arm.grid!.source]).toEqual(['a', 'b', 'slick']);
            const cells: Record<string, Record<string, number>> = {};
            for (const r of answers.filter((x) => x.arm === arm.arm)) {
                const t = teacher.get(r.id)!;
                const st = student.get(r.id)!;
                const cell = t && st ? 'both' : t ? 'teacherOnly' : st ? 'studentOnly' : 'neither';
                cells[cell] ??= { correct: 0, wrong: 0, abstained: 0, empty: 0, total: 0 };
                cells[cell][r.outcome]++;
                cells[cell].total++;
            }
            for (const c of ['both', 'teacherOnly', 'studentOnly', 'neither'] as const) {
                expect(arm.grid!.cells[c], `${arm.arm} ${c}`).toEqual(cells[c] ?? { correct: 0, wrong: 0, abstained: 0, empty: 0, total: 0 });
            }
            expect(arm.fScore).toBeGreaterThanOrEqual(0);
            expect(arm.accuracy).toBeCloseTo(arm.correct / arm.total, 12);
        }
    }, 300_000);

    it('an evaluation of the split the exemplars come from fails, located', async () => {
        const plan = makePlan(spec, steps as never);
        const s = await runExperiment(plan, { storeDir: join(dir, 'store'), threads: 1, gpu: 'off', step: 'evTrain' });
        expect(s.status).toBe('failed');
        expect(s.steps.find((x) => x.step === 'evTrain')!.error!.message).toMatch(/evTrain: few-shot exemplars would come from the split under evaluation \(train\)/);
    }, 120_000);
});
