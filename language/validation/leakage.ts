/**
 * Honest splits. Codes: splits-over-100 (the shares of a dataset's splits add up to more than
 * 100%: they would overlap), train-test-leakage (an arm is evaluated on questions it was
 * fine-tuned on), possible-leakage (training and test data are split separately from the same
 * source, so their questions may overlap), knowledge-other-data (SliCK categories of other questions).
 */
import type { ValidationAcceptor } from 'langium';
import { isSplit, type Dataset, type Evaluate } from '../generated/ast.js';
import { trainingDataOf } from '../experiment.js';
import { parseNumber, unquote } from '../properties.js';
import { Codes } from './codes.js';
import { pct, report, stepName } from './util.js';
import { kindWord } from '../naming.js';

export function checkSplits(dataset: Dataset, accept: ValidationAcceptor): void {
    const splits = (dataset.body?.items ?? []).filter(isSplit);
    let total = 0;
    for (const s of splits) {
        const n = parseNumber(s.size ?? '');
        if (n?.unit === '%') total += n.value / 100;
    }
    // `split train 60  split test 40` is 100 questions; most likely 60% and 40% were meant.
    const counts = splits.map((s) => parseNumber(s.size ?? ''));
    if (splits.length > 1 && counts.every((n) => n && !n.unit) && counts.reduce((a, n) => a + (n?.value ?? 0), 0) === 100) {
        for (const s of splits) {
            report(accept, 'warning', Codes.missingUnit, `\`split ${s.name} ${s.size}\` is ${s.size} questions, and the splits add up to exactly 100: did you mean \`${s.size}%\`?`, {
                node: s,
                property: 'size',
                data: { unit: '%', replacement: `${s.size}%` },
            });
        }
    }
    if (total > 1 + 1e-9) {
        const last = splits[splits.length - 1];
        report(accept, 'error', Codes.splitsOver100, `The splits of '${dataset.name}' add up to ${pct(total)}; they must not exceed 100%, or the same questions land in two splits.`, {
            node: last,
            property: 'size',
            data: { total },
        });
    }
}

function sourceOf(d: Dataset): string | undefined {
    if (d.world?.ref) return `world:${d.world.ref.name}`;
    if (d.path) return `file:${unquote(d.path)}`;
    return undefined;
}

export function checkLeakage(evaluate: Evaluate, accept: ValidationAcceptor): void {
    const dataset = evaluate.data?.dataset?.ref;
    if (!dataset) return;
    const split = evaluate.data?.split?.$refText || undefined;
    const shown = `${dataset.name}${split ? `.${split}` : ''}`;
    const reported = new Set<string>();
    for (const arm of evaluate.arms ?? []) {
        const m = arm.model?.ref;
        if (!m) continue;
        for (const t of trainingDataOf(m)) {
            const key = `${m.name}|${t.finetune.name}`;
            if (reported.has(key)) continue;
            const trained = `${t.dataset.name}${t.split ? `.${t.split}` : ''}`;
            if (t.dataset === dataset && (t.split === split || !t.split || !split)) {
                reported.add(key);
                report(
                    accept,
                    'error',
                    Codes.leakage,
                    `Train/test leakage: '${m.name}' is evaluated on ${shown}, but it was fine-tuned on ${trained} (fine-tune ${stepName(t.finetune)}, ${kindWord(t.via)} ${stepName(t.via)}). Label one split and evaluate on another (e.g. \`${dataset.name}.train\` and \`${dataset.name}.test\`).`,
                    { node: evaluate, property: 'data', data: { arm: m.name, trainedOn: trained } },
                );
            } else if (t.dataset !== dataset && sourceOf(t.dataset) !== undefined && sourceOf(t.dataset) === sourceOf(dataset)) {
                reported.add(key);
                report(
                    accept,
                    'warning',
                    Codes.possibleLeakage,
                    `'${m.name}' was fine-tuned on ${trained} and is evaluated on ${shown}: both are drawn from the same source but split separately, so questions may overlap. Declare one dataset with both splits.`,
                    { node: evaluate, property: 'data', data: { arm: m.name } },
                );
            }
        }
    }
    evaluate.knowledge.forEach((kr, index) => {
        const k = kr.ref;
        if (k?.data?.dataset?.ref && (k.data.dataset.ref !== dataset || (k.data.split?.$refText || undefined) !== split)) {
            report(
                accept,
                'error',
                Codes.knowledgeOtherData,
                `The knowledge step ${stepName(k)} categorises ${k.data.dataset.ref.name}${k.data.split?.$refText ? `.${k.data.split.$refText}` : ''}, not the evaluated ${shown}; slice by knowledge of the same questions.`,
                { node: evaluate, property: 'knowledge', index },
            );
        }
    });
}
