/**
 * Step executors: each reads its inputs' store entries, computes, and writes its outputs into
 * `ctx.outDir` (which becomes the store entry). Long generation checkpoints into `ctx.checkpointDir`
 * every few questions; fine-tuning checkpoints through the trainer.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type {
    DatasetStep, Decoding, EvaluateStep, FinetuneStep, HypothesisStep, KnowledgeStep, LabelStep, MixStep, ModelStep, ShuffleStep, Step, WorldStep,
} from '../../language/plan-types.js';
import type { EvaluateMetrics, FinetuneMetrics, FitCounts, LabelMetrics, QuestionRecord, TrainingFit } from '../results-types.js';
import { loadDataset, unitHashOf, type DatasetRecord } from '../datasets/index.js';
import { abstentionMatcher, armMetrics, confidenceFromLogprobs, matchesGold, outcomeOf, type KnowledgeMap } from '../evaluate/index.js';
import { fewShotFor, fewShotPool } from './fewshot.js';
import { JsonlCheckpoint, readJsonlFile, writeJsonl } from '../store/index.js';
import { generateWorld, taughtFactIds, taughtSeed, type WorldParams } from '../world/index.js';
import type { FewShotExample, GenerationItem, GenerationResult } from '../models/types.js';
import { trainModel, type TrainEvent } from '../train/api.js';
import type { ExecContext, StepOutcome } from './context.js';
import { stepById, throwIfAborted } from './context.js';
import { readModelRef, readTaught, writeModelRef, type ModelRef } from './models.js';
import { compareArms, fitWarning, hypothesisOver, labelFor, mixExamples, shuffleLabels, slickCategory, SLICK_ORDER, type LabelRow, type SlickCategory } from './pure.js';
import { runPretrain } from './pretrain-bridge.js';
import { externalFinetune } from '../scaleout/step.js';
import { redrawnUpstream } from '../../language/replicates.js';

export async function executeStep(ctx: ExecContext): Promise<StepOutcome> {
    const s = ctx.step;
    switch (s.kind) {
        case 'world':
            return worldStep(ctx, s);
        case 'dataset':
            return datasetStep(ctx, s);
        case 'model':
            return modelStep(ctx, s);
        case 'label':
            return labelStep(ctx, s);
        case 'shuffle':
            return shuffleStep(ctx, s);
        case 'knowledge':
            return knowledgeStep(ctx, s);
        case 'mix':
            return mixStep(ctx, s);
        case 'finetune':
            return finetuneStep(ctx, s);
        case 'evaluate':
            return evaluateStep(ctx, s);
        case 'hypothesis':
            return hypothesisStep(ctx, s);
    }
}

// ---------------------------------------------------------------------------------------------

async function worldStep(ctx: ExecContext, s: WorldStep): Promise<StepOutcome> {
    // A replicate that redraws the world offsets its seed; world.json holds the seed it was drawn with.
    const params = { ...s.params, seed: s.params.seed + ctx.seedOffset };
    const world = generateWorld(params);
    await writeFile(join(ctx.outDir, 'world.json'), JSON.stringify({ params }, null, 1));
    return {
        metrics: {
            entities: world.entities.length,
            facts: world.facts.length,
            relations: world.relations.map((r) => r.name),
            chance: world.chance,
        },
    };
}

export async function worldParamsOf(ctx: ExecContext, worldStepId: string): Promise<WorldParams> {
    const out = ctx.input(worldStepId);
    return (JSON.parse(await readFile(join(out.dir, 'world.json'), 'utf8')) as { params: WorldParams }).params;
}

async function datasetStep(ctx: ExecContext, s: DatasetStep): Promise<StepOutcome> {
    const src = s.params.source;
    const world = src.kind === 'world' ? await worldParamsOf(ctx, src.world) : undefined;
    const d = await loadDataset(src, s.params.splits, s.params.seed + ctx.seedOffset, { dedupe: s.params.dedupe, world, signal: ctx.signal });
    await writeJsonl(join(ctx.outDir, 'records.jsonl'), d.records.map((r) => ({ id: r.id, question: r.question, answers: r.answers, split: r.split, line: r.line })));
    const splits: Record<string, number> = {};
    for (const r of d.records) splits[r.split!] = (splits[r.split!] ?? 0) + 1;
    return { metrics: { total: d.records.length, splits, duplicatesDropped: d.dropped }, warnings: d.warnings };
}

async function readSplit(ctx: ExecContext, datasetId: string, split: string): Promise<DatasetRecord[]> {
    const out = ctx.input(datasetId);
    const all = await readJsonlFile<DatasetRecord>(join(out.dir, 'records.jsonl'));
    const rows = all.filter((r) => r.split === split);
    if (rows.length === 0) {
        const names = [...new Set(all.map((r) => r.split))].join(', ');
        throw new Error(`dataset ${datasetId} has no split "${split}" (its splits: ${names || 'none'})`);
    }
    return rows;
}

/** Generation items with their per-question few-shot exemplars (none when `k` is 0). */
async function itemsWithFewShot(ctx: ExecContext, datasetId: string, split: string, rows: DatasetRecord[], k: number, seed: number, evaluates: boolean, prompt = 0): Promise<GenerationItem[]> {
    const items: GenerationItem[] = rows.map((r) => ({ id: r.id, question: r.question }));
    if (!k) return items;
    const all = await readJsonlFile<DatasetRecord>(join(ctx.input(datasetId).dir, 'records.jsonl'));
    const pool = fewShotPool(all, split, evaluates, ctx.step.id);
    return items.map((it) => ({ ...it, fewShot: fewShotFor(pool, it, k, seed, prompt) }));
}

