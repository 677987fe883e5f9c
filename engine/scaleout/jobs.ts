// Fine-tuning jobs for existing trainers (Hugging Face TRL, Axolotl): a self-contained folder with
// the labels in the format the trainer reads, its config with the spec's settings mapped one to one,
// the base model by Hugging Face id or path, and the command to run. The trainer writes its PEFT
// adapter to the job's `output/` folder; the finetune step waits for it there (engine/scaleout/step.ts).
//
// Masking is ours exactly (engine/models/prompt.ts): a plain-completion sequence is [BOS] + prompt +
// ' ' + answer + [EOS], a chat one the model's chat template with the answer as the model's turn; the
// loss is on the answer and the end token only. TRL: a prompt/completion dataset (conversational for
// chat) with `completion_only_loss` (the tokenizer adds the BOS, SFTTrainer appends the EOS to the
// completion). Axolotl: the template-free `input_output` format, whose segments are concatenated as
// written (docs/dataset-formats/template_free.qmd), so the BOS and EOS texts are written into them,
// with `label: false` on the prompt and `train_on_inputs: false`; for chat its `chat_template` type
// with the tokenizer's template, training the assistant turn only.
//
// Every file written is listed in job.json with its sha256: a job folder edited by hand is refused
// (naming the file) rather than silently trained from a different job than the spec's.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TARGET_TO_HF } from './peft.js';

export const JOB_FORMAT = 'mismatch-lab training job 1';
export const JOB_MANIFEST = 'job.json';
/** Where the trainer saves the final adapter (relative to the job folder). */
export const JOB_OUTPUT = 'output';

export interface JobSettings {
    rank: number;
    alpha: number;
    targets: string[];
    dropout: number;
    epochs: number;
    learningRate: number;
    schedule: 'constant' | 'linear' | 'cosine';
    warmup: number;
    batchSize: number;
    gradientAccumulation: number;
    weightDecay: number;
    optimizer: 'adamw' | 'sgd';
    seed: number;
    /** Share held out for validation (0 = none). */
    validation: number;
    earlyStopping: boolean;
}

export interface JobSpec {
    engine: 'trl' | 'axolotl';
    /** The step's id and store key (the key names the folder: a changed setting is a new job). */
    step: string;
    key: string;
    hfModel: string;
    /** Plain completion: the prompt text and ' ' + answer. Chat (`chat`): the question and the answer. */
    examples: { prompt: string; completion: string }[];
    /** The model step's template is `chat`: the trainers apply the model's chat template. */
    chat?: boolean;
    settings: JobSettings;
    /** Special-token texts of the base's vocabulary (Axolotl's segments carry them). */
    tokens: { bos?: string; eos: string };
}

export interface JobManifest {
    format: string;
    engine: 'trl' | 'axolotl';
    step: string;
    key: string;
    hfModel: string;
    command: string;
    output: string;
    settings: JobSettings;
    examples: number;
    /** ISO time the job was exported. */
    exportedAt: string;
    /** file name -> sha256 of its content, as exported */
    files: Record<string, string>;
}

/** Our cosine schedule decays to this share of the peak (engine/train/trainer.ts, minLrRatio default). */
const COSINE_MIN_LR_RATIO = 0.1;
/** Epochs without improvement before the embedded trainer stops (engine/steps: earlyStopping patience). */
const EARLY_STOPPING_PATIENCE = 2;
/** Longest sequence, in tokens (questions and short answers fit with room to spare). */
const SEQUENCE_LENGTH = 1024;

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

function hfTargets(targets: string[]): string[] {
    return targets.map((t) => {
        const hf = TARGET_TO_HF[t];
        if (!hf) throw new Error(`LoRA target ${t} has no Hugging Face module name (known: ${Object.keys(TARGET_TO_HF).join(', ')})`);
        return hf;
    });
}

function hfScheduler(s: JobSettings): { type: string; kwargs?: Record<string, number> } {
    if (s.schedule === 'cosine') return { type: 'cosine_with_min_lr', kwargs: { min_lr_rate: COSINE_MIN_LR_RATIO } };
    if (s.schedule === 'linear') return { type: 'linear' };
    return { type: s.warmup > 0 ? 'constant_with_warmup' : 'constant' };
}

function optimizerName(s: JobSettings): string {
    return s.optimizer === 'sgd' ? 'sgd' : 'adamw_torch';
}

/** Optimizer steps per epoch on one device (the trainers' own count with drop_last false). */
export function stepsPerEpoch(examples: number, s: JobSettings): number {
    const train = examples - Math.round(examples * s.validation);
    return Math.max(1, Math.ceil(Math.ceil(train / s.batchSize) / s.gradientAccumulation));
}

