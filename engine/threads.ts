import { availableParallelism } from 'node:os';

/**
 * The default CPU thread count for inference and training: every core but one, at most 8.
 * ggml's worker threads spin at each op's barrier, so one descheduled thread stalls them all: on a
 * 2-core machine with anything else running (the editor, the CLI's own event loop), 2 threads
 * measured 8-20x slower than 1 for the embedded models. `--threads` / `mismatch.threads` override.
 */
export function defaultThreads(): number {
    return Math.max(1, Math.min(8, availableParallelism() - 1));
}
