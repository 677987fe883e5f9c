// Child process entry (bundled by esbuild to dist/engine/train-child.js): receives a ResolvedJob,
// trains with ggml through koffi, reports events. See trainer.ts.
import type { FromChild, ToChild } from './types.js';

const send = (m: FromChild) => process.send?.(m);
process.on('message', (m: ToChild) => {
    if (m.type === 'train') send({ type: 'event', event: { type: 'error', message: 'trainer not built yet' } });
});
