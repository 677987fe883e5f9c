// A finetune step handed to an existing trainer (`trainer trl|axolotl`): export the job folder (once
// per store key), wait until the trainer's PEFT adapter is in the job's output/ folder, convert it to
// a GGUF LoRA adapter for the base GGUF, and finish the step as the embedded trainer would (adapter.gguf
// + model.json), so evaluation and everything downstream run unchanged, on any machine.
//
// The job lives in `<store>/jobs/<step>-<key>/`: the store key covers the job (settings, labels, base),
// so a changed setting exports a new job, and a run that is stopped and started again finds the same
// job (checked against its manifest) and waits for it again.
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { FinetuneStep } from '../../language/plan-types.js';
import { ANSWER_SEPARATOR } from '../models/prompt.js';
import { buildPrompt } from '../models/types.js';
import type { FinetuneMetrics } from '../results-types.js';
import { readJsonlFile } from '../store/index.js';
import type { ExecContext, StepOutcome } from '../steps/context.js';
import { throwIfAborted } from '../steps/context.js';
import { readModelRef, writeModelRef, type ModelRef } from '../steps/model-pool.js';
import { readGguf } from '../train/gguf.js';
import { JOB_OUTPUT, verifyJob, writeJob, type JobSpec } from './jobs.js';
import { convertPeftAdapter, PEFT_CONFIG, PEFT_WEIGHTS } from './peft.js';
import { readSafetensorsHeader } from './safetensors.js';

/** How often the output folder is looked at while waiting (the trainer runs for minutes to days). */
const pollMs = () => Number(process.env.MISMATCH_JOB_POLL_MS) || 2000;

/** The job folder of a finetune step: `<store>/jobs/<step>-<first 16 hex of the key>`. */
export function jobDirOf(ctx: Pick<ExecContext, 'checkpointDir' | 'step'>): string {
    // checkpointDir is <store>/checkpoints/<key> (engine/store): the store and the key from it
    const key = basename(ctx.checkpointDir);
    const store = dirname(dirname(ctx.checkpointDir));
    return join(store, 'jobs', `${ctx.step.id.replace(/[^\w.-]/g, '_')}-${key.slice(0, 16)}`);
}

/** BOS/EOS texts of a GGUF vocabulary (Axolotl's template-free segments carry them as text). */
function specialTokens(gguf: string): { bos?: string; eos: string } {
    const md = readGguf(gguf).metadata;
    const tokens = md.get('tokenizer.ggml.tokens') as string[] | undefined;
    const bosId = md.get('tokenizer.ggml.bos_token_id'),
        eosId = md.get('tokenizer.ggml.eos_token_id');
    if (!tokens || typeof eosId !== 'number') throw new Error(`${gguf}: no tokenizer.ggml.tokens / eos_token_id, so the job's data cannot name the end-of-sequence token`);
    const addBos = md.get('tokenizer.ggml.add_bos_token') !== false;
    return { ...(addBos && typeof bosId === 'number' ? { bos: tokens[bosId] } : {}), eos: tokens[eosId] };
}

/** Whether the trainer has finished writing the adapter; a reason to keep waiting otherwise. */
function adapterReady(out: string): { ready: true } | { ready: false; why: string } {
    if (!existsSync(join(out, PEFT_CONFIG))) return { ready: false, why: `no ${PEFT_CONFIG} yet` };
    if (!existsSync(join(out, PEFT_WEIGHTS))) return { ready: false, why: `no ${PEFT_WEIGHTS} yet` };
    try {
        JSON.parse(readFileSync(join(out, PEFT_CONFIG), 'utf8'));
        readSafetensorsHeader(join(out, PEFT_WEIGHTS));
    } catch (e) {
        return { ready: false, why: `not complete yet (${(e as Error).message})` };
    }
    return { ready: true };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
            clearTimeout(t);
            signal?.removeEventListener('abort', done);
            resolve();
        }
        signal?.addEventListener('abort', done, { once: true });
    });
}

