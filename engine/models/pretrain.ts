/**
 * The embedded default's models: `model X = pretrain on <world> { layers L  width W  heads H  knows P% }`.
 *
 *   pretrainModel(input) : Promise<PretrainOutput>
 *     1. chooses the taught facts (`taughtFactIds`: exactly P% of the world's facts, per fact by
 *        `taughtSeed`: the model's `factsSeed`, else its `seed`);
 *     2. builds a word-level tokenizer over the whole world (every phrasing, answer, alias and the
 *        usual abstention phrases), so teacher and student share a vocabulary and every label a
 *        teacher writes tokenizes without byte fallback for the student;
 *     3. pretrains a llama-architecture model from scratch through the trainer (engine/train, a
 *        child process) on the taught facts in all their phrasings (prompt = question, answer = gold,
 *        loss on the answer) plus one neutral line per land (`pretrainExamples`), so every land's
 *        name is seen, whether or not any fact about it is taught;
 *     4. runs the honesty check (`checkKnowledge`) with node-llama-cpp on the written GGUF: greedy
 *        accuracy on taught and untaught facts, and the mean probability of the greedy answer on
 *        each, with warnings when the model misses (taught < 95%, untaught well above chance, a
 *        narrow confidence gap);
 *     5. writes `taught.json` (the ground truth: which facts this model was taught) and
 *        `knowledge.json` (the check and its per-fact records) beside the model.
 *
 *   readTaught(dir) : TaughtFile        what the engine reads to label evaluation records with
 *     `knowledge: 'taught' | 'untaught'` (the outcome x knowledge tables of a synthetic world).
 *     The same sets also follow from the spec alone: `taughtFactIds(world, knows, taughtSeed(source))`.
 *
 * Nothing here prints; progress goes through `onEvent` (EngineEvent-shaped, without the step ref).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Decoding, ModelSource } from '../../language/plan-types.js';
import type { KnowledgeCheck } from '../results-types.js';
import { buildTokenizer, trainModel, type LlamaConfig, type TrainExample, type TrainGpu, type TrainResult } from '../train/api.js';
import { entityLines, taughtFactIds, taughtSeed, type Fact, type World } from '../world/index.js';
import { unitHash } from '../world/rng.js';
import { LocalGenerator } from './local.js';
import type { GpuChoice } from './protocol.js';
import { matchesGold } from '../evaluate/index.js';
import { HONESTY } from '../stats/premise.js';

export type PretrainSource = Extract<ModelSource, { kind: 'pretrain' }>;

export type PretrainEvent =
    | { type: 'step-progress'; done: number; total: number; unit: string; message?: string }
    | { type: 'metrics'; values: Record<string, number> }
    | { type: 'log'; level: 'info' | 'warn'; message: string };

export interface PretrainInput {
    source: PretrainSource;
    world: World;
    /** Directory for model.gguf, taught.json, knowledge.json and the trainer's files (created). */
    outDir: string;
    /** Name written into the GGUF (general.name) and used in messages. */
    name?: string;
    threads?: number;
    gpu?: 'auto' | 'cuda' | 'vulkan' | 'metal' | 'off' | false;
    signal?: AbortSignal;
    onEvent?: (e: PretrainEvent) => void;
    /** Overrides of the training defaults (benchmarks and tests). */
    tuning?: Partial<PretrainTuning>;
}

export interface PretrainTuning {
    epochs: number;
    learningRate: number;
    batch: number;
    warmup: number;
    weightDecay: number;
    contextLength: number;
    /** FFN width as a multiple of the embedding width (where the facts are stored). */
    ffMultiplier: number;
    /** Stop after this many optimizer steps (tests). */
    maxSteps?: number;
}

export interface PretrainOutput {
    ggufPath: string;
    knowledgeCheck: KnowledgeCheck;
    taughtFactIds: string[];
    train: TrainResult;
    config: LlamaConfig;
}

export interface TaughtFile {
    model?: string;
    world: World['params'];
    knows: number;
    /** The seed the taught facts were drawn with (`factsSeed`, else the model's seed). */
    seed: number;
    taught: string[];
}

/** Phrases a label may use for "I don't know"; in the vocabulary so they tokenize as words. */
export const ABSTENTION_PROMPT = 'What people say when they do not know:';
export const ABSTENTION_PHRASES = ["I don't know", 'I do not know', 'Unknown', 'unknown', 'No idea', 'I am not sure', 'Not sure', "I can't say", 'Cannot answer'];

