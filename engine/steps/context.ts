/** What a step executor sees: its step, its inputs' store entries, models, progress, cancellation. */
import type { Plan, Step } from '../../language/plan-types.js';
import type { StepResult } from '../results-types.js';
import type { ModelPool } from './model-pool.js';

export interface InstanceOutput {
    step: string;
    seedIndex?: number;
    /** Final store directory of the entry. */
    dir: string;
    result: StepResult;
}

export interface StepOutcome {
    metrics?: StepResult['metrics'];
    warnings?: string[];
}

export interface ExecContext {
    plan: Plan;
    step: Step;
    seedIndex?: number;
    /** Added to every seed the step uses (0 for seed index 0 or seed-independent steps). */
    seedOffset: number;
    /** The temp directory that becomes the store entry. */
    outDir: string;
    /** Kept across kills; in-step checkpoints go here. */
    checkpointDir: string;
    /** The entry of an input step (same seed index, or its single instance). */
    input(stepId: string): InstanceOutput;
    /** Every instance of an input step (all seeds), in seed order. */
    inputsAll(stepId: string): InstanceOutput[];
    models: ModelPool;
    threads: number;
    gpu: 'auto' | 'cuda' | 'vulkan' | 'metal' | false;
    signal?: AbortSignal;
    progress(done: number, total: number, unit: string, message?: string): void;
    metric(values: Record<string, number>): void;
    warn(message: string): void;
}

export function stepById(plan: Plan, id: string): Step {
    const s = plan.steps.find((x) => x.id === id);
    if (!s) throw new Error(`step ${id} is not in the plan`);
    return s;
}

export function throwIfAborted(signal?: AbortSignal): void {
    if (signal?.aborted) {
        const e = new Error('cancelled');
        e.name = 'AbortError';
        throw e;
    }
}
