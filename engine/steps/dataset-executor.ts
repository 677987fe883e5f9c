/** The dataset step: loads (or generates from a world) the questions and stores them with their splits. */
import { join } from 'node:path';
import type { DatasetStep } from '../../language/plan-types.js';
import { loadDataset } from '../datasets/index.js';
import { writeJsonl } from '../store/index.js';
import type { ExecContext, StepOutcome } from './context.js';
import { worldParamsOf } from './step-io.js';

export async function datasetStep(ctx: ExecContext, s: DatasetStep): Promise<StepOutcome> {
    const src = s.params.source;
    const world = src.kind === 'world' ? await worldParamsOf(ctx, src.world) : undefined;
    const d = await loadDataset(src, s.params.splits, s.params.seed + ctx.seedOffset, { dedupe: s.params.dedupe, world, signal: ctx.signal });
    await writeJsonl(
        join(ctx.outDir, 'records.jsonl'),
        d.records.map((r) => ({ id: r.id, question: r.question, answers: r.answers, split: r.split, line: r.line })),
    );
    const splits: Record<string, number> = {};
    for (const r of d.records) splits[r.split!] = (splits[r.split!] ?? 0) + 1;
    return { metrics: { total: d.records.length, splits, duplicatesDropped: d.dropped }, warnings: d.warnings };
}
