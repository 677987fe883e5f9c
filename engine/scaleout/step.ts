// A finetune step handed to an existing trainer (`trainer trl|axolotl`): export the job folder (once
// per store key), wait until the trainer's PEFT adapter is in the job's output/ folder, convert it to
// a GGUF LoRA adapter for the base GGUF, and finish the step as the embedded trainer would (adapter.gguf
// + model.json), so evaluation and everything downstream run unchanged, on any machine.
//
// The job lives in `<store>/jobs/<step>-<key>/`: the store key covers the job (settings, labels, base),
// so a changed setting exports a new job, and a run that is stopped and started again finds the same
// job (checked against its manifest) and waits for it again.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { FinetuneStep } from '../../language/plan-types.js';
import { ANSWER_SEPARATOR } from '../models/prompt.js';
import { buildPrompt } from '../models/types.js';
import type { FinetuneMetrics } from '../results-types.js';
import { readJsonlFile } from '../store/index.js';
import type { ExecContext, StepOutcome } from '../steps/context.js';
import { throwIfAborted } from '../steps/context.js';
import { readModelRef, writeModelRef, type ModelRef } from '../steps/models.js';
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
    const bosId = md.get('tokenizer.ggml.bos_token_id'), eosId = md.get('tokenizer.ggml.eos_token_id');
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
    return rows.map((l) => l.split(',')).map((r) => {
        const v = at(r, 'validation_loss');
        return { epoch: at(r, 'epoch'), step: at(r, 'step'), train: at(r, 'train_loss'), ...(Number.isFinite(v) && r[cols.indexOf('validation_loss')] !== '' ? { validation: v } : {}) };
    }).filter((r) => Number.isFinite(r.train));
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
                engine: ext.engine, step: s.id, key, hfModel: ext.hfModel,
                examples: labels.map((l) => (chat
                    ? { prompt: l.question, completion: l.label }
                    : { prompt: buildPrompt(template, l.question).replace(/[ \t]+$/, ''), completion: ANSWER_SEPARATOR + l.label })),
                ...(chat ? { chat } : {}),
                settings: {
                    rank: p.lora.rank, alpha: p.lora.alpha, targets: p.lora.targets, dropout: ext.dropout, epochs: p.epochs,
                    learningRate: p.learningRate, schedule: p.schedule, warmup: p.warmup, batchSize: p.batchSize,
                    gradientAccumulation: p.gradientAccumulation, weightDecay: p.weightDecay, optimizer: p.optimizer,
                    seed: p.seed + ctx.seedOffset, validation: p.validation, earlyStopping: p.earlyStopping,
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
        const curve = existsSync(join(out, 'loss.csv')) ? lossCurve(readFileSync(join(out, 'loss.csv'), 'utf8')) : [];
        const ref: ModelRef = { kind: 'local', path: base.path, lora: [adapter], taught: base.taught, base: base.base, template: base.template };
        await writeModelRef(ctx.outDir, ref);
        ctx.progress(1, 1, 'job', `converted ${conv.modules.length} modules`);
        const metrics: FinetuneMetrics & Record<string, unknown> = {
            lossStart: curve[0]?.train ?? NaN,
            lossEnd: curve.at(-1)?.train ?? NaN,
            epochs: curve.length ? curve.at(-1)!.epoch : p.epochs,
            steps: curve.at(-1)?.step ?? NaN,
            trainSeconds: NaN,
            tokensPerSecond: NaN,
            curve,
            trainer: ext.engine,
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
