/**
 * The premise of a comparison on the embedded default: each pretrained model knows what it was
 * taught and not what it was not (its honesty check, engine/models/pretrain.ts). When a model a
 * hypothesis depends on fails that check, the teacher's labels or the student's knowledge are not
 * what the experiment says they are, and the verdict carries a statement saying so. The verdict
 * itself is left as the data gives it; the statement says why it should not be trusted.
 *
 * Pure functions over the plan and the results (no I/O), shared by the CLI, the HTML report and the
 * editor's annotations.
 */
import type { HypothesisMetrics, KnowledgeCheck } from '../results-types.js';
import type { Plan, Step } from '../../language/plan-types.js';

/** Thresholds of the honesty check of a pretrained model (the check itself: engine/models/pretrain.ts). */
export const HONESTY = {
    taughtAccuracy: 0.95,
    /** Untaught accuracy above chance + this margin draws a warning. */
    untaughtMargin: 0.05,
    /** A confidence gap (taught - untaught) below this draws a warning. */
    confidenceGap: 0.3,
} as const;

type Role = 'teacher' | 'student' | 'model';

interface ResultLike {
    step: string;
    kind: string;
    seedIndex?: number;
    metrics?: unknown;
}

/**
 * The pretrained models an arm depends on, with their role: the model it was fine-tuned from
 * (following fine-tunes of fine-tunes) is the student, a model whose answers labelled it the
 * teacher (a model labelling itself stays the student); an arm that is a model is the model.
 */
function modelsOfArm(byId: Map<string, Step>, arm: string, out: Map<string, Role>): void {
    const teachers: string[] = [];
    let step = byId.get(arm);
    let finetuned = false;
    for (let guard = 0; step?.kind === 'finetune' && guard < 100; guard++) {
        finetuned = true;
        let labels = byId.get(step.params.labels);
        for (let g = 0; labels?.kind === 'shuffle' && g < 100; g++) labels = byId.get(labels.params.source);
        if (labels?.kind === 'label') teachers.push(baseOf(byId, labels.params.model));
        step = byId.get(step.params.model);
    }
    if (step?.kind !== 'model') return;
    const base = step.id;
    const set = (id: string, role: Role) => {
        const had = out.get(id);
        // A model that is the student of one arm and the teacher of the other is named as the student.
        if (!had || had === 'model' || role === 'student') out.set(id, role);
    };
    set(base, finetuned ? 'student' : 'model');
    for (const t of teachers) if (t !== base) set(t, 'teacher');
}

function baseOf(byId: Map<string, Step>, id: string): string {
    let step = byId.get(id);
    for (let guard = 0; step?.kind === 'finetune' && guard < 100; guard++) step = byId.get(step.params.model);
    return step?.id ?? id;
}

function isCheck(m: unknown): m is KnowledgeCheck {
    const k = m as KnowledgeCheck | undefined;
    return !!k && typeof k.taughtAccuracy === 'number' && typeof k.taught === 'number' && typeof k.untaught === 'number';
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * The premise statements of each hypothesis (by step id): one per pretrained model it depends on
 * whose honesty check failed, e.g. "teacher knows only 82.7% of the facts it was taught (want ≥
 * 95%): the comparison's premise does not hold". With replicates, how many of them failed and the
 * worst figure.
 */
export function premiseNotes(plan: Pick<Plan, 'steps'>, results: readonly ResultLike[]): Map<string, string[]> {
    const byId = new Map(plan.steps.map((s) => [s.id, s]));
    const notes = new Map<string, string[]>();
    for (const h of plan.steps) {
        if (h.kind !== 'hypothesis') continue;
        const models = new Map<string, Role>();
        modelsOfArm(byId, h.params.a, models);
        modelsOfArm(byId, h.params.b, models);
        const lines: string[] = [];
        for (const [id, role] of models) {
            const m = byId.get(id);
            if (m?.kind !== 'model' || m.params.source.kind !== 'pretrain') continue;
            const checks = results.filter((r) => r.kind === 'model' && r.step === id && isCheck(r.metrics)).map((r) => r.metrics as KnowledgeCheck);
            if (!checks.length) continue;
            const who = id === role ? role : `${role} ${id}`;
            const of = (n: number) => (checks.length > 1 ? ` in ${n} of ${checks.length} replicates` : '');
            const missed = checks.filter((c) => c.taught > 0 && c.taughtAccuracy < HONESTY.taughtAccuracy);
            if (missed.length) {
                const worst = Math.min(...missed.map((c) => c.taughtAccuracy));
                lines.push(
                    `${who} knows only ${checks.length > 1 ? 'as little as ' : ''}${pct(worst)} of the facts it was taught${of(missed.length)} (want ≥ ${pct(HONESTY.taughtAccuracy)}): the comparison's premise does not hold`,
                );
            }
            const leaked = checks.filter((c) => c.untaught > 0 && c.untaughtAccuracy > c.chance + HONESTY.untaughtMargin);
            if (leaked.length) {
                const worst = leaked.reduce((a, c) => (c.untaughtAccuracy - c.chance > a.untaughtAccuracy - a.chance ? c : a));
                lines.push(
                    `${who} answers ${checks.length > 1 ? 'up to ' : ''}${pct(worst.untaughtAccuracy)} of the facts it was not taught${of(leaked.length)}, well above chance (${pct(worst.chance)}): the comparison's premise does not hold`,
                );
            }
        }
        if (lines.length) notes.set(h.id, lines);
    }
    return notes;
}

/** The premise statements come first: they say whether the rest can be read at all. */
function addNotes(h: HypothesisMetrics, extra: string[]): HypothesisMetrics {
    const have = h.notes ?? [];
    return { ...h, notes: [...extra.filter((n) => !have.includes(n)), ...have] };
}

/**
 * The results with each hypothesis's premise statements put first in its notes (shown with every
 * other statement the verdict carries; the editor's line shows the first). Idempotent; results of other kinds are returned as they are.
 * `idOf` maps a result's `step` to the plan's step id (where results carry display titles).
 */
export function withPremises<R extends ResultLike>(plan: Pick<Plan, 'steps'> | undefined, results: R[], idOf: (step: string) => string = (s) => s): R[] {
    if (!plan) return results;
    const byPlanId = results.map((r) => ({ ...r, step: idOf(r.step) }));
    const notes = premiseNotes(plan, byPlanId);
    if (!notes.size) return results;
    return results.map((r) => {
        const extra = r.kind === 'hypothesis' && r.metrics ? notes.get(idOf(r.step)) : undefined;
        if (!extra) return r;
        return { ...r, metrics: addNotes(r.metrics as HypothesisMetrics, extra) };
    });
}

/** A run summary with the premise statements in its step results and its hypotheses alike. */
export function summaryWithPremises<S extends { steps: ResultLike[]; hypotheses: (HypothesisMetrics & { step: string })[] }>(plan: Pick<Plan, 'steps'>, summary: S): S {
    const notes = premiseNotes(plan, summary.steps);
    if (!notes.size) return summary;
    const add = (h: HypothesisMetrics, extra: string[] | undefined): HypothesisMetrics => (extra ? addNotes(h, extra) : h);
    return {
        ...summary,
        steps: summary.steps.map((r) => (r.kind === 'hypothesis' && r.metrics ? { ...r, metrics: add(r.metrics as HypothesisMetrics, notes.get(r.step)) } : r)),
        hypotheses: summary.hypotheses.map((h) => ({ ...add(h, notes.get(h.step)), step: h.step })),
    };
}
