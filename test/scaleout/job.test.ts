// Fine-tuning on an existing trainer: the exported job (TRL and Axolotl) is checked against each
// engine's published config field names and documented dataset format (neither engine installs here:
// PyPI is unreachable), then a whole run is driven through it: the step waits, a PEFT adapter is
// dropped where the job says (standing in for the trainer), and the run converts it and evaluates it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import type { FinetuneStep } from '../../language/plan-types.js';
import { runExperiment } from '../../engine/run.js';
import type { EngineEvent } from '../../engine/events.js';
import type { EvaluateMetrics } from '../../engine/results-types.js';
import { axolotlConfig, stepsPerEpoch, verifyJob, writeJob, type JobSpec } from '../../engine/scaleout/jobs.js';
import { trainerStateCurve } from '../../engine/scaleout/step.js';
import { readLlamaGgufInfo, readGguf } from '../../engine/train/api.js';
import { makeTinyModel, QUESTIONS, tempDir, writeQuestionsJsonl } from '../engine/fixtures.js';
import { greedy, makePlan } from '../engine/plan-helpers.js';
import { randomLora, writePeftAdapter } from './helpers.js';

const published = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'published-fields.json'), 'utf8')) as Record<string, { fields: string[] }>;
const known = (engine: string) => new Set(published[engine].fields);

const settings = {
    rank: 8,
    alpha: 16,
    targets: ['attn_q', 'attn_v', 'ffn_down'],
    dropout: 0.05,
    epochs: 3,
    learningRate: 2e-4,
    schedule: 'cosine' as const,
    warmup: 5,
    batchSize: 4,
    gradientAccumulation: 2,
    weightDecay: 0.01,
    optimizer: 'adamw' as const,
    seed: 7,
    validation: 0.2,
    earlyStopping: true,
};
const examples = [
    { prompt: 'What is the capital of Land1?', completion: ' City1' },
    { prompt: 'Who wrote "Odes"?', completion: " I don't know" },
    ...Array.from({ length: 8 }, (_, i) => ({ prompt: `Q${i}?`, completion: ` A${i}` })),
];
const spec = (engine: 'trl' | 'axolotl'): JobSpec => ({
    engine,
    step: 'smallOnLarge',
    key: 'ab'.repeat(32),
    hfModel: 'meta-llama/Llama-2-7b-hf',
    examples,
    settings,
    tokens: { bos: '<s>', eos: '</s>' },
});