/** Defaults chosen by measurement on this machine (see the commit notes and bench/). */
export const PRETRAIN_DEFAULTS: PretrainTuning = {
    // Measured on the quickstart's world (150 lands, 2 layers x 128, 75% taught, threads 1): 8
    // epochs at 5e-3 gave 100% taught / 0.9% untaught (chance 0.9%), top-answer p 0.97 vs 0.31;
    // 12 trains well past the point where 95% is reached. At 1e-2 the same model once stayed on the
    // plateau where it answers every question of a relation alike (4% taught after 24 epochs).
    epochs: 12,
    learningRate: 5e-3,
    batch: 32,
    warmup: 20,
    weightDecay: 0,
    contextLength: 128,
    ffMultiplier: 8 / 3,
};

/** Thresholds of the honesty check (kept beside the verdicts' premise statements, which use them too). */
export { HONESTY };

/**
 * Batch size for a pretraining set: 32, but small worlds get smaller batches (at least 24 optimizer
 * steps per epoch, batch >= 8), since memorising facts takes updates, not epochs: a 120-fact world
 * at batch 32 (8 steps an epoch) still missed 6% of its taught facts after 80 epochs.
 */
export function pretrainBatch(examples: number): number {
    return Math.max(8, Math.min(PRETRAIN_DEFAULTS.batch, Math.floor(examples / 24)));
}

/** The pretraining set: every taught fact in every phrasing, plus one line naming each land. */
export function pretrainExamples(world: World, taught: ReadonlySet<string>): TrainExample[] {
    const examples: TrainExample[] = [];
    for (const f of world.facts) {
        if (!taught.has(f.id)) continue;
        for (const q of f.questions) examples.push({ prompt: q, answer: f.answer });
    }
    // The abstention phrases appear as text too (as "I don't know" does in any real pretraining
    // corpus), tied to no question: the model can say them, and fine-tuning teaches when. Without
    // this their tokens are only ever pushed down, and a LoRA fine-tune on labels that abstain
    // barely moved the student (it abstained on none of the test questions).
    for (const phrase of ABSTENTION_PHRASES) examples.push({ prompt: ABSTENTION_PROMPT, answer: phrase });
    // "every entity name is seen": a copy line per land teaches the name's token as input and output
    // (with tied embeddings both are the same vector) and says nothing about any of its facts.
    for (const line of entityLines(world)) {
        const name = line.slice(0, line.indexOf(' '));
        examples.push({ prompt: `${line} Its name is`, answer: name });
    }
    return examples;
}

/** All text the world can produce: the tokenizer's vocabulary source. */
export function worldTexts(world: World): string[] {
    const texts: string[] = [];
    for (const f of world.facts) {
        texts.push(...f.questions);
        texts.push(f.answer, ...f.aliases);
    }
    for (const line of entityLines(world)) texts.push(`${line} Its name is`);
    texts.push(...ABSTENTION_PHRASES, ABSTENTION_PROMPT);
    return texts;
}

export function modelConfig(source: PretrainSource, vocabSize: number, tuning: Pick<PretrainTuning, 'contextLength' | 'ffMultiplier'> = PRETRAIN_DEFAULTS): LlamaConfig {
    const ff = Math.max(32, Math.round((tuning.ffMultiplier * source.width) / 32) * 32);
    return {
        vocabSize,
        nLayer: source.layers,
        nEmbd: source.width,
        nHead: source.heads,
        nHeadKv: source.heads,
        nFf: ff,
        nCtx: tuning.contextLength,
        ropeTheta: 10000,
        rmsEps: 1e-5,
        tiedEmbeddings: true,
    };
}

function trainGpu(gpu: PretrainInput['gpu']): TrainGpu {
    if (gpu === false || gpu === 'off' || gpu === undefined) return 'off';
    if (gpu === 'metal') return 'auto';
    return gpu;
}

function generatorGpu(gpu: PretrainInput['gpu']): GpuChoice {
    if (gpu === false || gpu === 'off' || gpu === undefined) return false;
    return gpu;
}

function writeJsonAtomic(path: string, value: unknown): void {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value, null, 1) + '\n');
    renameSync(tmp, path);
}