/** The kwargs of TRL's SFTConfig (transformers TrainingArguments + SFT fields) and of PEFT's LoraConfig. */
export function trlConfig(spec: JobSpec): { sft: Record<string, unknown>; lora: Record<string, unknown>; validation: number; earlyStoppingPatience: number | null; dataSeed: number } {
    const s = spec.settings;
    const sched = hfScheduler(s);
    const evals = s.validation > 0;
    return {
        sft: {
            output_dir: 'checkpoints',
            num_train_epochs: s.epochs,
            per_device_train_batch_size: s.batchSize,
            per_device_eval_batch_size: s.batchSize,
            gradient_accumulation_steps: s.gradientAccumulation,
            learning_rate: s.learningRate,
            lr_scheduler_type: sched.type,
            ...(sched.kwargs ? { lr_scheduler_kwargs: sched.kwargs } : {}),
            warmup_steps: s.warmup,
            optim: optimizerName(s),
            weight_decay: s.weightDecay,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            // the embedded trainer does not clip gradients
            max_grad_norm: 0,
            seed: s.seed,
            completion_only_loss: true,
            packing: false,
            max_length: SEQUENCE_LENGTH,
            logging_strategy: 'epoch',
            eval_strategy: evals ? 'epoch' : 'no',
            save_strategy: 'epoch',
            save_total_limit: 2,
            ...(evals && s.earlyStopping ? { load_best_model_at_end: true, metric_for_best_model: 'eval_loss', greater_is_better: false } : {}),
            report_to: 'none',
        },
        lora: {
            r: s.rank,
            lora_alpha: s.alpha,
            lora_dropout: s.dropout,
            target_modules: hfTargets(s.targets),
            bias: 'none',
            task_type: 'CAUSAL_LM',
        },
        validation: s.validation,
        earlyStoppingPatience: evals && s.earlyStopping ? EARLY_STOPPING_PATIENCE : null,
        dataSeed: s.seed,
    };
}

/** Axolotl's config (field names of axolotl/utils/schemas). */
export function axolotlConfig(spec: JobSpec): Record<string, unknown> {
    const s = spec.settings;
    if (!Number.isInteger(s.alpha)) throw new Error(`Axolotl's lora_alpha is a whole number; alpha ${s.alpha} cannot be exported`);
    const sched = hfScheduler(s);
    const evals = s.validation > 0;
    const perEpoch = stepsPerEpoch(spec.examples.length, s);
    return {
        base_model: spec.hfModel,
        datasets: [
            spec.chat
                ? { path: 'data.jsonl', ds_type: 'json', type: 'chat_template', field_messages: 'messages', roles_to_train: ['assistant'], train_on_eos: 'turn' }
                : { path: 'data.jsonl', ds_type: 'json', type: 'input_output' },
        ],
        train_on_inputs: false,
        val_set_size: s.validation,
        seed: s.seed,
        sequence_len: SEQUENCE_LENGTH,
        sample_packing: false,
        adapter: 'lora',
        lora_r: s.rank,
        lora_alpha: s.alpha,
        lora_dropout: s.dropout,
        lora_target_modules: hfTargets(s.targets),
        num_epochs: s.epochs,
        micro_batch_size: s.batchSize,
        gradient_accumulation_steps: s.gradientAccumulation,
        learning_rate: s.learningRate,
        lr_scheduler: sched.type === 'cosine_with_min_lr' ? 'cosine' : sched.type,
        ...(s.schedule === 'cosine' ? { cosine_min_lr_ratio: COSINE_MIN_LR_RATIO } : {}),
        warmup_steps: s.warmup,
        optimizer: optimizerName(s),
        weight_decay: s.weightDecay,
        adam_beta1: 0.9,
        adam_beta2: 0.999,
        adam_epsilon: 1e-8,
        max_grad_norm: 0,
        ...(evals && s.earlyStopping ? { early_stopping_patience: EARLY_STOPPING_PATIENCE, eval_steps: perEpoch, save_steps: perEpoch, load_best_model_at_end: true } : {}),
        output_dir: `./${JOB_OUTPUT}`,
        save_safetensors: true,
    };
}

/** YAML for a JSON-like value: block mappings and sequences, scalars as JSON (valid YAML 1.1 and 1.2). */
export function toYaml(value: unknown, indent = ''): string {
    if (Array.isArray(value)) {
        if (value.length === 0) return '[]';
        return value
            .map((v) => {
                const inner = toYaml(v, `${indent}  `);
                return v && typeof v === 'object' && !Array.isArray(v) ? `${indent}- ${inner.trimStart()}` : `${indent}- ${inner}`;
            })
            .join('\n');
    }
    if (value && typeof value === 'object') {
        return Object.entries(value as Record<string, unknown>)
            .map(([k, v]) => {
                if (v && typeof v === 'object' && (!Array.isArray(v) || v.length)) return `${indent}${k}:\n${toYaml(v, `${indent}  `)}`;
                return `${indent}${k}: ${toYaml(v, indent)}`;
            })
            .join('\n');
    }
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`cannot write ${value} to YAML`);
    return JSON.stringify(value ?? null);
}

