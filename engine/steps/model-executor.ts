/** The model step: a local GGUF, a server, or a model pretrained on the embedded world; writes model.json. */
import { existsSync } from 'node:fs';
import type { ModelStep } from '../../language/plan-types.js';
import type { ExecContext, StepOutcome } from './context.js';
import { writeModelRef, type ModelRef } from './model-pool.js';
import { serverConnection } from '../models/server.js';
import { runPretrain } from './pretrain-bridge.js';
import { worldParamsOf } from './step-io.js';

export async function modelStep(ctx: ExecContext, s: ModelStep): Promise<StepOutcome> {
    const src = s.params.source;
    if (src.kind === 'gguf') {
        if (!existsSync(src.path)) throw new Error(`model file not found: ${src.path}`);
        await writeModelRef(ctx.outDir, { kind: 'local', path: src.path, lora: [], base: s.id, ...(s.params.template ? { template: s.params.template } : {}) });
        return { metrics: { path: src.path } };
    }
    if (src.kind === 'server') {
        const ref: ModelRef = {
            kind: 'server',
            base: s.id,
            ...(s.params.template ? { template: s.params.template } : {}),
            name: src.name,
            api: src.api,
            logprobs: src.logprobs,
            ...serverConnection(src),
        };
        await writeModelRef(ctx.outDir, ref);
        return { metrics: { url: src.url, ...(src.urls ? { urls: src.urls } : {}), name: src.name, api: src.api } };
    }
    const world = await worldParamsOf(ctx, src.world);
    const r = await runPretrain(ctx, { ...src, seed: src.seed + ctx.seedOffset }, world);
    await writeModelRef(ctx.outDir, { kind: 'local', path: r.modelFile, lora: [], taught: 'taught.json', base: s.id, ...(s.params.template ? { template: s.params.template } : {}) });
    return { metrics: r.metrics, warnings: r.warnings };
}