function lossCurve(csv: string): FinetuneMetrics['curve'] {
    const [head, ...rows] = csv.trim().split('\n');
    const cols = (head ?? '').split(',');
    const at = (r: string[], name: string) => (cols.indexOf(name) >= 0 ? Number(r[cols.indexOf(name)]) : NaN);
    return rows
        .map((l) => l.split(','))
        .map((r) => {
            const v = at(r, 'validation_loss');
            return { epoch: at(r, 'epoch'), step: at(r, 'step'), train: at(r, 'train_loss'), ...(Number.isFinite(v) && r[cols.indexOf('validation_loss')] !== '' ? { validation: v } : {}) };
        })
        .filter((r) => Number.isFinite(r.train));
}

/**
 * The loss curve of a Hugging Face Trainer run from its trainer_state.json (`log_history`: `loss` and
 * `eval_loss` entries with `epoch` and `step`), per epoch: the newest checkpoint's state under the
 * output or checkpoint folders (Axolotl saves checkpoints into output/; TRL's train.py writes loss.csv).
 */
export function trainerStateCurve(dirs: string[]): FinetuneMetrics['curve'] {
    let best: { step: number; path: string } | undefined;
    for (const d of dirs) {
        if (!existsSync(d)) continue;
        const candidates = [
            join(d, 'trainer_state.json'),
            ...readdirSync(d)
                .filter((n) => /^checkpoint-\d+$/.test(n))
                .map((n) => join(d, n, 'trainer_state.json')),
        ];
        for (const path of candidates) {
            if (!existsSync(path)) continue;
            const step = Number(/checkpoint-(\d+)/.exec(path)?.[1] ?? Infinity);
            if (!best || step > best.step) best = { step, path };
        }
    }
    if (!best) return [];
    let log: { epoch?: number; step?: number; loss?: number; eval_loss?: number }[];
    try {
        log = (JSON.parse(readFileSync(best.path, 'utf8')) as { log_history?: typeof log }).log_history ?? [];
    } catch {
        return [];
    }
    const byEpoch = new Map<number, { epoch: number; step: number; train: number; validation?: number }>();
    for (const e of log) {
        if (typeof e.epoch !== 'number') continue;
        const ep = Math.max(1, Math.ceil(e.epoch - 1e-9));
        const row = byEpoch.get(ep) ?? { epoch: ep, step: 0, train: NaN };
        if (typeof e.loss === 'number') {
            row.train = e.loss;
            row.step = e.step ?? row.step;
        }
        if (typeof e.eval_loss === 'number') row.validation = e.eval_loss;
        byEpoch.set(ep, row);
    }
    return [...byEpoch.values()].filter((r) => Number.isFinite(r.train)).sort((a, b) => a.epoch - b.epoch);
}

