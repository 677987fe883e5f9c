/** The shuffle control: as many abstention labels as its source, on questions drawn at random. */
import { join } from 'node:path';
import type { ShuffleStep } from '../../language/plan-types.js';
import { unitHashOf } from '../datasets/index.js';
import { writeJsonl } from '../store/index.js';
import type { ExecContext, StepOutcome } from './context.js';
import { readLabels, type LabelRow } from './step-io.js';

/**
 * The shuffle control: exactly as many abstention labels as `source`, on questions drawn at random
 * (seeded, independent of row order: ranked by hash(seed:id)); gold answers everywhere else.
 */
export function shuffleLabels(source: LabelRow[], seed: number, otherwise?: string): LabelRow[] {
    const k = source.filter((r) => r.abstain).length;
    const abstainText = otherwise ?? source.find((r) => r.abstain)?.label ?? "I don't know";
    const ranked = source.map((r) => ({ id: r.id, u: unitHashOf(`shuffle:${seed}:${r.id}`) })).sort((a, b) => a.u - b.u || (a.id < b.id ? -1 : 1));
    const chosen = new Set(ranked.slice(0, k).map((r) => r.id));
    return source.map((r) =>
        chosen.has(r.id) ? { ...r, prediction: '', correct: false, label: abstainText, abstain: true } : { ...r, prediction: '', correct: true, label: r.answers[0], abstain: false },
    );
}

export async function shuffleStep(ctx: ExecContext, s: ShuffleStep): Promise<StepOutcome> {
    const src = await readLabels(ctx, s.params.source);
    const out = shuffleLabels(src, s.params.seed + ctx.seedOffset);
    await writeJsonl(join(ctx.outDir, 'labels.jsonl'), out);
    const kept = out.filter((l) => !l.abstain).length;
    // How many abstentions landed where the source had them (chance level: k²/n on average).
    const srcAbstain = new Set(src.filter((r) => r.abstain).map((r) => r.id));
    const overlap = out.filter((r) => r.abstain && srcAbstain.has(r.id)).length;
    return { metrics: { total: out.length, kept, replaced: out.length - kept, overlapWithSource: overlap } };
}