describe('exported jobs', () => {
    it('TRL: prompt/completion JSONL, SFTConfig + LoraConfig kwargs with our settings one to one, all of them published fields', () => {
        const dir = join(tempDir('mm-job-'), 'job');
        const m = writeJob(dir, spec('trl'));
        expect(Object.keys(m.files).sort()).toEqual(['README.md', 'data.jsonl', 'run.sh', 'train.py', 'trl_config.json']);
        expect(existsSync(join(dir, 'output'))).toBe(true);
        // TRL's documented standard prompt-completion format: {"prompt": ..., "completion": ...}
        const rows = readFileSync(join(dir, 'data.jsonl'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l));
        expect(rows).toEqual(examples);
        const cfg = JSON.parse(readFileSync(join(dir, 'trl_config.json'), 'utf8'));
        const trlFields = new Set([...known('trl'), ...known('transformers')]);
        expect(Object.keys(cfg.sft).filter((k) => !trlFields.has(k))).toEqual([]);
        expect(Object.keys(cfg.lora).filter((k) => !known('peft').has(k))).toEqual([]);
        expect(cfg.sft).toMatchObject({
            num_train_epochs: 3,
            per_device_train_batch_size: 4,
            gradient_accumulation_steps: 2,
            learning_rate: 2e-4,
            warmup_steps: 5,
            lr_scheduler_type: 'cosine_with_min_lr',
            lr_scheduler_kwargs: { min_lr_rate: 0.1 },
            optim: 'adamw_torch',
            weight_decay: 0.01,
            seed: 7,
            completion_only_loss: true,
            packing: false,
            max_grad_norm: 0,
            eval_strategy: 'epoch',
            load_best_model_at_end: true,
            metric_for_best_model: 'eval_loss',
        });
        expect(cfg.lora).toEqual({ r: 8, lora_alpha: 16, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj', 'down_proj'], bias: 'none', task_type: 'CAUSAL_LM' });
        expect(cfg).toMatchObject({ validation: 0.2, earlyStoppingPatience: 2, dataSeed: 7 });
        const py = readFileSync(join(dir, 'train.py'), 'utf8');
        for (const s of [
            'sft.update(use_cpu=True, bf16=False)',
            'SFTTrainer(',
            'SFTConfig(**sft)',
            'LoraConfig(**cfg["lora"])',
            'EarlyStoppingCallback',
            'trainer.save_model(out)',
            'model=job["hfModel"]',
        ])
            expect(py).toContain(s);
        expect(readFileSync(join(dir, 'run.sh'), 'utf8')).toContain('accelerate launch train.py');
        expect(m).toMatchObject({ engine: 'trl', hfModel: 'meta-llama/Llama-2-7b-hf', output: 'output', examples: 10 });
    });

    it('Axolotl: input_output segments (BOS/EOS as text, prompt unlabelled) and a YAML config of published fields', () => {
        const dir = join(tempDir('mm-job-'), 'job');
        writeJob(dir, spec('axolotl'));
        const rows = readFileSync(join(dir, 'data.jsonl'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l));
        expect(rows[1]).toEqual({
            segments: [
                { label: false, text: '<s>Who wrote "Odes"?' },
                { label: true, text: " I don't know</s>" },
            ],
        });
        const cfg = yaml.load(readFileSync(join(dir, 'config.yml'), 'utf8')) as Record<string, unknown>;
        const fields = known('axolotl');
        expect(Object.keys(cfg).filter((k) => !fields.has(k))).toEqual([]);
        expect((cfg.datasets as Record<string, unknown>[]).flatMap((d) => Object.keys(d)).filter((k) => !fields.has(k))).toEqual([]);
        // 10 examples, 2 held out: 8 / micro-batch 4 = 2 micro-batches, / accumulation 2 = 1 step per epoch
        expect(stepsPerEpoch(10, settings)).toBe(1);
        expect(cfg).toEqual({
            base_model: 'meta-llama/Llama-2-7b-hf',
            datasets: [{ path: 'data.jsonl', ds_type: 'json', type: 'input_output' }],
            train_on_inputs: false,
            val_set_size: 0.2,
            seed: 7,
            sequence_len: 1024,
            sample_packing: false,
            adapter: 'lora',
            lora_r: 8,
            lora_alpha: 16,
            lora_dropout: 0.05,
            lora_target_modules: ['q_proj', 'v_proj', 'down_proj'],
            num_epochs: 3,
            micro_batch_size: 4,
            gradient_accumulation_steps: 2,
            learning_rate: 2e-4,
            lr_scheduler: 'cosine',
            cosine_min_lr_ratio: 0.1,
            warmup_steps: 5,
            optimizer: 'adamw_torch',
            weight_decay: 0.01,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            max_grad_norm: 0,
            early_stopping_patience: 2,
            eval_steps: 1,
            save_steps: 1,
            load_best_model_at_end: true,
            output_dir: './output',
            save_safetensors: true,
        });
        expect(readFileSync(join(dir, 'run.sh'), 'utf8')).toContain('axolotl train config.yml');
        expect(() => axolotlConfig({ ...spec('axolotl'), settings: { ...settings, alpha: 12.5 } })).toThrow(/lora_alpha is a whole number/);
    });

    it("chat models: conversational rows, the tokenizer's chat template, the assistant turn trained", () => {
        const chatSpec = (engine: 'trl' | 'axolotl'): JobSpec => ({ ...spec(engine), chat: true, examples: [{ prompt: 'Who wrote "Odes"?', completion: "I don't know" }] });
        const t = join(tempDir('mm-job-'), 'trl');
        writeJob(t, chatSpec('trl'));
        // TRL's conversational prompt-completion format
        expect(JSON.parse(readFileSync(join(t, 'data.jsonl'), 'utf8'))).toEqual({
            prompt: [{ role: 'user', content: 'Who wrote "Odes"?' }],
            completion: [{ role: 'assistant', content: "I don't know" }],
        });
        const x = join(tempDir('mm-job-'), 'axo');
        writeJob(x, chatSpec('axolotl'));
        // Axolotl's chat_template format (docs/dataset-formats/conversation.qmd): OpenAI messages
        expect(JSON.parse(readFileSync(join(x, 'data.jsonl'), 'utf8'))).toEqual({
            messages: [
                { role: 'user', content: 'Who wrote "Odes"?' },
                { role: 'assistant', content: "I don't know" },
            ],
        });
        const cfg = yaml.load(readFileSync(join(x, 'config.yml'), 'utf8')) as { datasets: Record<string, unknown>[] };
        expect(cfg.datasets).toEqual([{ path: 'data.jsonl', ds_type: 'json', type: 'chat_template', field_messages: 'messages', roles_to_train: ['assistant'], train_on_eos: 'turn' }]);
        expect(Object.keys(cfg.datasets[0]).filter((k) => !known('axolotl').has(k))).toEqual([]);
    });

    it('the loss curve of a trainer that leaves only Hugging Face checkpoints (Axolotl): the newest trainer_state.json, per epoch', () => {
        const out = join(tempDir('mm-job-'), 'output');
        // transformers' TrainerState.log_history: logging entries with loss, evaluation entries with eval_loss
        const state = (log: object[]) => JSON.stringify({ epoch: 2, global_step: 6, log_history: log });
        mkdirSync(join(out, 'checkpoint-3'), { recursive: true });
        mkdirSync(join(out, 'checkpoint-6'), { recursive: true });
        writeFileSync(join(out, 'checkpoint-3', 'trainer_state.json'), state([{ epoch: 0.67, step: 2, loss: 9 }]));
        writeFileSync(
            join(out, 'checkpoint-6', 'trainer_state.json'),
            state([
                { epoch: 0.33, step: 1, loss: 3.0, learning_rate: 1e-4 },
                { epoch: 1.0, step: 3, loss: 2.0, learning_rate: 1e-4 },
                { epoch: 1.0, step: 3, eval_loss: 2.4 },
                { epoch: 1.67, step: 5, loss: 1.5 },
                { epoch: 2.0, step: 6, loss: 1.1 },
                { epoch: 2.0, step: 6, eval_loss: 2.2 },
            ]),
        );
        expect(trainerStateCurve([out, join(out, 'nothing-here')])).toEqual([
            { epoch: 1, step: 3, train: 2.0, validation: 2.4 },
            { epoch: 2, step: 6, train: 1.1, validation: 2.2 },
        ]);
        expect(trainerStateCurve([join(out, 'nothing-here')])).toEqual([]);
    });

    it('a job folder edited by hand is refused, naming the file', () => {
        const dir = join(tempDir('mm-job-'), 'job');
        const m = writeJob(dir, spec('trl'));
        expect(verifyJob(dir, m.key).key).toBe(m.key);
        writeFileSync(join(dir, 'trl_config.json'), readFileSync(join(dir, 'trl_config.json'), 'utf8').replace('"num_train_epochs": 3', '"num_train_epochs": 30'));
        expect(() => verifyJob(dir, m.key)).toThrow(/job\/trl_config\.json: edited by hand since the job was exported/);
        expect(() => verifyJob(dir, 'cd'.repeat(32))).toThrow(/job\/job\.json: the job is for another version of the step/);
    });
});

describe('a run with a finetune step on an external trainer', () => {
    const dir = tempDir('mm-ext-');
    const data = writeQuestionsJsonl(dir);
    const a = makeTinyModel(dir, 1, 'a');
    const config = readLlamaGgufInfo(a).config;
    const ft = (hfModel = 'tiny/base'): Omit<FinetuneStep, 'key' | 'range' | 'nameRange' | 'files' | 'stochastic'> => ({
        id: 'ft',
        kind: 'finetune',
        inputs: ['a', 'byA'],
        params: {
            model: 'a',
            labels: 'byA',
            mode: 'lora',
            lora: { rank: 4, alpha: 8, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] },
            epochs: 2,
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
            external: { engine: 'trl', hfModel, dropout: 0 },
        },
    });
    const plan = (hfModel?: string) =>
        makePlan(join(dir, 'exp.mismatch'), [
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
            ft(hfModel),
            {
                id: 'ev',
                kind: 'evaluate',
                inputs: ['a', 'ft', 'qa'],
                params: { arms: [{ model: 'a' }, { model: 'ft' }], dataset: 'qa', split: 'test', decoding: greedy, abstain: ["I don't know"], match: 'exact' },
            },
        ] as never);
    process.env.MISMATCH_JOB_POLL_MS = '50';

    /** Runs the plan; when the step says it waits, `onWait(jobDir)` plays the trainer. */
    async function run(store: string, onWait: (jobDir: string) => void, p = plan()) {
        const events: EngineEvent[] = [];
        let fired = false;
        const s = await runExperiment(p, {
            storeDir: store,
            threads: 1,
            gpu: 'off',
            onEvent: (e) => {
                events.push(e);
                if (!fired && e.type === 'step-progress' && e.step === 'ft' && e.message?.startsWith('waiting for the TRL job')) {
                    fired = true;
                    const m = /run (.*)\/run\.sh/.exec(e.message)!;
                    onWait(m[1]);
                }
            },
        });
        return { s, events };
    }

    it('exports the job, waits, converts the adapter dropped in output/ and evaluates the fine-tuned arm', async () => {
        const store = join(dir, 'store');
        const mods = randomLora(config, 4, 9, undefined, 1.0);
        let jobDir = '';
        const { s, events } = await run(store, (j) => {
            jobDir = j;
            // the job as exported: the labels of byA as prompt/completion pairs
            const rows = readFileSync(join(j, 'data.jsonl'), 'utf8')
                .trim()
                .split('\n')
                .map((l) => JSON.parse(l));
            expect(rows.length).toBe(12);
            for (const r of rows) expect(QUESTIONS.map((q) => q.question)).toContain(r.prompt);
            expect(rows.every((r) => r.completion.startsWith(' '))).toBe(true);
            writePeftAdapter(join(j, 'output'), mods, { r: 4, alpha: 8, baseModel: 'tiny/base' });
            writeFileSync(join(j, 'output', 'loss.csv'), 'epoch,step,train_loss,validation_loss\n1,3,2.5,\n2,6,1.25,\n');
            writeFileSync(join(j, 'output', 'train_metrics.json'), JSON.stringify({ train_runtime: 12.5, train_samples_per_second: 1.9, train_loss: 1.8 }));
        });
        expect(
            s.status,
            JSON.stringify(
                s.steps.filter((x) => x.error),
                null,
                1,
            ),
        ).toBe('done');
        const waiting = events.find((e) => e.type === 'step-progress' && e.step === 'ft' && e.message?.includes('waiting'));
        expect(waiting).toBeDefined();
        expect((waiting as { message: string }).message).toContain(join(jobDir, 'output'));
        const ftRes = s.steps.find((x) => x.step === 'ft')!;
        expect(ftRes.metrics).toMatchObject({ trainer: 'trl', lossStart: 2.5, lossEnd: 1.25, trainSeconds: 12.5, timedBy: 'trainer', adapterModules: 7, adapterRank: 4, adapterAlpha: 8 });
        // an external trainer measures no per-epoch fit: the record is absent, never made up
        expect(ftRes.metrics).not.toHaveProperty('fitByEpoch');
        const entry = readdirEntry(store, 'ft', s);
        const g = readGguf(join(entry, 'adapter.gguf'));
        expect(g.metadata.get('adapter.type')).toBe('lora');
        const ev = s.steps.find((x) => x.step === 'ev')!.metrics as EvaluateMetrics;
        expect(ev.arms.map((x) => x.arm)).toEqual(['a', 'ft']);
        expect(ev.arms.map((x) => x.total)).toEqual([12, 12]);
        const answers = readFileSync(join(readdirEntry(store, 'ev', s), 'answers.jsonl'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { arm: string; id: string; prediction: string });
        const base = new Map(answers.filter((r) => r.arm === 'a').map((r) => [r.id, r.prediction]));
        // the adapter changed the model's answers: it was applied
        expect(answers.filter((r) => r.arm === 'ft').some((r) => r.prediction !== base.get(r.id))).toBe(true);

        // the same spec again: everything from the store, the job untouched
        const again = await runExperiment(plan(), { storeDir: store, threads: 1, gpu: 'off' });
        expect(again.steps.every((x) => x.cached)).toBe(true);
        // a changed setting is a new job (another key, another folder), the first job stays as it was
        const changed = plan();
        (changed.steps.find((x) => x.id === 'ft') as FinetuneStep).params.epochs = 5;
        const ac = new AbortController();
        let second = '';
        const p2 = makePlan(join(dir, 'exp.mismatch'), changed.steps as never);
        const r = await runExperiment(p2, {
            storeDir: store,
            threads: 1,
            gpu: 'off',
            signal: ac.signal,
            onEvent: (e) => {
                if (e.type === 'step-progress' && e.step === 'ft' && e.message?.startsWith('waiting')) {
                    second = /run (.*)\/run\.sh/.exec(e.message)![1];
                    ac.abort();
                }
            },
        });
        expect(r.status).not.toBe('done');
        expect(second).not.toBe(jobDir);
        expect(JSON.parse(readFileSync(join(second, 'trl_config.json'), 'utf8')).sft.num_train_epochs).toBe(5);
        expect(JSON.parse(readFileSync(join(jobDir, 'trl_config.json'), 'utf8')).sft.num_train_epochs).toBe(2);
    }, 300_000);

    it('bad input while waiting: an adapter for another base, a hand-edited job: the step and the file are named', async () => {
        const otherConfig = { ...config, nEmbd: 48, nHead: 4, nHeadKv: 4 };
        const r1 = await run(join(dir, 'store-bad-1'), (j) => writePeftAdapter(join(j, 'output'), randomLora(otherConfig, 4, 1, ['q_proj']), { r: 4, alpha: 8, baseModel: 'tiny/base' }));
        expect(r1.s.status).not.toBe('done');
        expect(r1.s.steps.find((x) => x.step === 'ft')!.error!.message).toMatch(
            /^finetune ft: .*\/output\/adapter_model\.safetensors: model\.layers\.0\.self_attn\.q_proj is 48 -> 48 .*: the adapter was trained on another model/,
        );

        const r2 = await run(join(dir, 'store-bad-2'), (j) => {
            writeFileSync(join(j, 'data.jsonl'), readFileSync(join(j, 'data.jsonl'), 'utf8').replace(/"completion":" [^"]*"/, '"completion":" edited"'));
            writePeftAdapter(join(j, 'output'), randomLora(config, 4, 1, ['q_proj']), { r: 4, alpha: 8, baseModel: 'tiny/base' });
        });
        expect(r2.s.steps.find((x) => x.step === 'ft')!.error!.message).toMatch(/^finetune ft: .*\/jobs\/ft-[0-9a-f]{16}\/data\.jsonl: edited by hand since the job was exported/);

        const r3 = await run(join(dir, 'store-bad-3'), (j) => writePeftAdapter(join(j, 'output'), randomLora(config, 4, 1, ['q_proj']), { r: 4, alpha: 8, baseModel: 'someone/else' }));
        expect(r3.s.steps.find((x) => x.step === 'ft')!.error!.message).toMatch(/^finetune ft: .*\/output\/adapter_config\.json: the adapter was trained on "someone\/else", not on "tiny\/base"/);
    }, 300_000);
});

function readdirEntry(store: string, step: string, s: { steps: { step: string; key: string }[] }): string {
    return join(store, 'steps', s.steps.find((x) => x.step === step)!.key);
}