async function modelStep(ctx: ExecContext, s: ModelStep): Promise<StepOutcome> {
    const src = s.params.source;
    if (src.kind === 'gguf') {
        if (!existsSync(src.path)) throw new Error(`model file not found: ${src.path}`);
        await writeModelRef(ctx.outDir, { kind: 'local', path: src.path, lora: [], base: s.id, ...(s.params.template ? { template: s.params.template } : {}) });
        return { metrics: { path: src.path } };
    }
    if (src.kind === 'server') {
        const ref: ModelRef = { kind: 'server', base: s.id, ...(s.params.template ? { template: s.params.template } : {}), url: src.url, name: src.name, api: src.api, apiKeyEnv: src.apiKeyEnv, logprobs: src.logprobs, concurrency: src.concurrency, timeoutMs: src.timeoutMs };
        await writeModelRef(ctx.outDir, ref);
        return { metrics: { url: src.url, name: src.name, api: src.api } };
    }
    const world = await worldParamsOf(ctx, src.world);
    const r = await runPretrain(ctx, { ...src, seed: src.seed + ctx.seedOffset }, world);
    await writeModelRef(ctx.outDir, { kind: 'local', path: r.modelFile, lora: [], taught: 'taught.json', base: s.id, ...(s.params.template ? { template: s.params.template } : {}) });
    return { metrics: r.metrics, warnings: r.warnings };
}

async function modelOf(ctx: ExecContext, id: string): Promise<ModelRef> {
    return readModelRef(ctx.input(id).dir);
}

/**
 * Answers every item (× samples) with a checkpoint: results already in the checkpoint are not asked
 * again, new ones are appended every few questions, so a killed step resumes where it stopped.
 */
