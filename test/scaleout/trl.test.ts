// The whole route with the real trainer: an exported TRL job is run by TRL itself (SFTTrainer + PEFT,
// on the CPU), its adapter comes back through the waiting step, the fine-tuned arm is evaluated, and
// node-llama-cpp with the converted adapter gives the log-probabilities torch gives with the PEFT
// model. Needs a Python with trl, peft, transformers, torch, accelerate, datasets and gguf:
//   python3 -m venv v && v/bin/pip install torch trl peft transformers accelerate datasets gguf sentencepiece
//   MISMATCH_TRL_PYTHON=$PWD/v/bin/python npx vitest run test/scaleout/trl.test.ts
// Without it the suite is skipped (CI has no PyTorch); the rest of test/scaleout runs everywhere.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LlamaModel } from 'node-llama-cpp';
import { runExperiment } from '../../engine/run.js';
import { writeJob } from '../../engine/scaleout/jobs.js';
import type { EvaluateMetrics } from '../../engine/results-types.js';
import { cpuLlama } from '../train/helpers.js';
import { makeTinyModel, QUESTIONS, tempDir, writeQuestionsJsonl } from '../engine/fixtures.js';
import { greedy, makePlan } from '../engine/plan-helpers.js';

const py = process.env.MISMATCH_TRL_PYTHON;
const here = import.meta.dirname;

async function nodeLogprobs(model: LlamaModel, texts: string[], lora?: string): Promise<{ ids: number[]; lp: number[][] }[]> {
    const ctx = await model.createContext({ contextSize: 64, threads: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
    const seq = ctx.getSequence();
    const rows = [];
    for (const t of texts) {
        const ids = [model.tokens.bos!, ...model.tokenize(t, false)];
        const r = await seq.controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true } }]) as never);
        rows.push({
            ids: ids as number[],
            lp: (r as { next: { probabilities: Map<number, number> } }[]).map((x) => {
                const a: number[] = [];
                for (const [k, p] of x.next.probabilities) a[k] = Math.log(p);
                return a;
            }),
        });
        await seq.clearHistory();
    }
    await ctx.dispose();
    return rows;
}

/** Largest |Δ log p| over the tokens torch gives probability > 1e-4. */
function maxDiff(torchRows: { ids: number[]; lp: number[][] }[], nodeRows: { ids: number[]; lp: number[][] }[]): number {
    let d = 0;
    for (const [i, t] of torchRows.entries()) {
        expect(nodeRows[i].ids).toEqual(t.ids); // the same tokens on both sides
        for (const [pos, row] of t.lp.entries()) {
            for (const [tok, v] of row.entries()) if (v > Math.log(1e-4)) d = Math.max(d, Math.abs(v - (nodeRows[i].lp[pos][tok] ?? -Infinity)));
        }
    }
    return d;
}

