/**
 * Replicates (`seeds N`, `redraw ...`): which seeded stages a replicate redraws. Pure functions over
 * the Plan (no Langium), shared by the Plan builder and the engine.
 */
import type { Plan, RedrawStage } from './plan-types.js';

/** The seeded stages in pipeline order; `redraw all` (the default) is every one of them. */
export const REDRAW_STAGES: readonly RedrawStage[] = ['facts', 'splits', 'pretraining', 'labels', 'finetuning', 'sampling'];

/** The stages a `redraw` setting names, in pipeline order (`all`, absent or invalid: every stage). */
export function redrawOf(value: unknown): RedrawStage[] {
    const names = Array.isArray(value) ? (value as string[]) : [];
    if (!names.length || names.includes('all') || names.some((n) => !REDRAW_STAGES.includes(n as RedrawStage))) return [...REDRAW_STAGES];
    return REDRAW_STAGES.filter((s) => names.includes(s));
}

/**
 * The stages a replicate actually redraws upstream of `stepId` (its own included): those of the
 * steps it reads, transitively, that run per seed by their own draw. Empty with `seeds 1`.
 */
export function redrawnUpstream(plan: Plan, stepId: string): RedrawStage[] {
    if (plan.seeds <= 1) return [];
    const byId = new Map(plan.steps.map((s) => [s.id, s]));
    const seen = new Set<string>();
    const stages = new Set<RedrawStage>();
    const queue = [stepId];
    while (queue.length) {
        const s = byId.get(queue.pop()!);
        if (!s || seen.has(s.id)) continue;
        seen.add(s.id);
        if (s.stochastic && s.redraw) stages.add(s.redraw);
        queue.push(...s.inputs);
    }
    return REDRAW_STAGES.filter((s) => stages.has(s));
}