const TRAIN_PY = `# Fine-tuning job exported by Mismatch Lab for Hugging Face TRL (SFTTrainer + PEFT LoRA).
# Run with ./run.sh (accelerate launch: one GPU or many; DeepSpeed/FSDP through \`accelerate config\`).
# Settings are in trl_config.json; do not edit them here or there: the run checks every file against
# job.json. The adapter is saved to output/ (adapter_config.json + adapter_model.safetensors).
import csv, json, os
from datasets import load_dataset
from peft import LoraConfig
from transformers import EarlyStoppingCallback
from trl import SFTConfig, SFTTrainer

here = os.path.dirname(os.path.abspath(__file__))
job = json.load(open(os.path.join(here, "job.json")))
cfg = json.load(open(os.path.join(here, "trl_config.json")))
sft = dict(cfg["sft"])
sft["output_dir"] = os.path.join(here, sft["output_dir"])
# The spec's batch is the global micro-batch: split it over the processes accelerate starts.
world = int(os.environ.get("WORLD_SIZE", "1"))
if sft["per_device_train_batch_size"] % world:
    raise SystemExit(f"batch {sft['per_device_train_batch_size']} does not split over {world} processes")
sft["per_device_train_batch_size"] //= world
sft["per_device_eval_batch_size"] = max(1, sft["per_device_eval_batch_size"] // world)
import torch
if not torch.cuda.is_available() and not sft.get("use_cpu"):
    # SFTConfig defaults to bf16 mixed precision, which transformers refuses without a GPU
    sft.update(use_cpu=True, bf16=False)

data = load_dataset("json", data_files=os.path.join(here, "data.jsonl"), split="train")
train, valid = data, None
if cfg["validation"] > 0:
    parts = data.train_test_split(test_size=cfg["validation"], seed=cfg["dataSeed"])
    train, valid = parts["train"], parts["test"]

callbacks = [EarlyStoppingCallback(early_stopping_patience=cfg["earlyStoppingPatience"])] if cfg["earlyStoppingPatience"] else []
trainer = SFTTrainer(
    model=job["hfModel"],
    args=SFTConfig(**sft),
    train_dataset=train,
    eval_dataset=valid,
    peft_config=LoraConfig(**cfg["lora"]),
    callbacks=callbacks,
)
result = trainer.train()
if trainer.is_world_process_zero():
    out = os.path.join(here, "output")
    os.makedirs(out, exist_ok=True)
    # the loss curve for the spec's line: epoch,step,train_loss,validation_loss
    rows = {}
    for e in trainer.state.log_history:
        ep = round(e.get("epoch", 0))
        r = rows.setdefault(ep, {"epoch": ep, "step": e.get("step", 0), "train_loss": "", "validation_loss": ""})
        if "loss" in e: r["train_loss"], r["step"] = e["loss"], e.get("step", 0)
        if "eval_loss" in e: r["validation_loss"] = e["eval_loss"]
    with open(os.path.join(out, "loss.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["epoch", "step", "train_loss", "validation_loss"])
        w.writeheader()
        for ep in sorted(rows):
            if rows[ep]["train_loss"] != "": w.writerow(rows[ep])
    with open(os.path.join(out, "train_metrics.json"), "w") as f:
        json.dump(result.metrics, f)  # train_runtime (s), samples per second, final train loss
    # adapter_model.safetensors last: the run waits for it, and reads it once it is whole
    trainer.save_model(out)
`;

function runScript(engine: 'trl' | 'axolotl'): string {
    const cmd = engine === 'trl' ? 'accelerate launch train.py "$@"' : 'axolotl train config.yml "$@"';
    return `#!/bin/sh\n# Runs this job; copy the folder to the training machine if needed, and the output/ folder back.\nset -e\ncd "$(dirname "$0")"\nexec ${cmd}\n`;
}