export async function pretrainModel(input: PretrainInput): Promise<PretrainOutput> {
    const { source, world, outDir } = input;
    const emit = (e: PretrainEvent) => {
        try {
            input.onEvent?.(e);
        } catch {
            /* a listener's error is not ours */
        }
    };
    if (!(source.layers >= 1 && source.width >= 8 && source.heads >= 1)) {
        throw new Error(`pretrain: layers, width and heads must be positive (got ${source.layers}, ${source.width}, ${source.heads})`);
    }
    if (source.width % source.heads !== 0 || (source.width / source.heads) % 2 !== 0) {
        throw new Error(`pretrain: width ${source.width} must be a multiple of heads ${source.heads} with an even head size`);
    }
    mkdirSync(outDir, { recursive: true });
    const factsSeed = taughtSeed(source);
    const taughtIds = taughtFactIds(world, source.knows, factsSeed);
    const taught = new Set(taughtIds);
    const taughtFile: TaughtFile = { model: input.name, world: world.params, knows: source.knows, seed: factsSeed, taught: taughtIds };
    writeJsonAtomic(join(outDir, 'taught.json'), taughtFile);

    const tokenizer = buildTokenizer({ texts: worldTexts(world) });
    const examples = pretrainExamples(world, taught);
    const tuning: PretrainTuning = { ...PRETRAIN_DEFAULTS, ...input.tuning };
    const epochs = source.epochs ?? tuning.epochs;
    const config = modelConfig(source, tokenizer.vocabSize, tuning);
    emit({
        type: 'log',
        level: 'info',
        message: `pretraining ${input.name ?? 'model'}: ${taughtIds.length}/${world.facts.length} facts taught, ${examples.length} examples, vocabulary ${tokenizer.vocabSize}, ${epochs} epochs`,
    });
    const train = await trainModel(
        {
            base: { init: { config, tokenizer: tokenizer.data, seed: source.seed } },
            examples,
            mode: 'full',
            epochs,
            lr: source.learningRate ?? tuning.learningRate,
            warmup: tuning.warmup,
            schedule: 'cosine',
            minLrRatio: 0.1,
            batch: input.tuning?.batch ?? pretrainBatch(examples.length),
            weightDecay: tuning.weightDecay,
            maxSteps: tuning.maxSteps,
            optimizer: 'adamw',
            seed: source.seed,
            threads: input.threads ?? 2,
            gpu: trainGpu(input.gpu),
            outDir: join(outDir, 'train'),
            resume: true,
            separator: ' ',
            name: input.name,
        },
        {
            signal: input.signal,
            onEvent: (e) => {
                if (e.type === 'progress') {
                    emit({ type: 'step-progress', done: e.step, total: e.totalSteps, unit: 'steps', message: `loss ${e.loss.toFixed(3)}` });
                    emit({ type: 'metrics', values: { loss: e.loss, epoch: e.epoch, lr: e.lr } });
                } else if (e.type === 'epoch') {
                    emit({ type: 'metrics', values: { epoch: e.epoch, epochLoss: e.trainLoss } });
                    emit({ type: 'log', level: 'info', message: `epoch ${e.epoch}/${epochs}: answer loss ${e.trainLoss.toFixed(4)}` });
                } else if (e.type === 'log') {
                    emit({ type: 'log', level: 'info', message: e.line });
                }
            },
        },
    );
    const ggufPath = join(outDir, 'model.gguf');
    renameSync(train.modelPath, ggufPath);
    const check = await checkKnowledge({
        ggufPath,
        world,
        taught,
        threads: input.threads ?? 2,
        gpu: input.gpu,
        signal: input.signal,
        onProgress: (done, total) => emit({ type: 'step-progress', done, total, unit: 'facts', message: 'knowledge check' }),
    });
    writeJsonAtomic(join(outDir, 'knowledge.json'), check);
    for (const w of check.summary.warnings) emit({ type: 'log', level: 'warn', message: w });
    return { ggufPath, knowledgeCheck: check.summary, taughtFactIds: taughtIds, train: { ...train, modelPath: ggufPath }, config };
}

export interface KnowledgeRecord {
    id: string;
    taught: boolean;
    question: string;
    prediction: string;
    correct: boolean;
    /** Probability of the greedy answer (product of its tokens' probabilities). */
    probability: number;
}

