/** The label step: a model answers a split, and each answer becomes a training label (R-Tuning style). */
import { join } from 'node:path';
import type { LabelStep } from '../../language/plan-types.js';
import type { LabelMetrics } from '../results-types.js';
import { confidenceFromLogprobs, matchesGold } from '../evaluate/index.js';
import { writeJsonl } from '../store/index.js';
import type { ExecContext, StepOutcome } from './context.js';
import { answerAll, decodingWithOffset, itemsWithFewShot, modelOf, readSplit, type LabelRow } from './step-io.js';

/** R-Tuning style labels: a correct answer keeps the gold answer, anything else becomes `otherwise`. */
export function labelFor(answers: string[], correct: boolean, otherwise: string): { label: string; abstain: boolean } {
    return correct ? { label: answers[0], abstain: false } : { label: otherwise, abstain: true };
}

export async function labelStep(ctx: ExecContext, s: LabelStep): Promise<StepOutcome> {
    const p = s.params;
    const rows = await readSplit(ctx, p.dataset, p.split);
    const ref = await modelOf(ctx, p.model);
    const decoding = decodingWithOffset(p.decoding, ctx.seedOffset);
    const items = await itemsWithFewShot(ctx, p.dataset, p.split, rows, p.decoding.fewShot, decoding.seed ?? 0, false);
    const answers = await answerAll(ctx, ref, items, decoding, 'answers.jsonl');
    const labels: LabelRow[] = rows.map((r) => {
        const g = answers.get(r.id)![0];
        const correct = matchesGold(g.text, r.answers, p.match);
        return {
            id: r.id,
            question: r.question,
            answers: r.answers,
            prediction: g.text,
            correct,
            ...labelFor(r.answers, correct, p.otherwise),
            confidence: confidenceFromLogprobs(g.logprobs).confidence,
        };
    });
    await writeJsonl(join(ctx.outDir, 'labels.jsonl'), labels);
    const kept = labels.filter((l) => !l.abstain).length;
    const m: LabelMetrics = { total: labels.length, kept, replaced: labels.length - kept };
    return { metrics: m };
}
