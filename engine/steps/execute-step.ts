/**
 * Runs one step: each kind has its executor (`<kind>-executor.ts`), which reads its inputs' store
 * entries, computes, and writes its outputs into `ctx.outDir` (which becomes the store entry). Long
 * generation checkpoints into `ctx.checkpointDir` every few questions; fine-tuning checkpoints
 * through the trainer.
 */
import type { Step } from '../../language/plan-types.js';
import type { ExecContext, StepOutcome } from './context.js';
import { datasetStep } from './dataset-executor.js';
import { evaluateStep } from './evaluate-executor.js';
import { finetuneStep } from './finetune-executor.js';
import { hypothesisStep } from './hypothesis-executor.js';
import { knowledgeStep } from './knowledge-executor.js';
import { labelStep } from './label-executor.js';
import { mixStep } from './mix-executor.js';
import { modelStep } from './model-executor.js';
import { shuffleStep } from './shuffle-executor.js';
import { worldStep } from './world-executor.js';

type Executor<K extends Step['kind']> = (ctx: ExecContext, step: Extract<Step, { kind: K }>) => Promise<StepOutcome>;

const EXECUTORS: { [K in Step['kind']]: Executor<K> } = {
    world: worldStep,
    dataset: datasetStep,
    model: modelStep,
    label: labelStep,
    shuffle: shuffleStep,
    knowledge: knowledgeStep,
    mix: mixStep,
    finetune: finetuneStep,
    evaluate: evaluateStep,
    hypothesis: hypothesisStep,
};

export async function executeStep(ctx: ExecContext): Promise<StepOutcome> {
    const s = ctx.step;
    return (EXECUTORS[s.kind] as Executor<typeof s.kind>)(ctx, s as never);
}

export type { Step };
