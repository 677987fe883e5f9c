/**
 * Hypotheses compare two arms answering the same questions with the same decoding. Codes:
 * same-arm, arm-not-evaluated, arms-different-data, arms-different-decoding (errors), no-logprobs
 * (warning: matched coverage needs token probabilities, which this server model does not return),
 * duplicate-arm (an evaluation lists a model twice), finetune-not-evaluated (warning).
 */
import type { ValidationAcceptor } from 'langium';
import { DiagnosticTag } from 'vscode-languageserver-types';
import { isEvaluate, isFinetune, isHypothesis, type Declaration, type Evaluate, type Hypothesis, type MismatchFile } from '../generated/ast.js';
import { dependenciesOf, evaluationsOf, hypothesisEvaluation, rootModel } from '../experiment.js';
import { propertiesOf, readProperty } from '../properties.js';
import { allDeclarations } from '../scope.js';
import { Codes } from './codes.js';
import { report, stepName } from './util.js';

function dataWords(e: Evaluate): string {
    return `${e.data?.dataset?.$refText ?? '?'}${e.data?.split ? `.${e.data.split.$refText}` : ''}`;
}

export function checkHypothesis(h: Hypothesis, visible: Declaration[], accept: ValidationAcceptor): void {
    const a = h.a?.ref;
    const b = h.b?.ref;
    if (!a || !b) return;
    if (a === b) {
        report(accept, 'error', Codes.hypothesisSameArm, `A hypothesis compares two different arms; both sides are '${a.name}'.`, { node: h, property: 'b' });
        return;
    }
    const chosen = hypothesisEvaluation(h, visible);
    if (h.evaluation?.ref) {
        for (const [side, m] of [
            ['a', a],
            ['b', b],
        ] as const) {
            if (!chosen!.arms?.some((x) => x.model?.ref === m)) {
                report(accept, 'error', Codes.hypothesisNotEvaluated, `'${m.name}' is not an arm of the evaluation '${chosen!.name}'; add it to that \`evaluate\` line.`, {
                    node: h,
                    property: side,
                    data: { arm: m.name },
                });
            }
        }
    } else if (!chosen) {
        const ea = evaluationsOf(a, visible);
        const eb = evaluationsOf(b, visible);
        if (ea.length === 0 || eb.length === 0) {
            for (const [side, m, es] of [
                ['a', a, ea],
                ['b', b, eb],
            ] as const) {
                if (es.length === 0)
                    report(
                        accept,
                        'error',
                        Codes.hypothesisNotEvaluated,
                        `'${m.name}' is never evaluated; add it to an \`evaluate\` line (e.g. \`evaluate ${a.name}, ${b.name} on <dataset>.test\`).`,
                        { node: h, property: side, data: { arm: m.name } },
                    );
            }
            return;
        }
        const x = ea[0];
        const y = eb[0];
        const sameData = x.data?.dataset?.ref === y.data?.dataset?.ref && (x.data?.split?.$refText ?? '') === (y.data?.split?.$refText ?? '');
        const sameDecoding = x.decoding?.ref === y.decoding?.ref;
        if (!sameData) {
            report(
                accept,
                'error',
                Codes.hypothesisDifferentData,
                `'${a.name}' is evaluated on ${dataWords(x)} but '${b.name}' on ${dataWords(y)}: a paired test needs both arms on the same questions. List both in one \`evaluate\`.`,
                { node: h, property: 'b' },
            );
        } else if (!sameDecoding) {
            report(
                accept,
                'error',
                Codes.hypothesisDifferentDecoding,
                `'${a.name}' and '${b.name}' are evaluated with different decodings (${x.decoding?.$refText ?? 'default'} vs ${y.decoding?.$refText ?? 'default'}); the comparison would mix decoding with training. List both in one \`evaluate\`.`,
                { node: h, property: 'b' },
            );
        } else {
            report(
                accept,
                'error',
                Codes.hypothesisNotEvaluated,
                `'${a.name}' and '${b.name}' are evaluated in separate \`evaluate\` lines; list both in one (${stepName(x)}) so they are compared question by question.`,
                { node: h, property: 'b' },
            );
        }
        return;
    }
    if (h.matchedCoverage) {
        for (const [side, m] of [
            ['a', a],
            ['b', b],
        ] as const) {
            const base = rootModel(m);
            if (base?.source === 'server' && readProperty('model-server', propertiesOf(base.body), 'logprobs') === false) {
                report(
                    accept,
                    'warning',
                    Codes.noLogprobs,
                    `Matched coverage ranks answers by their token probabilities, but '${base.name}' is a server model with \`logprobs false\`; the comparison cannot be made for '${m.name}'.`,
                    { node: h, property: side },
                );
            }
        }
    }
}

export function checkEvaluateArms(e: Evaluate, accept: ValidationAcceptor): void {
    const seen = new Set<unknown>();
    (e.arms ?? []).forEach((arm, i) => {
        const m = arm.model?.ref;
        if (!m) return;
        if (seen.has(m)) report(accept, 'warning', Codes.duplicateArm, `'${m.name}' is listed twice in this evaluation.`, { node: e, property: 'arms', index: i });
        seen.add(m);
    });
}

export function checkUnevaluated(file: MismatchFile, visible: Declaration[], accept: ValidationAcceptor): void {
    if (!file.experiments || file.experiments.length === 0) return; // a library of declarations
    const evaluated = new Set(visible.filter(isEvaluate).flatMap((e) => (e.arms ?? []).map((a) => a.model?.ref)));
    const usedAsBase = new Set(visible.filter(isFinetune).map((f) => f.model?.ref));
    for (const ft of allDeclarations(file).filter(isFinetune)) {
        if (!ft.name || evaluated.has(ft) || usedAsBase.has(ft)) continue;
        report(accept, 'warning', Codes.finetuneNotEvaluated, `'${ft.name}' is fine-tuned but never evaluated; add it to an \`evaluate\` line or remove it.`, {
            node: ft,
            property: 'name',
            data: { name: ft.name },
        });
    }
}

/** Declarations that no step reads: a hint, shown faded (a label set nobody fine-tunes on...). */
export function checkUnused(file: MismatchFile, visible: Declaration[], accept: ValidationAcceptor): void {
    if (!file.experiments || file.experiments.length === 0) return; // a library of declarations
    const used = new Set<Declaration>();
    for (const d of visible) {
        for (const dep of dependenciesOf(d)) if (dep !== d) used.add(dep);
        if (isHypothesis(d)) {
            const e = hypothesisEvaluation(d, visible);
            if (e) used.add(e);
        }
    }
    for (const d of allDeclarations(file)) {
        if (!d.name || used.has(d) || isFinetune(d) || isEvaluate(d) || isHypothesis(d)) continue;
        report(accept, 'hint', Codes.unusedStep, `'${d.name}' is not used by any step.`, { node: d, property: 'name', tags: [DiagnosticTag.Unnecessary], data: { name: d.name } });
    }
}
