/**
 * The finetune step: trains a model on labels (LoRA or full, here or through an external trainer),
 * then checks how well it fitted its training examples; the embedded trainer also reports how fast
 * (which examples greedy decoding reproduces after every epoch, Known vs Unknown).
 */
import { copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Decoding, FinetuneStep } from '../../language/plan-types.js';
import type { EpochFitCurve, FinetuneMetrics, FitCounts, TrainingFit } from '../results-types.js';
import { unitHashOf } from '../datasets/index.js';
import { matchesGold } from '../evaluate/index.js';
import type { GenerationItem, GenerationResult } from '../models/types.js';
import { trainModel, type EpochFit, type TrainEvent } from '../train/api.js';
import { externalFinetune } from '../scaleout/step.js';
import type { ExecContext, StepOutcome } from './context.js';
import { throwIfAborted } from './context.js';
import { writeModelRef, type ModelRef } from './model-pool.js';
import { answerAll, modelOf, readLabels, type LabelRow } from './step-io.js';
import { writeJsonl } from '../store/index.js';

/**
 * The trainer's per-epoch fit as counts: all trained examples, and Known (any SliCK category but
 * Unknown) vs Unknown when every label carries a category (a mix). `fit.examples` and `fitted` index
 * `labels` (the training examples are made from the labels in order); examples held out for
 * validation are in neither.
 */
export function epochFitCurve(fit: EpochFit, labels: readonly Pick<LabelRow, 'category'>[]): EpochFitCurve {
    const categorised = labels.length > 0 && labels.every((l) => l.category !== undefined);
    const trained = fit.examples;
    const known = trained.filter((i) => labels[i].category !== 'Unknown');
    const unknown = trained.filter((i) => labels[i].category === 'Unknown');
    return {
        version: 1,
        examples: trained.length,
        epochs: fit.epochs.map((e) => {
            const fitted = new Set(e.fitted);
            const count = (idx: number[]) => ({ total: idx.length, fitted: idx.filter((i) => fitted.has(i)).length });
            return { epoch: e.epoch, step: e.step, all: count(trained), ...(categorised ? { known: count(known), unknown: count(unknown) } : {}) };
        }),
    };
}

