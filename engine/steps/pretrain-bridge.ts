/**
 * The bridge to the embedded default's pretraining (engine/models/pretrain.ts): pretrains in the step's checkpoint directory (so the trainer resumes
 * after a kill), then copies the model, taught.json and knowledge.json into the store entry.
 */
import { copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSource } from '../../language/plan-types.js';
import { pretrainModel } from '../models/pretrain.js';
import { generateWorld, type WorldParams } from '../world/index.js';
import type { ExecContext } from './context.js';

export interface PretrainOutcome {
    /** Model file name inside ctx.outDir. */
    modelFile: string;
    metrics: Record<string, unknown>;
    warnings: string[];
}

export async function runPretrain(ctx: ExecContext, source: Extract<ModelSource, { kind: 'pretrain' }>, params: WorldParams): Promise<PretrainOutcome> {
    const warnings: string[] = [];
    const work = join(ctx.checkpointDir, 'pretrain');
    // The caller offsets `seed` for a replicate; a `factsSeed` the spec sets is offset alike here.
    const src = source.factsSeed === undefined ? source : { ...source, factsSeed: source.factsSeed + ctx.seedOffset };
    const r = await pretrainModel({
        source: src,
        world: generateWorld(params),
        outDir: work,
        name: ctx.step.id,
        threads: ctx.threads,
        gpu: ctx.gpu,
        signal: ctx.signal,
        onEvent: (e) => {
            if (e.type === 'step-progress') ctx.progress(e.done, e.total, e.unit, e.message);
            else if (e.type === 'metrics') ctx.metric(e.values);
            else if (e.type === 'log' && e.level === 'warn') warnings.push(e.message);
        },
    });
    await copyFile(r.ggufPath, join(ctx.outDir, 'model.gguf'));
    for (const f of ['taught.json', 'knowledge.json']) if (existsSync(join(work, f))) await copyFile(join(work, f), join(ctx.outDir, f));
    const t = r.train;
    return {
        modelFile: 'model.gguf',
        metrics: {
            ...r.knowledgeCheck,
            pretrain: { epochs: t.epochs, steps: t.steps, finalTrainLoss: t.finalTrainLoss, trainSeconds: t.trainSeconds, params: t.totalParams, device: t.device },
        },
        warnings: [...new Set([...warnings, ...r.knowledgeCheck.warnings])],
    };
}
