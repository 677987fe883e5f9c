/**
 * What several step executors share: reading the store entries of their inputs (a world's
 * parameters, a dataset split, labels, a model reference), the generation items with their few-shot
 * exemplars, answering them with a checkpoint, and the rows of labels.jsonl and answers.jsonl.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Decoding } from '../../language/plan-types.js';
import type { QuestionRecord } from '../results-types.js';
import type { DatasetRecord } from '../datasets/index.js';
import type { FewShotExample, GenerationItem, GenerationResult } from '../models/types.js';
import type { WorldParams } from '../world/index.js';
import { JsonlCheckpoint, readJsonlFile } from '../store/index.js';
import { fewShotFor, fewShotPool } from './fewshot.js';
import type { ExecContext } from './context.js';
import { throwIfAborted } from './context.js';
import { readModelRef, type ModelRef } from './model-pool.js';
import { RateMeter } from '../models/rate.js';
import { withConnection } from '../models/server.js';

export interface LabelRow {
    id: string;
    question: string;
    answers: string[];
    /** What the labelling model answered ('' for shuffles and mixes). */
    prediction: string;
    /** Whether that answer matched the gold answers. */
    correct: boolean;
    /** The training label: the gold answer, or the abstention text. */
    label: string;
    abstain: boolean;
    confidence: number | null;
    /** SliCK category of the question for the fine-tuned model (mixes only). */
    category?: string;
}

export interface AnswerRow extends QuestionRecord {
    arm: string;
}

export async function worldParamsOf(ctx: ExecContext, worldStepId: string): Promise<WorldParams> {
    const out = ctx.input(worldStepId);
    return (JSON.parse(await readFile(join(out.dir, 'world.json'), 'utf8')) as { params: WorldParams }).params;
}

export async function readSplit(ctx: ExecContext, datasetId: string, split: string): Promise<DatasetRecord[]> {
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
export async function itemsWithFewShot(ctx: ExecContext, datasetId: string, split: string, rows: DatasetRecord[], k: number, seed: number, evaluates: boolean, prompt = 0): Promise<GenerationItem[]> {
    const items: GenerationItem[] = rows.map((r) => ({ id: r.id, question: r.question }));
    if (!k) return items;
    const all = await readJsonlFile<DatasetRecord>(join(ctx.input(datasetId).dir, 'records.jsonl'));
    const pool = fewShotPool(all, split, evaluates, ctx.step.id);
    return items.map((it) => ({ ...it, fewShot: fewShotFor(pool, it, k, seed, prompt) }));
}

export async function modelOf(ctx: ExecContext, id: string): Promise<ModelRef> {
    const ref = await readModelRef(ctx.input(id).dir);
    if (ref.kind !== 'server') return ref;
    // The servers and their settings as the spec names them now (the key holds the set of URLs, not their order or settings: see serverConnection).
    const step = ctx.plan.steps.find((s) => s.id === ref.base);
    return step?.kind === 'model' && step.params.source.kind === 'server' && step.params.source.name === ref.name ? withConnection(ref, step.params.source) : ref;
}

/**
 * Answers every item (× samples) with a checkpoint: results already in the checkpoint are not asked
 * again, new ones are appended every few questions, so a killed step resumes where it stopped.
 */
export async function answerAll(
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
    // Throughput and time left across every server of the model (answers from the checkpoint excluded).
    const rate = new RateMeter(count);
    const message = () => [options.label, rate.note(count, total)].filter(Boolean).join(' · ') || undefined;
    if (todo.length) {
        try {
            await ctx.models.generate(ref, todo, decoding, {
                // the whole list: a batched model decodes the same groups whether or not some answers were stored
                all: items,
                samples,
                fewShot: options.fewShot,
                signal: ctx.signal,
                onLog: (level, m) => (level === 'warn' ? ctx.warn(m) : undefined),
                onResult: async (r) => {
                    const key = `${r.id}#${r.sample}`;
                    if (done.has(key)) return;
                    await ck.add({ ...r, id: key, qid: r.id });
                    count++;
                    ctx.progress(Math.min(count, total), total, 'answers', message());
                },
            });
        } finally {
            // Also when generation failed (every server down): the answers given so far are kept, so a rerun asks only the rest.
            await ck.flush();
        }
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

export function decodingWithOffset(d: Decoding, offset: number): Decoding {
    return offset && d.seed !== undefined ? { ...d, seed: d.seed + offset } : offset ? { ...d, seed: offset } : d;
}

export async function readLabels(ctx: ExecContext, id: string): Promise<LabelRow[]> {
    return readJsonlFile<LabelRow>(join(ctx.input(id).dir, 'labels.jsonl'));
}