function readme(spec: JobSpec, command: string): string {
    const s = spec.settings;
    return [
        `# Fine-tuning job: ${spec.step} (${spec.engine === 'trl' ? 'Hugging Face TRL' : 'Axolotl'})`,
        '',
        `Exported by Mismatch Lab for the finetune step \`${spec.step}\` (store key ${spec.key.slice(0, 12)}…).`,
        `Base model: \`${spec.hfModel}\`. ${spec.examples.length} examples; LoRA rank ${s.rank}, alpha ${s.alpha}, targets ${s.targets.join(', ')}.`,
        '',
        `Run it here or on the training machine (${spec.engine === 'trl' ? '`pip install trl peft datasets accelerate`' : '`pip install axolotl`'}):`,
        '',
        '    ' + command,
        '',
        `The trainer saves the adapter to \`${JOB_OUTPUT}/\` (adapter_config.json + adapter_model.safetensors). If it ran`,
        `elsewhere, copy that folder back here; the waiting run (or the next \`mismatch run\`) converts it to a GGUF`,
        'LoRA adapter for the base GGUF and goes on. Do not edit the other files: the run checks them against job.json',
        '(a changed setting belongs in the spec, which exports a new job).',
        '',
    ].join('\n');
}

/** Writes the job folder (a temp folder renamed into place). Returns its manifest. */
export function writeJob(dir: string, spec: JobSpec): JobManifest {
    if (spec.examples.length === 0) throw new Error('no labels to train on');
    const files: Record<string, string> = {};
    if (spec.engine === 'trl') {
        // TRL's standard or conversational prompt-completion rows
        files['data.jsonl'] =
            spec.examples
                .map((e) =>
                    JSON.stringify(
                        spec.chat ? { prompt: [{ role: 'user', content: e.prompt }], completion: [{ role: 'assistant', content: e.completion }] } : { prompt: e.prompt, completion: e.completion },
                    ),
                )
                .join('\n') + '\n';
        files['trl_config.json'] = JSON.stringify(trlConfig(spec), null, 2) + '\n';
        files['train.py'] = TRAIN_PY;
    } else {
        const bos = spec.tokens.bos ?? '';
        files['data.jsonl'] =
            spec.examples
                .map((e) =>
                    JSON.stringify(
                        spec.chat
                            ? {
                                  messages: [
                                      { role: 'user', content: e.prompt },
                                      { role: 'assistant', content: e.completion },
                                  ],
                              }
                            : {
                                  segments: [
                                      { label: false, text: bos + e.prompt },
                                      { label: true, text: e.completion + spec.tokens.eos },
                                  ],
                              },
                    ),
                )
                .join('\n') + '\n';
        files['config.yml'] = `# Axolotl config exported by Mismatch Lab for the finetune step ${spec.step}; see README.md.\n${toYaml(axolotlConfig(spec))}\n`;
    }
    const command = './run.sh';
    files['run.sh'] = runScript(spec.engine);
    files['README.md'] = readme(spec, command);
    const manifest: JobManifest = {
        format: JOB_FORMAT,
        engine: spec.engine,
        step: spec.step,
        key: spec.key,
        hfModel: spec.hfModel,
        command: spec.engine === 'trl' ? 'accelerate launch train.py' : 'axolotl train config.yml',
        output: JOB_OUTPUT,
        settings: spec.settings,
        examples: spec.examples.length,
        exportedAt: new Date().toISOString(),
        files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, sha256(v)])),
    };
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, JOB_OUTPUT), { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(tmp, name), text, name === 'run.sh' ? { mode: 0o755 } : {});
    writeFileSync(join(tmp, JOB_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    renameSync(tmp, dir);
    return manifest;
}

/**
 * Reads and checks a job folder: its manifest must be the job the spec asks for (same key), and
 * every file it lists must be there with the content exported. Errors name the file.
 */
export function verifyJob(dir: string, key: string): JobManifest {
    const mPath = join(dir, JOB_MANIFEST);
    let m: JobManifest;
    try {
        m = JSON.parse(readFileSync(mPath, 'utf8')) as JobManifest;
    } catch (e) {
        throw new Error(`${mPath}: unreadable job manifest (${(e as Error).message}); delete the job folder ${dir} to export the job again`);
    }
    if (m.format !== JOB_FORMAT || !m.files || typeof m.files !== 'object') throw new Error(`${mPath}: not a Mismatch Lab job manifest (format ${JSON.stringify(m.format)})`);
    if (m.key !== key) throw new Error(`${mPath}: the job is for another version of the step (key ${String(m.key).slice(0, 12)}…, the spec's is ${key.slice(0, 12)}…): job.json was edited by hand`);
    for (const [name, hash] of Object.entries(m.files)) {
        const p = join(dir, name);
        if (!existsSync(p)) throw new Error(`${p}: missing from the job folder (job.json lists it); delete the job folder ${dir} to export the job again`);
        if (sha256(readFileSync(p)) !== hash) {
            throw new Error(
                `${p}: edited by hand since the job was exported; the spec is the source of the job's settings and data: revert the edit, or change the spec (a new job is exported), or delete the job folder ${dir} to export it again`,
            );
        }
    }
    return m;
}
