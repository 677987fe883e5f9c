/**
 * Few-shot exemplars never leak: they are drawn from the dataset's `train` split, never the asked
 * question, and an evaluation never draws them from the split it evaluates. Codes:
 * fewshot-no-train-split (a step asks for exemplars from a dataset without a `train` split),
 * fewshot-evaluated-split (an evaluate step with exemplars evaluates the `train` split, or the
 * whole dataset, which holds it), fewshot-embedded-model (warning: exemplars before a question
 * for a model pretrained here on bare questions, which has never seen such a prompt).
 */
import type { ValidationAcceptor } from 'langium';
import { isSplit, type Evaluate, type Knowledge, type Label } from '../generated/ast.js';
import { rootModel } from '../experiment.js';
import { hasProperty, propertiesOf, readNumber } from '../properties.js';
import { Codes } from './codes.js';
import { report } from './util.js';

/** The split exemplars are drawn from (engine/steps/fewshot.ts reads the same name). */
export const FEW_SHOT_SPLIT = 'train';

/** The number of exemplars a step puts before each question (the Plan's rule). */
export function fewShotOf(step: Label | Knowledge | Evaluate): number | undefined {
    const decodingProps = propertiesOf(step.decoding?.ref?.body);
    if (step.$type === 'Knowledge') {
        const own = propertiesOf(step.body);
        if (hasProperty(own, 'fewShot') || !hasProperty(decodingProps, 'fewShot')) return readNumber('knowledge', own, 'fewShot');
    }
    return readNumber('decoding', decodingProps, 'fewShot');
}

export function checkFewShot(step: Label | Knowledge | Evaluate, accept: ValidationAcceptor): void {
    const k = fewShotOf(step);
    const dataset = step.data?.dataset?.ref;
    if (!k || !dataset) return;
    const where =
        step.$type === 'Knowledge' && hasProperty(propertiesOf(step.body), 'fewShot')
            ? { node: propertiesOf(step.body).find((p) => p.key === 'fewShot')!, property: 'key' as const }
            : { node: step, property: 'data' as const };
    const splits = (dataset.body?.items ?? []).filter(isSplit).map((s) => s.name);
    if (!splits.includes(FEW_SHOT_SPLIT)) {
        const fix = step.$type === 'Knowledge' ? 'set `fewShot 0` on the knowledge step' : 'use a decoding with `fewShot 0`';
        report(
            accept,
            'error',
            Codes.fewShotNoTrainSplit,
            `${k} few-shot exemplars are drawn from the \`${FEW_SHOT_SPLIT}\` split of '${dataset.name}', and it has none${splits.length ? ` (its splits: ${splits.join(', ')})` : ''}: declare \`split ${FEW_SHOT_SPLIT} …\` or ${fix}.`,
            { ...where, data: { dataset: dataset.name } } as Parameters<typeof report>[4],
        );
        return;
    }
    // The embedded models are pretrained on "question answer" lines, one fact each: exemplar lines
    // before the question are text they never saw. Measured (40-land world, 2 × 64 models, seed 7):
    // the student answered 17 of 48 test questions with none, SliCK with 2 exemplars found 5 known.
    const models = step.$type === 'Evaluate' ? (step.arms ?? []).map((a) => a.model?.ref) : [step.model?.ref];
    const embedded = models.map((m) => rootModel(m)).find((m) => m?.source === 'pretrain');
    if (embedded) {
        report(
            accept,
            'warning',
            Codes.fewShotEmbeddedModel,
            `'${embedded.name}' was pretrained here on bare questions and has never seen few-shot exemplars before one; with ${k} of them it may answer less of what it knows. Use \`fewShot 0\` for the embedded models.`,
            { ...where, data: { model: embedded.name } } as Parameters<typeof report>[4],
        );
    }
    const split = step.data?.split?.$refText || undefined;
    if (step.$type === 'Evaluate' && (split === undefined || split === FEW_SHOT_SPLIT)) {
        report(
            accept,
            'error',
            Codes.fewShotEvaluatedSplit,
            `The evaluation's few-shot exemplars come from ${dataset.name}.${FEW_SHOT_SPLIT}, which it evaluates${split ? '' : ' (it reads the whole dataset)'}: the answers would be shown in the prompts. Evaluate another split, or use a decoding with \`fewShot 0\`.`,
            { node: step, property: 'data', data: { dataset: dataset.name } },
        );
    }
}
