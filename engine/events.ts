/**
 * Typed events emitted by the engine while it runs a Plan. The engine never prints: the CLI renders
 * these as progress bars / plain lines, the extension as progress notifications, decorations and an
 * output channel. Every event is plain JSON (it crosses process boundaries unchanged).
 */
import type { StepKind } from '../language/plan-types.js';
import type { RunSummary, StepResult } from './results-types.js';

/** Identifies one step instance: a step, and for per-seed instances (`seeds N`) its seed index. */
export interface StepRef {
    step: string;
    kind: StepKind;
    /** 0-based seed index for per-seed instances; absent for seed-independent steps. */
    seedIndex?: number;
}

/** Where a problem is, for located errors and warnings (1-based line as printed). */
export interface Location {
    file: string;
    line?: number;
    field?: string;
}

export type EngineEvent =
    | { type: 'run-started'; experiment: string; storeDir: string; instances: StepRef[]; time: string }
    | (StepRef & { type: 'step-started'; key: string; time: string })
    | (StepRef & {
          type: 'step-progress';
          /** Units done so far and the total (questions, training steps, samples...). */
          done: number;
          total: number;
          unit: string;
          message?: string;
      })
    /** In-flight numbers (e.g. training loss per step); final metrics come with step-finished. */
    | (StepRef & { type: 'metrics'; values: Record<string, number> })
    | (StepRef & { type: 'step-finished'; result: StepResult })
    /** The step's result was found in the run store: nothing was computed. */
    | (StepRef & { type: 'step-cached'; result: StepResult })
    | (StepRef & { type: 'step-failed'; result: StepResult; error: { message: string; detail?: string; location?: Location } })
    | (Partial<StepRef> & { type: 'log'; level: 'info' | 'warn' | 'error'; message: string; location?: Location })
    | { type: 'run-finished'; summary: RunSummary };

export type EngineEventType = EngineEvent['type'];

export type EventSink = (event: EngineEvent) => void;

/** A sink that drops everything (engine code always has a sink to call). */
export const noEvents: EventSink = () => {};
