/** The knowledge step: SliCK categories (Gekhman et al. 2024) of a model on a split. */
import { join } from 'node:path';
import type { KnowledgeStep } from '../../language/plan-types.js';
import { matchesGold } from '../evaluate/index.js';
import type { GenerationItem, GenerationResult } from '../models/types.js';
import { writeJsonl } from '../store/index.js';
import type { ExecContext, StepOutcome } from './context.js';
import { answerAll, itemsWithFewShot, modelOf, readSplit } from './step-io.js';

export type SlickCategory = 'HighlyKnown' | 'MaybeKnown' | 'WeaklyKnown' | 'Unknown';
export const SLICK_ORDER: SlickCategory[] = ['HighlyKnown', 'MaybeKnown', 'WeaklyKnown', 'Unknown'];

/**
 * SliCK (Gekhman et al. 2024, §3). Each question is asked with Nex different few-shot prompts
 * (the paper: 10 prompts of 4 random exemplars); per prompt, one greedy answer and several samples
 * at temperature T (the paper: 16 at T = 0.5). P_greedy = share of prompts whose greedy answer is
 * right; P_sample = share of samples that are right.
 *   HighlyKnown: P_greedy = 1 (the greedy answer is right with every prompt);
 *   MaybeKnown:  0 < P_greedy < 1;
 *   WeaklyKnown: P_greedy = 0 and P_sample > 0;
 *   Unknown:     P_greedy = 0 and P_sample = 0.
 * Known = the first three. `greedyCorrect` of `prompts` greedy answers were right, `samplesCorrect`
 * samples (over all prompts) were right.
 */
export function slickCategory(greedyCorrect: number, prompts: number, samplesCorrect: number): SlickCategory {
    if (!(prompts >= 1) || greedyCorrect < 0 || greedyCorrect > prompts || samplesCorrect < 0)
        throw new Error(`SliCK: ${greedyCorrect} right greedy answers of ${prompts} prompts, ${samplesCorrect} right samples`);
    if (greedyCorrect === prompts) return 'HighlyKnown';
    if (greedyCorrect > 0) return 'MaybeKnown';
    return samplesCorrect > 0 ? 'WeaklyKnown' : 'Unknown';
}

/**
 * SliCK as published (Gekhman et al. 2024, §3; definitions in `slickCategory` above): each question
 * is asked with `prompts` few-shot prompts of `decoding.fewShot` random exemplars each (drawn per
 * question and prompt, never the question itself); per prompt one greedy answer and `samples`
 * answers at `temperature`; answers are matched with the step's `match`. With fewShot 0 every
 * prompt is the same text, so one prompt stands for all (its greedy answer would repeat).
 */
export async function knowledgeStep(ctx: ExecContext, s: KnowledgeStep): Promise<StepOutcome> {
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
    const sampled =
        p.samples > 0
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
        return {
            id: r.id,
            question: r.question,
            answers: r.answers,
            prompts,
            greedyCorrect,
            samplesCorrect,
            samples: prompts * p.samples,
            category: slickCategory(greedyCorrect, prompts, samplesCorrect),
        };
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
