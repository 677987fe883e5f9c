// Loads the engine bundle (ESM, dist/client/engine.js) into the extension host on first use (for
// reading results and plot specs), and runs plans in a worker thread (dist/client/engine-worker.js).
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Plan } from '../language/plan-types.js';
import type { RunSummary } from '../engine/results-types.js';
import type { EngineEvent } from '../engine/events.js';
import type { FromEngineWorker, ToEngineWorker, WorkerRunOptions } from './engine-messages.js';

export type EngineApi = typeof import('./engine-api.js');

let loading: Promise<EngineApi> | undefined;

/** The engine's API. `extensionPath` is the extension's root (dist/ lives under it). */
export function loadEngine(extensionPath: string): Promise<EngineApi> {
    // A dynamic import() that esbuild leaves alone (the path is not a literal), so the CJS
    // extension bundle loads the ESM engine bundle at run time.
    const url = pathToFileURL(path.join(extensionPath, 'dist', 'client', 'engine.js')).href;
    loading ??= (import(/* webpackIgnore: true */ url) as Promise<EngineApi>).catch((e: unknown) => {
        loading = undefined;
        throw e;
    });
    return loading;
}

/**
 * Runs a plan with the engine in a worker thread (dist/client/engine-worker.js), so the extension
 * host's event loop only relays events. Cancelling the signal asks the engine to stop at its next
 * checkpoint (finished steps are kept); the promise then resolves with a 'cancelled' summary.
 */
export function runInWorker(extensionPath: string, plan: Plan, options: WorkerRunOptions, onEvent: (e: EngineEvent) => void, signal: AbortSignal): Promise<RunSummary> {
    return new Promise((resolve, reject) => {
        const worker = new Worker(path.join(extensionPath, 'dist', 'client', 'engine-worker.js'));
        let settled = false;
        const finish = (f: () => void) => {
            if (settled) return;
            settled = true;
            signal.removeEventListener('abort', onAbort);
            f();
            void worker.terminate();
        };
        const onAbort = () => worker.postMessage({ type: 'cancel' } satisfies ToEngineWorker);
        signal.addEventListener('abort', onAbort);
        worker.on('message', (m: FromEngineWorker) => {
            if (m.type === 'event') onEvent(m.event);
            else if (m.type === 'done') finish(() => resolve(m.summary));
            else if (m.type === 'error') finish(() => reject(Object.assign(new Error(m.message), { stack: m.stack ?? m.message })));
        });
        worker.on('error', (e) => finish(() => reject(e)));
        worker.on('exit', (code) => finish(() => reject(new Error(`the engine worker exited (${code}) before the run finished`))));
        worker.postMessage({ type: 'run', plan, options } satisfies ToEngineWorker);
        if (signal.aborted) onAbort();
    });
}