async function answerAll(
    ctx: ExecContext,
    ref: ModelRef,
    items: GenerationItem[],
    decoding: Decoding,
    checkpoint: string,
    options: { samples?: number; fewShot?: FewShotExample[]; label?: string } = {},
): Promise<Map<string, GenerationResult[]>> {
    const samples = options.samples ?? 1;
    // A model's own prompt template (e.g. `chat` for a chat model) overrides the decoding's.
    if (ref.template && ref.template !== decoding.template) decoding = { ...decoding, template: ref.template };
    const ck = new JsonlCheckpoint<GenerationResult & { id: string; qid: string }>(join(ctx.checkpointDir, checkpoint), 8);
    const done = await ck.load();
    const total = items.length * samples;
    const have = (id: string, s: number) => done.has(`${id}#${s}`);
    const todo = items.filter((it) => Array.from({ length: samples }, (_, s) => s).some((s) => !have(it.id, s)));
    let count = done.size;
    ctx.progress(Math.min(count, total), total, 'answers', options.label);
    if (todo.length) {
        await ctx.models.generate(ref, todo, decoding, {
            samples,
            fewShot: options.fewShot,
            signal: ctx.signal,
            onResult: async (r) => {
                const key = `${r.id}#${r.sample}`;
                if (done.has(key)) return;
                await ck.add({ ...r, id: key, qid: r.id });
                count++;
                ctx.progress(Math.min(count, total), total, 'answers', options.label);
            },
        });
        await ck.flush();
    }
    throwIfAborted(ctx.signal);
    const out = new Map<string, GenerationResult[]>();
    for (const it of items) {
        const rs: GenerationResult[] = [];
        for (let s = 0; s < samples; s++) {
            const r = done.get(`${it.id}#${s}`);
            if (!r) throw new Error(`no answer for question ${it.id} (sample ${s})`);
            rs.push({ ...r, id: it.id });
        }
        out.set(it.id, rs);
    }
    return out;
}

function decodingWithOffset(d: Decoding, offset: number): Decoding {
    return offset && d.seed !== undefined ? { ...d, seed: d.seed + offset } : offset ? { ...d, seed: offset } : d;
}

async function labelStep(ctx: ExecContext, s: LabelStep): Promise<StepOutcome> {
    const p = s.params;
    const rows = await readSplit(ctx, p.dataset, p.split);
    const ref = await modelOf(ctx, p.model);
    const decoding = decodingWithOffset(p.decoding, ctx.seedOffset);
    const items = await itemsWithFewShot(ctx, p.dataset, p.split, rows, p.decoding.fewShot, decoding.seed ?? 0, false);
    const answers = await answerAll(ctx, ref, items, decoding, 'answers.jsonl');
    const labels: LabelRow[] = rows.map((r) => {
        const g = answers.get(r.id)![0];
        const correct = matchesGold(g.text, r.answers, p.match);
        return { id: r.id, question: r.question, answers: r.answers, prediction: g.text, correct, ...labelFor(r.answers, correct, p.otherwise), confidence: confidenceFromLogprobs(g.logprobs).confidence };
    });
    await writeJsonl(join(ctx.outDir, 'labels.jsonl'), labels);
    const kept = labels.filter((l) => !l.abstain).length;
    const m: LabelMetrics = { total: labels.length, kept, replaced: labels.length - kept };
    return { metrics: m };
}

async function readLabels(ctx: ExecContext, id: string): Promise<LabelRow[]> {
    return readJsonlFile<LabelRow>(join(ctx.input(id).dir, 'labels.jsonl'));
}

async function shuffleStep(ctx: ExecContext, s: ShuffleStep): Promise<StepOutcome> {
    const src = await readLabels(ctx, s.params.source);
    const out = shuffleLabels(src, s.params.seed + ctx.seedOffset);
    await writeJsonl(join(ctx.outDir, 'labels.jsonl'), out);
    const kept = out.filter((l) => !l.abstain).length;
    // How many abstentions landed where the source had them (chance level: k²/n on average).
    const srcAbstain = new Set(src.filter((r) => r.abstain).map((r) => r.id));
    const overlap = out.filter((r) => r.abstain && srcAbstain.has(r.id)).length;
    return { metrics: { total: out.length, kept, replaced: out.length - kept, overlapWithSource: overlap } };
}

/**
 * SliCK as published (Gekhman et al. 2024, §3; definitions in pure.ts `slickCategory`): each question
 * is asked with `prompts` few-shot prompts of `decoding.fewShot` random exemplars each (drawn per
 * question and prompt, never the question itself); per prompt one greedy answer and `samples`
 * answers at `temperature`; answers are matched with the step's `match`. With fewShot 0 every
 * prompt is the same text, so one prompt stands for all (its greedy answer would repeat).
 */
