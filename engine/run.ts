/**
 * The engine's entry point: run a Plan (topologically, with per-seed instances, cache hits from the
 * run store, cancellation and resume), or read the results of a Plan from the store without running.
 */
import type { Plan } from '../language/plan-types.js';
import type { EventSink } from './events.js';
import type { RunSummary, StepResult } from './results-types.js';

export type GpuSetting = 'auto' | 'cuda' | 'vulkan' | 'metal' | 'off' | false;

export interface RunOptions {
    /** The run store directory (`.mismatch/` beside the spec by default; the caller decides). */
    storeDir: string;
    /** CPU threads for inference and training (default: available cores). */
    threads?: number;
    /** GPU backend: 'auto' detects CUDA/Vulkan/Metal, 'off' (or false) forces the CPU. */
    gpu?: GpuSetting;
    /** Cancels the run; the step in flight stops at its next checkpoint and nothing done is lost. */
    signal?: AbortSignal;
    onEvent?: EventSink;
    /** Run only this step and the inputs it needs (cache hits where possible). */
    step?: string;
    /** Run every step up to and including this one, in spec order ("Run to here"). */
    to?: string;
    /** Step ids to recompute even when the store holds them. */
    force?: string[];
}

export declare function runExperiment(plan: Plan, options: RunOptions): Promise<RunSummary>;

/** Latest StepResult per step (and per seed index) for this plan, without running anything.
 * Results whose key differs from the plan's current key carry `stale: true`. */
export declare function readResults(plan: Plan, storeDir: string): Promise<StepResult[]>;