export interface KnowledgeCheckInput {
    ggufPath: string;
    world: World;
    taught: ReadonlySet<string>;
    threads?: number;
    gpu?: PretrainInput['gpu'];
    signal?: AbortSignal;
    /** Check at most this many facts (a seeded sample, taught and untaught alike); default all. */
    maxFacts?: number;
    onProgress?: (done: number, total: number) => void;
}

export const CHECK_DECODING: Decoding = { temperature: 0, maxTokens: 12, stop: ['\n'], template: 'raw', fewShot: 0 };

/** Greedy answers of a pretrained model to its world's questions, scored against what it was taught. */
export async function checkKnowledge(input: KnowledgeCheckInput): Promise<{ summary: KnowledgeCheck; records: KnowledgeRecord[] }> {
    const { world, taught } = input;
    let facts: Fact[] = world.facts;
    if (input.maxFacts !== undefined && facts.length > input.maxFacts) {
        facts = [...facts].sort((a, b) => unitHash(`check:${a.id}`) - unitHash(`check:${b.id}`)).slice(0, input.maxFacts);
    }
    const gen = await LocalGenerator.start({ modelPath: input.ggufPath, gpu: generatorGpu(input.gpu), threads: input.threads ?? 2, sequences: 1, contextSize: 128 });
    const byId = new Map(facts.map((f) => [f.id, f]));
    const records: KnowledgeRecord[] = [];
    let answered = 0;
    try {
        const results = await gen.generate(
            facts.map((f) => ({ id: f.id, question: f.question })),
            CHECK_DECODING,
            {
                signal: input.signal,
                onResult: () => input.onProgress?.(++answered, facts.length),
            },
        );
        for (const r of results) {
            const f = byId.get(r.id)!;
            const prediction = r.text.trim();
            const logp = (r.logprobs ?? []).reduce((a, b) => a + b, 0);
            records.push({
                id: f.id,
                taught: taught.has(f.id),
                question: f.question,
                prediction,
                correct: matchesGold(prediction, [f.answer, ...f.aliases], 'exact'),
                probability: Math.exp(logp),
            });
        }
    } finally {
        await gen.close();
    }
    const order = new Map(world.facts.map((f, i) => [f.id, i]));
    records.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    return { summary: summariseKnowledge(records, world), records };
}

export function summariseKnowledge(records: KnowledgeRecord[], world: World): KnowledgeCheck {
    const t = records.filter((r) => r.taught);
    const u = records.filter((r) => !r.taught);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const taughtAccuracy = mean(t.map((r) => (r.correct ? 1 : 0)));
    const untaughtAccuracy = mean(u.map((r) => (r.correct ? 1 : 0)));
    const confidenceTaught = mean(t.map((r) => r.probability));
    const confidenceUntaught = mean(u.map((r) => r.probability));
    const chance = world.chance;
    const warnings: string[] = [];
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    if (t.length > 0 && taughtAccuracy < HONESTY.taughtAccuracy) {
        warnings.push(`answers only ${pct(taughtAccuracy)} of the facts it was taught (want ≥ ${pct(HONESTY.taughtAccuracy)}): train longer (epochs) or make it larger`);
    }
    if (u.length > 0 && untaughtAccuracy > chance + HONESTY.untaughtMargin) {
        warnings.push(`answers ${pct(untaughtAccuracy)} of the facts it was not taught, well above chance (${pct(chance)}): the world leaks answers`);
    }
    if (t.length > 0 && u.length > 0 && confidenceTaught - confidenceUntaught < HONESTY.confidenceGap) {
        warnings.push(
            `narrow confidence gap: top-answer probability ${confidenceTaught.toFixed(2)} on taught vs ${confidenceUntaught.toFixed(2)} on untaught facts (want a gap ≥ ${HONESTY.confidenceGap}): train longer`,
        );
    }
    return { taughtAccuracy, untaughtAccuracy, chance, confidenceTaught, confidenceUntaught, taught: t.length, untaught: u.length, warnings };
}

/** Reads `taught.json` from a pretrain step's directory (undefined when it has none). */
export function readTaught(dir: string): TaughtFile | undefined {
    const p = join(dir, 'taught.json');
    if (!existsSync(p)) return undefined;
    return JSON.parse(readFileSync(p, 'utf8')) as TaughtFile;
}
