/**
 * The evaluate step: every arm answers a split; outcomes, confidences, and the teacher × student
 * knowledge grid of the arms.
 */
import { join } from 'node:path';
import type { EvaluateStep } from '../../language/plan-types.js';
import type { EvaluateMetrics } from '../results-types.js';
import { abstentionMatcher, armMetrics, confidenceFromLogprobs, outcomeOf, type KnowledgeMap } from '../evaluate/index.js';
import { readJsonlFile, writeJsonl } from '../store/index.js';
import { generateWorld, taughtFactIds, taughtSeed } from '../world/index.js';
import type { ExecContext, StepOutcome } from './context.js';
import { stepById, throwIfAborted } from './context.js';
import { readTaught } from './model-pool.js';
import { answerAll, decodingWithOffset, itemsWithFewShot, modelOf, readSplit, type AnswerRow } from './step-io.js';

export async function evaluateStep(ctx: ExecContext, s: EvaluateStep): Promise<StepOutcome> {
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
            return {
                arm: arm.model,
                id: r.id,
                question: r.question,
                gold: r.answers,
                prediction: g.text,
                outcome: outcomeOf(g.text, r.answers, abstains, p.match, g.finish),
                ...confidenceFromLogprobs(g.logprobs),
                ...(knowledge ? { knowledge } : {}),
            };
        });
        if (!ctx.models.logprobs(ref))
            warnings.push(`${arm.model}: the model gives no token log-probabilities, so its risk–coverage curve, calibration error and matched-coverage tests are unavailable`);
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
async function knowledgeGridOf(
    ctx: ExecContext,
    s: EvaluateStep,
    perArm: { arm: string; taught: Set<string> | undefined }[],
    warnings: string[],
): Promise<{ teacher: KnowledgeMap; student: KnowledgeMap } | undefined> {
    const lineages = perArm.map((a) => ({ ...a, ...lineageOf(ctx.plan, a.arm) }));
    const counts = new Map<string, number>();
    for (const l of lineages) if (l.teachers.length) counts.set(l.base, (counts.get(l.base) ?? 0) + 1);
    const student = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (!student) return undefined;
    const teacher = lineages
        .filter((l) => l.base === student)
        .flatMap((l) => l.teachers)
        .find((t) => t !== student);
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
