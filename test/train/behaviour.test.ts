// Trainer behaviour through the public API (real child process, real ggml): every tensor group moves,
// same seed -> bit-identical, kill + resume -> the same weights, cancel, LoRA adapter in node-llama-cpp.
import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { LlamaCompletion } from 'node-llama-cpp';
import { buildTokenizer, initLlamaWeights, readLlamaGguf, readLoraGguf, readGguf, trainModel, writeLlamaGguf, TrainError, type LlamaConfig, type TrainJob } from '../../engine/train/api.js';
import { cpuLlama, makeWorld, tempDir } from './helpers.js';

const world = makeWorld(12, 9);
const facts = world.slice(0, 24);
const tok = buildTokenizer({ texts: world.flatMap((f) => [f.prompt, f.answer]) });
const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtx: 48, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false };
const job = (outDir: string, over: Partial<TrainJob> = {}): TrainJob => ({
    base: { init: { config, tokenizer: tok.data, seed: 3 } },
    examples: facts,
    mode: 'full',
    epochs: 3,
    lr: 2e-3,
    warmup: 2,
    schedule: 'cosine',
    batch: 6,
    seed: 7,
    threads: 1,
    outDir,
    validationShare: 0.25,
    ...over,
});

describe('trainer behaviour', () => {
    let base: string;
    beforeAll(() => {
        base = join(tempDir(), 'base.gguf');
        writeLlamaGguf(base, { config, tokenizer: tok, tensors: initLlamaWeights(config, 3) });
    });

    it('moves every tensor group (embeddings, Q, K, V, O, FFN, norms, output) and writes loss.csv with validation', async () => {
        const res = await trainModel(job(tempDir()));
        const before = initLlamaWeights(config, 3);
        const after = readLlamaGguf(res.modelPath).tensors;
        for (const [name, t] of before) {
            let d = 0;
            for (let i = 0; i < t.data.length; i++) d = Math.max(d, Math.abs(after.get(name)!.data[i] - t.data[i]));
            expect(d, name).toBeGreaterThan(1e-4);
        }
        const csv = readFileSync(res.lossCsv, 'utf8').trim().split('\n');
        const epochs = csv.filter((l) => l.startsWith('epoch,'));
        expect(epochs.length).toBe(3);
        for (const e of epochs) expect(Number(e.split(',')[4])).toBeGreaterThan(0); // validation loss
        expect(res.finalValidationLoss).toBeGreaterThan(0);
        // the ggml buffers by part: F32 weights, and AdamW's gradient accumulator and two moments, 4 bytes a
        // parameter each (tensor padding aside); activations for one micro-batch
        const m = res.memory!;
        expect(res.trainableParams).toBe(res.totalParams);
        expect(m.weights / (4 * res.totalParams)).toBeGreaterThanOrEqual(1);
        expect(m.weights / (4 * res.totalParams)).toBeLessThan(1.01);
        expect(m.optimizer / (3 * 4 * res.trainableParams)).toBeGreaterThanOrEqual(1);
        expect(m.optimizer / (3 * 4 * res.trainableParams)).toBeLessThan(1.01);
        expect(m.compute).toBeGreaterThan(0);
        expect(m.staging).toBe(0);
    });

    it('same seed gives bit-identical weights; a killed run resumes from its checkpoint to the same weights', async () => {
        const a = await trainModel(job(tempDir(), { checkpointEvery: 2, fitByEpoch: true }));
        const b = await trainModel(job(tempDir(), { checkpointEvery: 2 }));
        const wa = readFileSync(a.modelPath),
            wb = readFileSync(b.modelPath);
        expect(wa.equals(wb)).toBe(true);
        // kill the child (SIGKILL, no clean exit) right after its checkpoint at step 4
        const dir = tempDir();
        const ac = new AbortController();
        let killed = false;
        await expect(
            trainModel(job(dir, { checkpointEvery: 2, fitByEpoch: true }), {
                signal: ac.signal,
                cancelGraceSeconds: 0,
                onEvent: (e) => {
                    if (e.type === 'checkpoint' && e.step === 4 && !killed) {
                        killed = true;
                        ac.abort();
                    }
                },
            }),
        ).rejects.toThrow(/cancel/);
        expect(existsSync(join(dir, 'checkpoint', 'state.json'))).toBe(true);
        let resumedFrom: number | undefined;
        const c = await trainModel(job(dir, { checkpointEvery: 2, resume: true, fitByEpoch: true }), {
            onEvent: (e) => {
                if (e.type === 'start') resumedFrom = e.resumedFromStep;
            },
        });
        expect(resumedFrom).toBeGreaterThanOrEqual(4);
        expect(readFileSync(c.modelPath).equals(wa)).toBe(true);
        // the loss curve is the same too (timing columns aside)
        const losses = (p: string) =>
            readFileSync(p, 'utf8')
                .trim()
                .split('\n')
                .map((l) => l.split(',').slice(0, 6).join(','));
        expect(losses(c.lossCsv)).toEqual(losses(a.lossCsv));
        // and so are the structured curves and the per-epoch fit, the epoch measured before the kill
        // (3 steps per epoch: step 4 is in the second) carried by the checkpoint
        const noTime = (r: typeof a) => ({ steps: r.loss.steps.map(({ elapsedSeconds: _, ...x }) => x), epochs: r.loss.epochs.map(({ elapsedSeconds: _, ...x }) => x) });
        expect(noTime(c)).toEqual(noTime(a));
        expect(c.loss.steps.length).toBe(a.steps);
        expect(c.fit!.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
        expect(c.fit).toEqual(a.fit);
    });

    it('early stopping on the validation loss; gradient accumulation counts optimizer steps', async () => {
        // minDelta 100: no epoch after the first improves enough, so patience 1 stops after epoch 2
        const es = await trainModel(job(tempDir(), { epochs: 10, earlyStopping: { patience: 1, minDelta: 100 } }));
        expect(es.stoppedEarly).toBe(true);
        expect(es.epochs).toBe(2);
        // 18 training examples (25% held out), batch 6: 3 micro-batches per epoch × 4 epochs, 2 per step
        const ga = await trainModel(job(tempDir(), { gradAccum: 2, epochs: 4 }));
        expect(ga.steps).toBe(6);
        expect(Number.isFinite(ga.finalTrainLoss)).toBe(true);
    });

    it('cancel stops within one step and rejects with a cancelled TrainError', async () => {
        const ac = new AbortController();
        let steps = 0,
            stepAtAbort = 0;
        const p = trainModel(job(tempDir(), { epochs: 50 }), {
            signal: ac.signal,
            onEvent: (e) => {
                if (e.type === 'progress') {
                    steps = e.step;
                    if (e.step === 3) {
                        stepAtAbort = 3;
                        ac.abort();
                    }
                }
            },
        });
        const err = await p.catch((e) => e);
        expect(err).toBeInstanceOf(TrainError);
        expect((err as TrainError).code).toBe('cancelled');
        expect(steps - stepAtAbort).toBeLessThanOrEqual(1);
    });

    it('LoRA adapter (general.type=adapter) loads in node-llama-cpp and changes its outputs; SGD works', async () => {
        const res = await trainModel({ ...job(tempDir(), { epochs: 6, lr: 5e-2, optimizer: 'sgd' }), base, mode: 'lora', lora: { rank: 4, alpha: 8 } });
        // SGD keeps only the gradient accumulators: 4 bytes per trainable (LoRA) parameter
        expect(res.memory!.optimizer / (4 * res.trainableParams)).toBeGreaterThanOrEqual(1);
        expect(res.memory!.optimizer / (4 * res.trainableParams)).toBeLessThan(1.05);
        const g = readGguf(res.modelPath);
        expect(g.metadata.get('general.type')).toBe('adapter');
        expect(g.metadata.get('adapter.type')).toBe('lora');
        expect(g.metadata.get('adapter.lora.alpha')).toBe(8);
        const lw = readLoraGguf(res.modelPath);
        expect([...lw.pairs.keys()]).toContain('blk.1.attn_k.weight');
        expect(lw.pairs.get('blk.0.attn_q.weight')!.b.data.some((v) => v !== 0)).toBe(true);
        const llama = await cpuLlama();
        const model = await llama.loadModel({ modelPath: base });
        const probs = async (lora?: string) => {
            const ctx = await model.createContext({ contextSize: 48, threads: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
            const ids = model.tokenize(facts[0].prompt);
            const r = await ctx.getSequence().controlledEvaluate([...ids.slice(0, -1), [ids.at(-1)!, { generateNext: { probabilities: true } }]] as never);
            const p = (r.at(-1) as { next: { probabilities: Map<number, number> } }).next.probabilities;
            await ctx.dispose();
            return p;
        };
        const p0 = await probs(),
            p1 = await probs(res.modelPath);
        const top0 = [...p0.entries()][0],
            top1 = [...p1.entries()][0];
        expect(top0[0] !== top1[0] || Math.abs(top0[1] - top1[1]) > 1e-3).toBe(true);
        void LlamaCompletion;
        await model.dispose();
    });
});