export async function externalFinetune(ctx: ExecContext, s: FinetuneStep): Promise<StepOutcome> {
    const p = s.params;
    const ext = p.external!;
    const where = `finetune ${s.id}`;
    try {
        if (p.mode !== 'lora' || !p.lora) throw new Error(`trainer ${ext.engine} trains LoRA adapters only`);
        if (!ext.hfModel) throw new Error(`trainer ${ext.engine} needs \`hfModel\`: the base model as the trainer loads it`);
        const base = await readModelRef(ctx.input(p.model).dir);
        if (base.kind !== 'local') throw new Error(`${p.model} is a server model; the adapter is evaluated on a local GGUF of the base`);
        if (base.lora.length) throw new Error(`${p.model} is itself a LoRA fine-tune; fine-tune its base model instead`);
        const labels = await readJsonlFile<{ question: string; label: string }>(join(ctx.input(p.labels).dir, 'labels.jsonl'));
        // the prompts the embedded trainer trains on (engine/models/prompt.ts): the model's chat template,
        // or the completion text (trailing spaces dropped) followed by ' ' + answer
        const template = base.template ?? 'raw';
        const chat = template === 'chat';
        const dir = jobDirOf(ctx);
        const key = basename(ctx.checkpointDir);
        if (!existsSync(dir)) {
            const spec: JobSpec = {
                engine: ext.engine,
                step: s.id,
                key,
                hfModel: ext.hfModel,
                examples: labels.map((l) =>
                    chat ? { prompt: l.question, completion: l.label } : { prompt: buildPrompt(template, l.question).replace(/[ \t]+$/, ''), completion: ANSWER_SEPARATOR + l.label },
                ),
                ...(chat ? { chat } : {}),
                settings: {
                    rank: p.lora.rank,
                    alpha: p.lora.alpha,
                    targets: p.lora.targets,
                    dropout: ext.dropout,
                    epochs: p.epochs,
                    learningRate: p.learningRate,
                    schedule: p.schedule,
                    warmup: p.warmup,
                    batchSize: p.batchSize,
                    gradientAccumulation: p.gradientAccumulation,
                    weightDecay: p.weightDecay,
                    optimizer: p.optimizer,
                    seed: p.seed + ctx.seedOffset,
                    validation: p.validation,
                    earlyStopping: p.earlyStopping,
                },
                tokens: specialTokens(base.path),
            };
            writeJob(dir, spec);
        }
        const manifest = verifyJob(dir, key);
        const out = join(dir, JOB_OUTPUT);
        let said = '';
        for (;;) {
            throwIfAborted(ctx.signal);
            const r = adapterReady(out);
            if (r.ready) break;
            const msg = `waiting for the ${ext.engine === 'trl' ? 'TRL' : 'Axolotl'} job: run ${join(dir, 'run.sh')} (${manifest.command}); the adapter goes to ${out} (${r.why})`;
            if (msg !== said) {
                ctx.progress(0, 1, 'job', msg);
                said = msg;
            }
            await sleep(pollMs(), ctx.signal);
        }
        // the job may have been edited while it waited: check again before trusting what it made
        verifyJob(dir, key);
        const adapter = 'adapter.gguf';
        const conv = convertPeftAdapter({ adapterDir: out, baseGguf: base.path, out: join(ctx.outDir, adapter), expectBase: ext.hfModel, name: s.id });
        copyFileSync(join(out, PEFT_CONFIG), join(ctx.outDir, PEFT_CONFIG));
        const curve = existsSync(join(out, 'loss.csv')) ? lossCurve(readFileSync(join(out, 'loss.csv'), 'utf8')) : trainerStateCurve([out, join(dir, 'checkpoints')]);
        // training time: the trainer's own (TRL's train.py writes train_metrics.json), else the time from
        // the job's export to the adapter (an upper bound: it includes any wait in a queue)
        let trainSeconds = NaN;
        let timedBy: 'trainer' | 'job' = 'trainer';
        try {
            trainSeconds = Number((JSON.parse(readFileSync(join(out, 'train_metrics.json'), 'utf8')) as { train_runtime?: number }).train_runtime);
        } catch {
            // no metrics file: timed from the job
        }
        if (!Number.isFinite(trainSeconds)) {
            trainSeconds = Math.max(0, (statSync(join(out, PEFT_WEIGHTS)).mtimeMs - Date.parse(manifest.exportedAt)) / 1000);
            timedBy = 'job';
        }
        const ref: ModelRef = { kind: 'local', path: base.path, lora: [adapter], taught: base.taught, base: base.base, template: base.template };
        await writeModelRef(ctx.outDir, ref);
        ctx.progress(1, 1, 'job', `converted ${conv.modules.length} modules`);
        const metrics: FinetuneMetrics & Record<string, unknown> = {
            lossStart: curve[0]?.train ?? NaN,
            lossEnd: curve.at(-1)?.train ?? NaN,
            epochs: curve.length ? curve.at(-1)!.epoch : p.epochs,
            steps: curve.at(-1)?.step ?? NaN,
            trainSeconds,
            tokensPerSecond: NaN,
            curve,
            trainer: ext.engine,
            timedBy,
            job: dir,
            adapterModules: conv.modules.length,
            adapterRank: conv.rank,
            adapterAlpha: conv.alpha,
        };
        return { metrics, ...(curve.length ? {} : { warnings: [`${where}: the ${ext.engine} job left no loss.csv in ${out}; no loss curve`] }) };
    } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        throw new Error(`${where}: ${(e as Error).message}`);
    }
}