async function knowledgeStep(ctx: ExecContext, s: KnowledgeStep): Promise<StepOutcome> {
    const p = s.params;
    const rows = await readSplit(ctx, p.dataset, p.split);
    const ref = await modelOf(ctx, p.model);
    const prompts = p.decoding.fewShot > 0 ? p.prompts : 1;
    const seed = p.seed + ctx.seedOffset;
    const items: GenerationItem[] = [];
    for (let j = 0; j < prompts; j++) {
        const its = await itemsWithFewShot(ctx, p.dataset, p.split, rows, p.decoding.fewShot, seed, false, j);
        for (const it of its) items.push({ ...it, id: promptItemId(it.id, j, prompts) });
    }
    const greedy = await answerAll(ctx, ref, items, { ...p.decoding, temperature: 0 }, 'greedy.jsonl', { label: 'greedy' });
    const sampled = p.samples > 0
        ? await answerAll(ctx, ref, items, { ...p.decoding, temperature: p.temperature, seed }, 'samples.jsonl', { samples: p.samples, label: 'samples' })
        : new Map<string, GenerationResult[]>();
    const out = rows.map((r) => {
        let greedyCorrect = 0;
        let samplesCorrect = 0;
        for (let j = 0; j < prompts; j++) {
            const id = promptItemId(r.id, j, prompts);
            if (matchesGold(greedy.get(id)![0].text, r.answers, p.match)) greedyCorrect++;
            samplesCorrect += (sampled.get(id) ?? []).filter((x) => matchesGold(x.text, r.answers, p.match)).length;
        }
        return { id: r.id, question: r.question, answers: r.answers, prompts, greedyCorrect, samplesCorrect, samples: prompts * p.samples, category: slickCategory(greedyCorrect, prompts, samplesCorrect) };
    });
    await writeJsonl(join(ctx.outDir, 'knowledge.jsonl'), out);
    const counts: Record<string, number> = {};
    for (const c of SLICK_ORDER) counts[c] = 0;
    for (const r of out) counts[r.category]++;
    return { metrics: { total: out.length, categories: counts, prompts, fewShot: p.decoding.fewShot, samples: p.samples, temperature: p.temperature, match: p.match } };
}

/** The generation id of a question under one of several prompts (the bare id when there is one prompt). */
function promptItemId(id: string, prompt: number, prompts: number): string {
    return prompts > 1 ? `${id}@prompt${prompt}` : id;
}

async function mixStep(ctx: ExecContext, s: MixStep): Promise<StepOutcome> {
    const rows = await readJsonlFile<{ id: string; question: string; answers: string[]; category: SlickCategory }>(join(ctx.input(s.params.knowledge).dir, 'knowledge.jsonl'));
    const m = mixExamples(rows, s.params.unknown, s.params.seed + ctx.seedOffset, s.params.size);
    await writeJsonl(join(ctx.outDir, 'labels.jsonl'), m.rows);
    return { metrics: { total: m.size, unknown: m.unknown, known: m.known, unknownShare: m.size ? m.unknown / m.size : 0 } };
}

function parseLossCsv(text: string): FinetuneMetrics['curve'] {
    const lines = text.trim().split('\n').filter(Boolean);
    if (lines.length < 2) return [];
    const head = lines[0].split(',').map((h) => h.trim().toLowerCase());
    const col = (...names: string[]) => head.findIndex((h) => names.includes(h));
    const iEpoch = col('epoch');
    const iStep = col('step');
    const iTrain = col('train_loss', 'trainloss', 'loss', 'train');
    const iVal = col('validation_loss', 'val_loss', 'validationloss', 'validation', 'val');
    const rows = lines.slice(1).map((l) => l.split(','));
    return rows
        .map((r) => ({
            epoch: iEpoch >= 0 ? Number(r[iEpoch]) : NaN,
            step: iStep >= 0 ? Number(r[iStep]) : NaN,
            train: iTrain >= 0 ? Number(r[iTrain]) : NaN,
            ...(iVal >= 0 && r[iVal] !== '' && r[iVal] !== undefined && Number.isFinite(Number(r[iVal])) ? { validation: Number(r[iVal]) } : {}),
        }))
        .filter((r) => Number.isFinite(r.train));
}

