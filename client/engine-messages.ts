/**
 * The messages between the extension host (client/engine-host.ts) and the engine's worker thread
 * (client/engine-worker.ts), in one place both sides import. Plain JSON (structured clone).
 */
import type { Plan } from '../language/plan-types.js';
import type { RunSummary } from '../engine/results-types.js';
import type { EngineEvent } from '../engine/events.js';
import type { RunOptions } from '../engine/run.js';

/** What the worker is given: a whole run's options except those that cannot cross a thread. */
export type WorkerRunOptions = Omit<RunOptions, 'signal' | 'onEvent'>;

/** Extension host → worker: start one run, or cancel it (finished steps are kept). */
export type ToEngineWorker = { type: 'run'; plan: Plan; options: WorkerRunOptions } | { type: 'cancel' };

/** Worker → extension host: the engine's events, then exactly one of 'done' or 'error'. */
export type FromEngineWorker = { type: 'event'; event: EngineEvent } | { type: 'done'; summary: RunSummary } | { type: 'error'; message: string; stack?: string };
