/** The mix step: a Gekhman fine-tuning set with a chosen share of Unknown examples. */
import { join } from 'node:path';
import type { MixStep } from '../../language/plan-types.js';
import { unitHashOf } from '../datasets/index.js';
import { readJsonlFile, writeJsonl } from '../store/index.js';
import type { ExecContext, StepOutcome } from './context.js';
import type { SlickCategory } from './knowledge-executor.js';
import type { LabelRow } from './step-io.js';

/**
 * Gekhman mix: a fine-tuning set whose share of Unknown examples is `unknown`, with gold labels.
 * Size defaults to the largest the categories allow. Seeded, order-independent choice.
 */
export function mixExamples(
    rows: { id: string; question: string; answers: string[]; category: SlickCategory }[],
    unknown: number,
    seed: number,
    size?: number,
): { rows: LabelRow[]; size: number; unknown: number; known: number } {
    const rank = (xs: typeof rows) =>
        xs
            .map((r) => ({ r, u: unitHashOf(`mix:${seed}:${r.id}`) }))
            .sort((a, b) => a.u - b.u)
            .map((x) => x.r);
    const unk = rank(rows.filter((r) => r.category === 'Unknown'));
    const known = rank(rows.filter((r) => r.category !== 'Unknown'));
    let n = size ?? Infinity;
    if (size === undefined) {
        if (unknown > 0) n = Math.min(n, Math.floor(unk.length / unknown));
        if (unknown < 1) n = Math.min(n, Math.floor(known.length / (1 - unknown)));
        if (!Number.isFinite(n)) n = unk.length + known.length;
    }
    const nU = Math.round(unknown * n);
    const nK = n - nU;
    if (nU > unk.length || nK > known.length)
        throw new Error(`a mix of ${n} examples with ${Math.round(unknown * 100)}% Unknown needs ${nU} Unknown and ${nK} known questions; there are ${unk.length} and ${known.length}`);
    const pick = [...unk.slice(0, nU), ...known.slice(0, nK)];
    return {
        rows: pick.map((r) => ({ id: r.id, question: r.question, answers: r.answers, prediction: '', correct: true, label: r.answers[0], abstain: false, confidence: null, category: r.category })),
        size: n,
        unknown: nU,
        known: nK,
    };
}

export async function mixStep(ctx: ExecContext, s: MixStep): Promise<StepOutcome> {
    const rows = await readJsonlFile<{ id: string; question: string; answers: string[]; category: SlickCategory }>(join(ctx.input(s.params.knowledge).dir, 'knowledge.jsonl'));
    const m = mixExamples(rows, s.params.unknown, s.params.seed + ctx.seedOffset, s.params.size);
    await writeJsonl(join(ctx.outDir, 'labels.jsonl'), m.rows);
    return { metrics: { total: m.size, unknown: m.unknown, known: m.known, unknownShare: m.size ? m.unknown / m.size : 0 } };
}