export async function finetuneStep(ctx: ExecContext, s: FinetuneStep): Promise<StepOutcome> {
    // `trainer trl|axolotl`: an exported job trains it elsewhere; its PEFT adapter comes back converted
    if (s.params.external) return externalFinetune(ctx, s);
    const p = s.params;
    const base = await modelOf(ctx, p.model);
    if (base.kind !== 'local') throw new Error(`finetune ${s.id}: ${p.model} is a server model; fine-tuning needs a local GGUF`);
    if (base.lora.length) throw new Error(`finetune ${s.id}: ${p.model} is itself a LoRA fine-tune; fine-tune its base model instead, or use mode full`);
    const labels = await readLabels(ctx, p.labels);
    // The prompt builder that generation uses makes the training sequences (engine/models/prompt.ts):
    // the model is trained on exactly the tokens it is later asked, its chat template included. The
    // template is the model step's, carried in model.json (`base` is the step's name when it was made:
    // a rename may have changed it).
    const { trainingExamples } = await import('../models/prompt.js');
    const examples = await trainingExamples(
        base.path,
        base.template ?? 'raw',
        labels.map((l) => ({ question: l.question, answer: l.label })),
    );
    const trainDir = join(ctx.checkpointDir, 'train');
    let totalSteps = 0;
    const result = await trainModel(
        {
            base: base.path,
            examples,
            mode: p.mode,
            ...(p.mode === 'lora' && p.lora ? { lora: { rank: p.lora.rank, alpha: p.lora.alpha, targets: p.lora.targets as never } } : {}),
            epochs: p.epochs,
            lr: p.learningRate,
            warmup: p.warmup,
            schedule: p.schedule,
            batch: p.batchSize,
            gradAccum: p.gradientAccumulation,
            weightDecay: p.weightDecay,
            optimizer: p.optimizer,
            seed: p.seed + ctx.seedOffset,
            validationShare: p.validation,
            ...(p.earlyStopping ? { earlyStopping: { patience: 2 } } : {}),
            threads: ctx.threads,
            gpu: ctx.gpu === false ? 'off' : ctx.gpu === 'metal' ? 'auto' : ctx.gpu,
            outDir: trainDir,
            resume: true,
            name: s.id,
            // how fast the examples are fitted (Known vs Unknown by epoch): one forward pass over the
            // training set per epoch, about a third of an epoch's training compute
            fitByEpoch: true,
        },
        {
            signal: ctx.signal,
            onEvent: (e: TrainEvent) => {
                if (e.type === 'start') totalSteps = e.totalSteps;
                else if (e.type === 'progress') {
                    ctx.progress(e.step, e.totalSteps || totalSteps, 'steps', `loss ${e.loss.toFixed(3)}`);
                    ctx.metric({ loss: e.loss, lr: e.lr, epoch: e.epoch, tokensPerSecond: e.tokensPerSecond });
                } else if (e.type === 'log') ctx.warn(e.line);
            },
        },
    );
    throwIfAborted(ctx.signal);
    const out = result.kind === 'lora' ? 'adapter.gguf' : 'model.gguf';
    await copyFile(result.modelPath, join(ctx.outDir, out));
    // loss.csv stays an output for people; the metrics take the trainer's own curves
    if (existsSync(result.lossCsv)) await copyFile(result.lossCsv, join(ctx.outDir, 'loss.csv'));
    const curve: FinetuneMetrics['curve'] = result.loss.epochs.map((e) => ({
        epoch: e.epoch,
        step: e.step,
        train: e.trainLoss,
        ...(e.validationLoss !== undefined ? { validation: e.validationLoss } : {}),
    }));
    const stepCurve: NonNullable<FinetuneMetrics['stepCurve']> = result.loss.steps.map((x) => ({ step: x.step, epoch: x.epoch, train: x.loss }));
    const fitByEpoch = result.fit ? epochFitCurve(result.fit, labels) : undefined;
    if (result.fit) {
        // per example, whether it was fitted after each epoch (examples held out for validation: null)
        const trained = new Set(result.fit.examples);
        const perEpoch = result.fit.epochs.map((e) => new Set(e.fitted));
        await writeJsonl(
            join(ctx.outDir, 'fit-by-epoch.jsonl'),
            labels.map((l, i) => ({ id: l.id, ...(l.category !== undefined ? { category: l.category } : {}), fitted: trained.has(i) ? perEpoch.map((f) => f.has(i)) : null })),
        );
    }
    const ref: ModelRef =
        result.kind === 'lora'
            ? { kind: 'local', path: base.path, lora: [out], taught: base.taught, base: base.base, template: base.template }
            : { kind: 'local', path: out, lora: [], taught: base.taught, base: base.base, template: base.template };
    await writeModelRef(ctx.outDir, ref);
    const warnings: string[] = [];
    // The outputs as they are now (in the temp entry), not as model.json will resolve them once stored.
    const tuned: ModelRef = result.kind === 'lora' ? { ...base, lora: [join(ctx.outDir, out)] } : { ...base, path: join(ctx.outDir, out), lora: [] };
    const fit = await trainingFit(ctx, s, base, tuned, labels, warnings);
    const m: FinetuneMetrics = {
        lossStart: stepCurve[0]?.train ?? curve[0]?.train ?? NaN,
        lossEnd: result.finalTrainLoss,
        epochs: result.epochs,
        steps: result.steps,
        trainSeconds: result.trainSeconds,
        tokensPerSecond: result.tokensPerSecond,
        curve,
        stepCurve,
        fit,
        ...(fitByEpoch ? { fitByEpoch } : {}),
    };
    return {
        metrics: { ...m, ...(result.finalValidationLoss !== undefined ? { validationLoss: result.finalValidationLoss } : {}), stoppedEarly: result.stoppedEarly, device: result.device },
        warnings,
    };
}