async function finetuneStep(ctx: ExecContext, s: FinetuneStep): Promise<StepOutcome> {
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
    const examples = await trainingExamples(base.path, base.template ?? 'raw', labels.map((l) => ({ question: l.question, answer: l.label })));
    const curve: FinetuneMetrics['curve'] = [];
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
        },
        {
            signal: ctx.signal,
            onEvent: (e: TrainEvent) => {
                if (e.type === 'start') totalSteps = e.totalSteps;
                else if (e.type === 'progress') {
                    ctx.progress(e.step, e.totalSteps || totalSteps, 'steps', `loss ${e.loss.toFixed(3)}`);
                    ctx.metric({ loss: e.loss, lr: e.lr, epoch: e.epoch, tokensPerSecond: e.tokensPerSecond });
                } else if (e.type === 'epoch') curve.push({ epoch: e.epoch, step: e.step, train: e.trainLoss, ...(e.validationLoss !== undefined ? { validation: e.validationLoss } : {}) });
                else if (e.type === 'log') ctx.warn(e.line);
            },
        },
    );
    throwIfAborted(ctx.signal);
    const out = result.kind === 'lora' ? 'adapter.gguf' : 'model.gguf';
    await copyFile(result.modelPath, join(ctx.outDir, out));
    let lossCurve = curve;
    if (existsSync(result.lossCsv)) {
        const text = await readFile(result.lossCsv, 'utf8');
        await writeFile(join(ctx.outDir, 'loss.csv'), text);
        const parsed = parseLossCsv(text);
        if (parsed.length) lossCurve = parsed;
    }
    const ref: ModelRef = result.kind === 'lora'
        ? { kind: 'local', path: base.path, lora: [out], taught: base.taught, base: base.base, template: base.template }
        : { kind: 'local', path: out, lora: [], taught: base.taught, base: base.base, template: base.template };
    await writeModelRef(ctx.outDir, ref);
    const warnings: string[] = [];
    // The outputs as they are now (in the temp entry), not as model.json will resolve them once stored.
    const tuned: ModelRef = result.kind === 'lora' ? { ...base, lora: [join(ctx.outDir, out)] } : { ...base, path: join(ctx.outDir, out), lora: [] };
    const fit = await trainingFit(ctx, s, base, tuned, labels, warnings);
    const m: FinetuneMetrics = {
        lossStart: lossCurve[0]?.train ?? NaN,
        lossEnd: result.finalTrainLoss,
        epochs: result.epochs,
        steps: result.steps,
        trainSeconds: result.trainSeconds,
        tokensPerSecond: result.tokensPerSecond,
        curve: lossCurve,
        fit,
    };
    return { metrics: { ...m, ...(result.finalValidationLoss !== undefined ? { validationLoss: result.finalValidationLoss } : {}), stoppedEarly: result.stoppedEarly, device: result.device }, warnings };
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

export interface AnswerRow extends QuestionRecord {
    arm: string;
}

