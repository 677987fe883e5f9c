// Per-epoch fit (job.fitByEpoch): which training examples greedy decoding reproduces after each epoch,
// measured teacher-forced inside the trainer, against an independent measurement: greedy generation
// through node-llama-cpp (llama.cpp's own forward pass, KV cache and sampler) of the saved model.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { buildTokenizer, trainModel, type LlamaConfig, type TrainEvent, type TrainJob } from '../../engine/train/api.js';
import { cpuLlama, greedyExact, makeWorld, tempDir } from './helpers.js';

const world = makeWorld(20, 11);
const facts = world.slice(0, 45);
const fresh = world.slice(45, 60);
const tok = buildTokenizer({ texts: world.flatMap((f) => [f.prompt, f.answer]) });
const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtx: 48, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false };
const job = (over: Partial<TrainJob>): TrainJob => ({
    base: { init: { config, tokenizer: tok.data, seed: 1 } },
    examples: facts,
    mode: 'full',
    epochs: 7,
    lr: 2e-3,
    batch: 9,
    seed: 1,
    threads: 1,
    outDir: join(tempDir(), 'm'),
    fitByEpoch: true,
    ...over,
});
const indicesWhere = (xs: boolean[], keep: (i: number) => boolean = () => true) => xs.flatMap((x, i) => (x && keep(i) ? [i] : []));

describe('per-epoch training fit', () => {
    it("the last epoch's teacher-forced fit is, example by example, greedy exact match through node-llama-cpp (full and LoRA)", { timeout: 240_000 }, async () => {
        // partly trained (7 epochs: about half the facts), 20% held out for validation: the fit covers
        // the 36 trained examples, named by their index in job.examples
        const events: TrainEvent[] = [];
        const res = await trainModel(job({ validationShare: 0.2 }), { onEvent: (e) => events.push(e) });
        const fit = res.fit!;
        expect(fit.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(fit.examples.length).toBe(36);
        const trained = new Set(fit.examples);
        const llama = await cpuLlama();
        const model = await llama.loadModel({ modelPath: res.modelPath });
        const greedy = await greedyExact(model, facts);
        const last = fit.epochs.at(-1)!.fitted;
        const expected = indicesWhere(greedy, (i) => trained.has(i));
        // a partial fit, so that agreement says something
        expect(expected.length).toBeGreaterThan(5);
        expect(expected.length).toBeLessThan(31);
        expect(last).toEqual(expected);
        // the epoch events carry the counts
        expect(events.filter((e) => e.type === 'epoch').map((e) => (e as { fitted?: number }).fitted)).toEqual(fit.epochs.map((e) => e.fitted.length));

        // LoRA on 15 new facts over the saved model (adapters in the forward pass)
        const lora = await trainModel({
            base: res.modelPath,
            examples: fresh,
            mode: 'lora',
            lora: { rank: 8, alpha: 16, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] },
            epochs: 8,
            lr: 3e-3,
            batch: 5,
            seed: 2,
            threads: 1,
            outDir: join(tempDir(), 'lora'),
            fitByEpoch: true,
        });
        const g2 = await greedyExact(model, fresh, lora.modelPath);
        expect(lora.fit!.examples).toEqual(fresh.map((_, i) => i));
        expect(lora.fit!.epochs.at(-1)!.fitted).toEqual(indicesWhere(g2));
        expect(indicesWhere(g2).length).toBeGreaterThan(3);
        await model.dispose();
    });

    it('on an easy job the fitted set grows (small dips at most) to every example; loss per step and per epoch come back structured', { timeout: 240_000 }, async () => {
        const res = await trainModel(job({ epochs: 14 }));
        const counts = res.fit!.epochs.map((e) => e.fitted.length);
        expect(counts[0]).toBe(0); // a random initialisation fits no 2-3-word answer
        expect(res.fit!.epochs.at(-1)!.fitted).toEqual(facts.map((_, i) => i));
        for (let e = 1; e < counts.length; e++) expect(counts[e]).toBeGreaterThanOrEqual(Math.max(...counts.slice(0, e)) - 4);
        // 45 examples, batch 9: 5 optimizer steps per epoch
        expect(res.loss.steps.map((s) => s.step)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
        expect(res.loss.steps[4].epoch).toBe(1);
        expect(res.loss.epochs.map((e) => [e.epoch, e.step])).toEqual(Array.from({ length: 14 }, (_, i) => [i + 1, 5 * (i + 1)]));
        // an epoch's train loss is the mean of its 5 steps' losses (one micro-batch per step)
        for (const e of res.loss.epochs) {
            const mine = res.loss.steps.filter((s) => s.step > e.step - 5 && s.step <= e.step).map((s) => s.loss);
            expect(e.trainLoss).toBeCloseTo(mine.reduce((a, b) => a + b, 0) / 5, 5);
        }
        // the CSV for people holds the same numbers
        const csv = readFileSync(res.lossCsv, 'utf8')
            .trim()
            .split('\n')
            .slice(1)
            .map((l) => l.split(','));
        expect(csv.filter((r) => r[0] === 'step').map((r) => Number(r[3]))).toEqual(res.loss.steps.map((s) => s.loss));
        expect(csv.filter((r) => r[0] === 'epoch').map((r) => Number(r[3]))).toEqual(res.loss.epochs.map((e) => e.trainLoss));
    });

    it('is measured only when asked for', { timeout: 120_000 }, async () => {
        const res = await trainModel(job({ epochs: 1, fitByEpoch: undefined }));
        expect(res.fit).toBeUndefined();
        expect(res.loss.epochs.length).toBe(1);
    });
});