/** At most this many training examples are asked back after fine-tuning (a seeded sample beyond). */
const FIT_CHECK_MAX = 256;

/**
 * Whether the fine-tune fitted its examples: the base and the fine-tuned model answer (greedy, the
 * model's template, no exemplars) the training questions, matched exactly against the taught label
 * (the gold answers for a gold label). Split into Known vs Unknown examples when the labels come
 * from a SliCK mix. Warns when the fine-tuned model answers barely more of them than the base did.
 */
async function trainingFit(ctx: ExecContext, s: FinetuneStep, base: ModelRef, tuned: ModelRef, labels: LabelRow[], warnings: string[]): Promise<TrainingFit> {
    const seed = s.params.seed + ctx.seedOffset;
    const rows = labels.length <= FIT_CHECK_MAX ? labels : [...labels].sort((a, b) => unitHashOf(`fit:${seed}:${a.id}`) - unitHashOf(`fit:${seed}:${b.id}`)).slice(0, FIT_CHECK_MAX);
    const items: GenerationItem[] = rows.map((r) => ({ id: r.id, question: r.question }));
    const decoding: Decoding = { temperature: 0, maxTokens: 16, stop: [], template: base.template ?? 'raw', fewShot: 0 };
    const before = await answerAll(ctx, base, items, decoding, 'fit-base.jsonl', { label: 'training questions, base' });
    const after = await answerAll(ctx, tuned, items, decoding, 'fit-tuned.jsonl', { label: 'training questions, fine-tuned' });
    const hit = (r: LabelRow, g: GenerationResult) => matchesGold(g.text, r.abstain ? [r.label] : [r.label, ...r.answers], 'exact');
    const counts = (rs: LabelRow[]): FitCounts => ({ total: rs.length, fitted: rs.filter((r) => hit(r, after.get(r.id)![0])).length, base: rs.filter((r) => hit(r, before.get(r.id)![0])).length });
    const categorised = labels.every((l) => l.category !== undefined);
    const fit: TrainingFit = {
        checked: rows.length,
        examples: labels.length,
        all: counts(rows),
        ...(categorised
            ? {
                  known: counts(rows.filter((r) => r.category !== 'Unknown')),
                  unknown: counts(rows.filter((r) => r.category === 'Unknown')),
                  unknownShare: labels.filter((l) => l.category === 'Unknown').length / Math.max(1, labels.length),
              }
            : {}),
    };
    const warning = fitWarning(fit);
    if (warning) warnings.push(warning);
    return fit;
}

/**
 * The warning a fine-tune's training fit deserves: it fitted nothing (answers under 10 points more of
 * its examples than the base model did, and under 90% of them), or it fitted under half of its
 * Unknown examples. Undefined when it fitted them.
 */
export function fitWarning(fit: TrainingFit): string | undefined {
    const rate = (c: FitCounts | undefined) => (c && c.total ? c.fitted / c.total : NaN);
    const pctOf = (x: number) => `${(100 * x).toFixed(0)}%`;
    const all = fit.all;
    if (all.total && (all.fitted - all.base) / all.total < 0.1 && rate(all) < 0.9) {
        return `the fine-tune did not fit its training examples: it answers ${pctOf(rate(all))} of them, the base model ${pctOf(all.base / all.total)}; raise learningRate or epochs`;
    }
    if (fit.unknown?.total && rate(fit.unknown) < 0.5)
        return `the fine-tune fitted only ${pctOf(rate(fit.unknown))} of its Unknown examples (Known: ${fit.known?.total ? pctOf(rate(fit.known)) : '—'})`;
    return undefined;
}