async function evaluateStep(ctx: ExecContext, s: EvaluateStep): Promise<StepOutcome> {
    const p = s.params;
    const rows = await readSplit(ctx, p.dataset, p.split);
    const abstains = abstentionMatcher(p.abstain);
    const decoding = decodingWithOffset(p.decoding, ctx.seedOffset);
    const items = await itemsWithFewShot(ctx, p.dataset, p.split, rows, p.decoding.fewShot, decoding.seed ?? 0, true);
    let slick: Map<string, string> | undefined;
    if (p.knowledge) {
        const k = await readJsonlFile<{ id: string; category: string }>(join(ctx.input(p.knowledge).dir, 'knowledge.jsonl'));
        slick = new Map(k.map((r) => [r.id, r.category]));
    }
    const all: AnswerRow[] = [];
    const arms = [];
    const perArm: { arm: string; records: AnswerRow[]; taught: Set<string> | undefined }[] = [];
    const warnings: string[] = [];
    for (const [i, arm] of p.arms.entries()) {
        throwIfAborted(ctx.signal);
        const ref = await modelOf(ctx, arm.model);
        const taught = await readTaught(ref);
        const answers = await answerAll(ctx, ref, items, decoding, `answers-${i}.jsonl`, { label: arm.model });
        const records: AnswerRow[] = rows.map((r) => {
            const g = answers.get(r.id)![0];
            const knowledge = slick?.get(r.id) ?? (taught ? (taught.has(r.id) ? 'taught' : 'untaught') : undefined);
            return { arm: arm.model, id: r.id, question: r.question, gold: r.answers, prediction: g.text, outcome: outcomeOf(g.text, r.answers, abstains, p.match, g.finish), ...confidenceFromLogprobs(g.logprobs), ...(knowledge ? { knowledge } : {}) };
        });
        if (!ctx.models.logprobs(ref)) warnings.push(`${arm.model}: the model gives no token log-probabilities, so its risk–coverage curve, calibration error and matched-coverage tests are unavailable`);
        all.push(...records);
        perArm.push({ arm: arm.model, records, taught });
    }
    const grid = await knowledgeGridOf(ctx, s, perArm, warnings);
    for (const a of perArm) arms.push(armMetrics(a.arm, a.records, grid));
    await writeJsonl(join(ctx.outDir, 'answers.jsonl'), all);
    const m: EvaluateMetrics = { arms };
    return { metrics: m, warnings };
}

/** The model an arm was fine-tuned from (following finetunes of finetunes) and the models whose answers labelled it. */
function lineageOf(plan: ExecContext['plan'], id: string): { base: string; teachers: string[] } {
    const teachers: string[] = [];
    let step = stepById(plan, id);
    for (let guard = 0; step.kind === 'finetune' && guard < 100; guard++) {
        let labels = stepById(plan, step.params.labels);
        while (labels.kind === 'shuffle') labels = stepById(plan, labels.params.source);
        if (labels.kind === 'label') teachers.push(labelModelBase(plan, labels.params.model));
        step = stepById(plan, step.params.model);
    }
    return { base: step.id, teachers };
}

function labelModelBase(plan: ExecContext['plan'], id: string): string {
    return lineageOf(plan, id).base;
}

/**
 * The teacher × student knowledge grid of an evaluation: the student is the model the arms were
 * fine-tuned from, the teacher the other model whose answers labelled them. Knowledge is the
 * ground truth of the embedded world (the facts each model was taught; the teacher's set follows
 * from the spec, checked against the student's recorded set), or, on real data, SliCK categories
 * from the step's `by` knowledge steps, one per model (known = any category but Unknown).
 */