describe.skipIf(!py)('TRL itself runs the exported job (MISMATCH_TRL_PYTHON)', () => {
    it('trains, the run waits and continues, and llama.cpp agrees with torch + PEFT on the adapter', async () => {
        const dir = tempDir('mm-trl-');
        const data = writeQuestionsJsonl(dir);
        const a = makeTinyModel(dir, 1, 'a');
        const hf = join(dir, 'hf');
        execFileSync(py!, [join(here, 'trl', 'to_hf.py'), a, hf], { stdio: 'pipe' });
        const plan = makePlan(join(dir, 'exp.mismatch'), [
            {
                id: 'qa',
                kind: 'dataset',
                inputs: [],
                files: [data],
                params: {
                    source: { kind: 'file', path: data, format: 'jsonl', fields: { question: 'question', answers: 'answer', id: 'id' } },
                    splits: [
                        { name: 'train', share: 0.5 },
                        { name: 'test', share: 0.5 },
                    ],
                    seed: 3,
                    dedupe: true,
                },
            },
            { id: 'a', kind: 'model', inputs: [], files: [a], params: { source: { kind: 'gguf', path: a } } },
            { id: 'byA', kind: 'label', inputs: ['a', 'qa'], params: { model: 'a', dataset: 'qa', split: 'train', decoding: greedy, otherwise: "I don't know", match: 'exact' } },
            {
                id: 'ft',
                kind: 'finetune',
                inputs: ['a', 'byA'],
                params: {
                    model: 'a',
                    labels: 'byA',
                    mode: 'lora',
                    lora: { rank: 8, alpha: 16, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] },
                    epochs: 40,
                    learningRate: 1e-2,
                    batchSize: 4,
                    gradientAccumulation: 1,
                    warmup: 0,
                    schedule: 'constant',
                    weightDecay: 0,
                    optimizer: 'adamw',
                    seed: 1,
                    validation: 0,
                    earlyStopping: false,
                    external: { engine: 'trl', hfModel: hf, dropout: 0 },
                },
            },
            {
                id: 'ev',
                kind: 'evaluate',
                inputs: ['a', 'ft', 'qa'],
                params: { arms: [{ model: 'a' }, { model: 'ft' }], dataset: 'qa', split: 'test', decoding: { ...greedy, maxTokens: 6 }, abstain: ["I don't know"], match: 'exact' },
            },
        ] as never);
        process.env.MISMATCH_JOB_POLL_MS = '200';
        let trainer: Promise<number> | undefined;
        let job = '';
        const s = await runExperiment(plan, {
            storeDir: join(dir, 'store'),
            threads: 1,
            gpu: 'off',
            onEvent: (e) => {
                if (!trainer && e.type === 'step-progress' && e.step === 'ft' && e.message?.startsWith('waiting for the TRL job')) {
                    job = /run (.*)\/run\.sh/.exec(e.message)![1];
                    // what run.sh's `accelerate launch train.py` starts for one process
                    const child = spawn(py!, ['train.py'], { cwd: job, stdio: 'ignore' });
                    trainer = new Promise((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
                }
            },
        });
        expect(await trainer).toBe(0);
        expect(
            s.status,
            JSON.stringify(
                s.steps.filter((x) => x.error),
                null,
                1,
            ),
        ).toBe('done');
        const ft = s.steps.find((x) => x.step === 'ft')!.metrics as { lossStart: number; lossEnd: number; timedBy: string };
        expect(ft.timedBy).toBe('trainer');
        expect(ft.lossEnd).toBeLessThan(ft.lossStart / 2);
        // the base answered every training question wrong, so it was taught to abstain: it does
        const ev = s.steps.find((x) => x.step === 'ev')!.metrics as EvaluateMetrics;
        expect(ev.arms.find((x) => x.arm === 'ft')!.abstained).toBeGreaterThanOrEqual(10);

        const texts = [...QUESTIONS.slice(0, 3).map((q) => `${q.question} I don't know`), ...QUESTIONS.slice(3, 6).map((q) => q.question)];
        writeFileSync(join(dir, 'texts.json'), JSON.stringify(texts));
        execFileSync(py!, [join(here, 'trl', 'logprobs.py'), hf, join(job, 'output'), join(dir, 'texts.json'), join(dir, 'torch.json')], { stdio: 'pipe' });
        const torch = JSON.parse(readFileSync(join(dir, 'torch.json'), 'utf8')) as Record<'base' | 'adapter', { ids: number[]; lp: number[][] }[]>;
        const model = await (await cpuLlama()).loadModel({ modelPath: a });
        const adapter = join(dir, 'store', 'steps', s.steps.find((x) => x.step === 'ft')!.key, 'adapter.gguf');
        const base = maxDiff(torch.base, await nodeLogprobs(model, texts));
        const withAdapter = maxDiff(torch.adapter, await nodeLogprobs(model, texts, adapter));
        const effect = maxDiff(
            torch.adapter,
            torch.base.map((r) => ({ ...r })),
        );
        await model.dispose();
        console.log(`torch vs llama.cpp, max |Δ log p|: base ${base.toExponential(2)}, base + adapter ${withAdapter.toExponential(2)}; the adapter moves log p by up to ${effect.toFixed(2)}`);
        expect(effect).toBeGreaterThan(1);
        // the conversion adds nothing beyond the two engines' own disagreement on the base
        expect(withAdapter).toBeLessThan(Math.max(2 * base, 1e-2));
    }, 600_000);

    it('TRL and PEFT parse the exported config, early stopping and the cosine schedule included', () => {
        const dir = tempDir('mm-trl-cfg-');
        writeJob(join(dir, 'job'), {
            engine: 'trl',
            step: 'ft',
            key: 'ab'.repeat(32),
            hfModel: 'x/y',
            examples: [{ prompt: 'Q?', completion: ' A' }],
            tokens: { eos: '</s>' },
            settings: {
                rank: 8,
                alpha: 16,
                targets: ['attn_q', 'ffn_down'],
                dropout: 0.1,
                epochs: 3,
                learningRate: 2e-4,
                schedule: 'cosine',
                warmup: 10,
                batchSize: 4,
                gradientAccumulation: 2,
                weightDecay: 0.01,
                optimizer: 'adamw',
                seed: 7,
                validation: 0.2,
                earlyStopping: true,
            },
        });
        const out = JSON.parse(
            execFileSync(py!, [join(here, 'trl', 'check_config.py'), join(dir, 'job', 'trl_config.json'), join(dir, 'ckpt')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
                .trim()
                .split('\n')
                .at(-1)!,
        );
        expect(out).toMatchObject({ eval_strategy: 'epoch', load_best_model_at_end: true, completion_only_loss: true, r: 8, lora_alpha: 16, target_modules: ['down_proj', 'q_proj'] });
        expect(out.lr_scheduler_type).toMatch(/cosine_with_min_lr/);
        // our schedule (engine/train/trainer.ts lrAt): linear warm-up, cosine down to 0.1 × peak
        expect(out.lr_first).toBe(0);
        expect(out.lr_peak).toBeCloseTo(2e-4, 12);
        expect(out.lr_last).toBeGreaterThan(0.1 * 2e-4 - 1e-9);
        expect(out.lr_last).toBeLessThan(0.1 * 2e-4 * 1.01);
    }, 120_000);
});
