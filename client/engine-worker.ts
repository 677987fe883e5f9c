/**
 * The engine's run loop, in a worker thread of the extension host (bundled by esbuild as ESM into
 * dist/client/engine-worker.js). The engine's in-process work (world generation, dataset splits,
 * metrics, bootstrap confidence intervals) can hold a thread for 100 ms and more on the quickstart's
 * sizes; here it never holds the extension host's event loop. Native work still runs in the
 * engine's child processes. Messages: {type:'run', plan, options} and {type:'cancel'} in;
 * {type:'event'|'done'|'error'} out (all plain JSON; typed in client/engine-messages.ts).
 */
import { parentPort } from 'node:worker_threads';
import { runExperiment } from '../engine/run.js';
import type { FromEngineWorker, ToEngineWorker } from './engine-messages.js';

const port = parentPort;
if (!port) throw new Error('engine-worker.js runs as a worker thread');
let controller: AbortController | undefined;
const post = (m: FromEngineWorker) => port.postMessage(m);

port.on('message', (m: ToEngineWorker) => {
    if (m.type === 'cancel') {
        controller?.abort();
        return;
    }
    if (m.type === 'run') {
        controller = new AbortController();
        runExperiment(m.plan, { ...m.options, signal: controller.signal, onEvent: (event) => post({ type: 'event', event }) }).then(
            (summary) => post({ type: 'done', summary }),
            (e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined }),
        );
    }
});