async function knowledgeGridOf(ctx: ExecContext, s: EvaluateStep, perArm: { arm: string; taught: Set<string> | undefined }[], warnings: string[]): Promise<{ teacher: KnowledgeMap; student: KnowledgeMap } | undefined> {
    const lineages = perArm.map((a) => ({ ...a, ...lineageOf(ctx.plan, a.arm) }));
    const counts = new Map<string, number>();
    for (const l of lineages) if (l.teachers.length) counts.set(l.base, (counts.get(l.base) ?? 0) + 1);
    const student = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (!student) return undefined;
    const teacher = lineages.filter((l) => l.base === student).flatMap((l) => l.teachers).find((t) => t !== student);
    if (!teacher) return undefined;
    // Real data: SliCK steps of both models on the evaluated questions.
    const slickOf = async (model: string): Promise<KnowledgeMap | undefined> => {
        for (const k of [...(s.params.knowledge ? [s.params.knowledge] : []), ...(s.params.knowledgeAlso ?? [])]) {
            const ks = stepById(ctx.plan, k);
            if (ks.kind !== 'knowledge' || lineageOf(ctx.plan, ks.params.model).base !== model) continue;
            const rows = await readJsonlFile<{ id: string; category: string }>(join(ctx.input(k).dir, 'knowledge.jsonl'));
            return { model, source: 'slick', knows: new Map(rows.map((r) => [r.id, r.category !== 'Unknown'])) };
        }
        return undefined;
    };
    // Embedded world: the facts each model was taught.
    const taughtOf = (model: string): Set<string> | undefined => {
        const m = stepById(ctx.plan, model);
        if (m.kind !== 'model' || m.params.source.kind !== 'pretrain') return undefined;
        const src = m.params.source;
        const w = stepById(ctx.plan, src.world);
        if (w.kind !== 'world') return undefined;
        // A replicate that redraws the world or the pretraining offsets their seeds by its index
        // (worldStep, modelStep); this step's own offset is 0 when it draws nothing itself.
        const replicate = ctx.seedIndex ?? 0;
        const world = generateWorld({ ...w.params, seed: w.params.seed + (w.stochastic ? replicate : 0) });
        return new Set(taughtFactIds(world, src.knows, taughtSeed(src) + (m.stochastic ? replicate : 0)));
    };
    const studentTaught = lineages.find((l) => l.base === student && l.taught)?.taught;
    if (studentTaught) {
        const recomputed = taughtOf(student);
        const teacherTaught = taughtOf(teacher);
        if (!recomputed || !teacherTaught) return undefined;
        if (recomputed.size !== studentTaught.size || [...recomputed].some((id) => !studentTaught.has(id))) {
            warnings.push(`knowledge grid left out: the facts ${student} was taught could not be reproduced from the spec`);
            return undefined;
        }
        const ids = perArm.length ? (await readSplit(ctx, s.params.dataset, s.params.split)).map((r) => r.id) : [];
        const map = (model: string, set: Set<string>): KnowledgeMap => ({ model, source: 'taught', knows: new Map(ids.map((id) => [id, set.has(id)])) });
        return { teacher: map(teacher, teacherTaught), student: map(student, studentTaught) };
    }
    const [t, st] = [await slickOf(teacher), await slickOf(student)];
    return t && st ? { teacher: t, student: st } : undefined;
}

async function hypothesisStep(ctx: ExecContext, s: HypothesisStep): Promise<StepOutcome> {
    const p = s.params;
    const evals = ctx.inputsAll(p.evaluation);
    const perSeed = [];
    for (const [i, e] of evals.entries()) {
        const rows = await readJsonlFile<AnswerRow>(join(e.dir, 'answers.jsonl'));
        // Rows carry the arms' names when the evaluation was made: a stored evaluation may predate a
        // rename, so arms are matched by their position in the evaluate step.
        const stored = [...new Set(rows.map((r) => r.arm))];
        const current = (stepById(ctx.plan, p.evaluation) as EvaluateStep).params.arms.map((x) => x.model);
        const armName = (id: string) => (stored.length === current.length && current.includes(id) ? stored[current.indexOf(id)] : id);
        const a = rows.filter((r) => r.arm === armName(p.a));
        const b = rows.filter((r) => r.arm === armName(p.b));
        if (!a.length) throw new Error(`hypothesis ${s.id}: ${p.a} is not an arm of ${p.evaluation}`);
        if (!b.length) throw new Error(`hypothesis ${s.id}: ${p.b} is not an arm of ${p.evaluation}`);
        perSeed.push(compareArms(a, b, { direction: p.direction, matched: p.matchedCoverage, alpha: p.alpha, seedIndex: e.seedIndex ?? i, bootstrapSeed: 1 + i }));
    }
    const h = hypothesisOver(s.id, perSeed, p.direction, p.alpha, { redrawn: redrawnUpstream(ctx.plan, s.id), seeds: ctx.plan.seeds });
    const warnings = perSeed.filter((x) => x.reason).map((x) => `seed ${x.seed}: inconclusive: ${x.reason}`);
    return { metrics: h, warnings };
}

export type { Step };
