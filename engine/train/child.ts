// Child process entry (bundled by esbuild to dist/engine/train-child.js; tests bundle it on demand,
// see parent.ts resolveChildPath). Receives one ResolvedJob, trains with ggml through koffi, reports
// typed events. A native abort kills only this process; the parent turns that into an error.
import { runTraining, Cancelled } from './trainer.js';
import type { FromChild, ToChild } from './types.js';
import { loadGgml } from './ffi.js';

let cancelled = false;
let running = false;

function send(m: FromChild): Promise<void> {
    return new Promise((resolve) => {
        if (!process.send) {
            resolve();
            return;
        }
        process.send(m, undefined, {}, () => resolve());
    });
}

process.on('message', (m: ToChild) => {
    if (m.type === 'cancel') {
        cancelled = true;
        return;
    }
    if (m.type !== 'train' || running) return;
    running = true;
    if (process.env.MISMATCH_TRAIN_SELFTEST === 'native-abort') nativeAbort(); // tests: a real GGML_ASSERT
    runTraining(m.job, {
        emit: (event) => {
            void send({ type: 'event', event });
        },
        cancelled: () => cancelled,
        pause: () => new Promise((r) => setImmediate(r)),
    }).then(
        async (result) => {
            await send({ type: 'event', event: { type: 'done', result } });
            process.exit(0);
        },
        async (e: unknown) => {
            const message = e instanceof Cancelled ? 'training cancelled' : ((e as Error)?.message ?? String(e));
            await send({ type: 'event', event: { type: 'error', message } });
            process.exit(1);
        },
    );
});

/** Provokes a real ggml assert (reshape to a wrong element count) so tests see how an abort surfaces. */
function nativeAbort() {
    const g = loadGgml('off');
    const ctx = g.init(1 << 16, true);
    const t = g.f.ggml_new_tensor_1d(ctx, 0, 10);
    g.f.ggml_reshape_2d(ctx, t, 3, 3);
}

process.on('disconnect', () => process.exit(2)); // the parent is gone: stop
