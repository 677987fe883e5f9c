/**
 * Property blocks: known keys for the block (with "did you mean"), value types, units, ranges,
 * duplicates; `split` only in datasets, `lora`/`full` only in fine-tunes.
 * Codes: unknown-property, duplicate-property, invalid-value, missing-unit, out-of-range,
 * misplaced-item, conflicting-mode, ignored-property.
 */
import type { AstNode, ValidationAcceptor } from 'langium';
import { isDataset, isFinetune, isFlag, isModel, isProperty, isSplit, type Body, type Experiment, type Property, type Setting, type Split } from '../generated/ast.js';
import { closest } from '../naming.js';
import { PROPERTY_TABLE, blockKindOf, parseNumber, readNumber, readValue, specFor, type BlockKind, type PropertySpec } from '../properties.js';
import { Codes } from './codes.js';
import { pct, report } from './util.js';

const DECLARATION_KEYWORDS = ['world', 'dataset', 'model', 'decoding', 'label', 'knowledge', 'finetune', 'evaluate', 'hypothesis', 'import'];

const BLOCK_WORDS: Record<BlockKind, string> = {
    experiment: 'an experiment',
    world: 'a world',
    'dataset-world': 'a dataset drawn from a world',
    'dataset-file': 'a dataset read from a file',
    'model-gguf': 'a GGUF model',
    'model-server': 'a server model',
    'model-pretrain': 'a pretrained model',
    decoding: 'a decoding',
    label: 'a label step',
    shuffle: 'a shuffle',
    mix: 'a mix',
    knowledge: 'a knowledge step',
    finetune: 'a fine-tune',
    evaluate: 'an evaluation',
    hypothesis: 'a hypothesis',
};

function rangeProblem(spec: PropertySpec, value: number): string | undefined {
    const show = (v: number) => (spec.type === 'share' ? pct(v) : String(v));
    if (spec.min !== undefined && (spec.minExclusive ? value <= spec.min : value < spec.min)) {
        return `\`${spec.key}\` must be ${spec.minExclusive ? 'greater than' : 'at least'} ${show(spec.min)}${spec.max !== undefined ? ` (and at most ${show(spec.max)})` : ''}; it is ${show(value)}.`;
    }
    if (spec.max !== undefined && value > spec.max) {
        return `\`${spec.key}\` must be at most ${show(spec.max)}; it is ${show(value)}.`;
    }
    return undefined;
}

/** Checks one property (or experiment setting) against the table of its block. */
export function checkProperty(kind: BlockKind, prop: Property | Setting, accept: ValidationAcceptor): void {
    const spec = specFor(kind, prop.key);
    if (!spec) {
        const keys = PROPERTY_TABLE[kind].flatMap((p) => [p.key, ...(p.aliases ?? [])]);
        // In an experiment, a misspelt declaration keyword (`modle m = …`) parses as a setting.
        const candidates = kind === 'experiment' ? [...keys, ...DECLARATION_KEYWORDS] : keys;
        const suggestion = closest(prop.key, candidates);
        const known = PROPERTY_TABLE[kind].map((p) => p.key).join(', ');
        report(
            accept,
            'error',
            Codes.unknownProperty,
            `Unknown property \`${prop.key}\` for ${BLOCK_WORDS[kind]}.` + (suggestion ? ` Did you mean \`${suggestion}\`?` : '') + (known ? ` Known: ${known}.` : ' This block takes no properties.'),
            { node: prop, property: 'key', data: { suggestion, key: prop.key, block: kind } },
        );
        return;
    }
    const r = readValue(spec, prop.values ?? []);
    if ('problem' in r) {
        report(accept, 'error', r.code as typeof Codes.invalidValue, r.problem, { node: prop, property: 'values', index: 0, data: { key: spec.key, ...(r.data ?? {}) } });
        return;
    }
    if (typeof r.value === 'number') {
        const problem = rangeProblem(spec, r.value);
        if (problem) report(accept, 'error', Codes.outOfRange, problem, { node: prop, property: 'values', index: 0, data: { key: spec.key, min: spec.min, max: spec.max } });
    }
    if (spec.key === 'template' && typeof r.value === 'string' && r.value !== 'raw' && r.value !== 'chat' && !r.value.includes('{question}')) {
        report(accept, 'error', Codes.invalidValue, `A prompt template is \`raw\`, \`chat\` or a string with \`{question}\` where the question goes, e.g. \`"Q: {question}\\nA:"\`.`, {
            node: prop,
            property: 'values',
            index: 0,
        });
    }
    if ((spec.key === 'abstain' || spec.key === 'stop') && Array.isArray(r.value)) {
        r.value.forEach((v, i) => {
            if (v === '') {
                report(accept, 'error', Codes.invalidValue, `An empty string in \`${spec.key}\` would match every answer.`, { node: prop, property: 'values', index: i });
            } else if (spec.key === 'abstain' && v.length > 2 && v.startsWith('/') && v.lastIndexOf('/') > 0) {
                const body = v.slice(1, v.lastIndexOf('/'));
                const flags = v.slice(v.lastIndexOf('/') + 1);
                try {
                    new RegExp(body, flags);
                } catch (err) {
                    report(accept, 'error', Codes.invalidValue, `\`${v}\` is not a valid pattern: ${(err as Error).message}.`, { node: prop, property: 'values', index: i });
                }
            }
        });
    }
    if (kind === 'experiment' && spec.key === 'redraw' && Array.isArray(r.value)) {
        r.value.forEach((v, i) => {
            if (!spec.values!.includes(v)) {
                const suggestion = closest(v, spec.values!);
                report(accept, 'error', Codes.invalidValue, `A replicate cannot redraw \`${v}\`.` + (suggestion ? ` Did you mean \`${suggestion}\`?` : '') + ` Stages: ${spec.values!.join(', ')}.`, {
                    node: prop,
                    property: 'values',
                    index: i,
                    data: { suggestion, replacement: suggestion },
                });
            }
        });
        if (r.value.includes('all') && r.value.length > 1) {
            report(accept, 'error', Codes.invalidValue, '`redraw all` already redraws every stage; write `all` alone or name the stages.', {
                node: prop,
                property: 'values',
                index: r.value.indexOf('all'),
            });
        }
    }
    if (spec.type === 'names' && spec.values && Array.isArray(r.value) && spec.key === 'targets') {
        r.value.forEach((v, i) => {
            if (!spec.values!.includes(v)) {
                const suggestion = closest(v, spec.values!);
                report(accept, 'error', Codes.invalidValue, `Unknown target \`${v}\`.` + (suggestion ? ` Did you mean \`${suggestion}\`?` : '') + ` Targets: ${spec.values!.join(', ')}.`, {
                    node: prop,
                    property: 'values',
                    index: i,
                    data: { suggestion, replacement: suggestion },
                });
            }
        });
    }
}

function checkDuplicates(kind: BlockKind, props: Array<Property | Setting>, accept: ValidationAcceptor): void {
    const seen = new Map<string, Property | Setting>();
    for (const p of props) {
        const spec = specFor(kind, p.key);
        const key = spec?.key ?? p.key;
        if (seen.has(key)) {
            report(accept, 'error', Codes.duplicateProperty, `\`${key}\` is set twice in this block; keep one.`, { node: p, property: 'key', data: { key } });
        } else {
            seen.set(key, p);
        }
    }
}

function checkSplit(split: Split, accept: ValidationAcceptor): void {
    const n = parseNumber(split.size ?? '');
    if (!n) {
        report(accept, 'error', Codes.invalidValue, `Split \`${split.name}\` needs a size: a share such as \`60%\` or a number of questions.`, { node: split, property: 'size' });
        return;
    }
    if (n.unit === '%') {
        if (n.value <= 0 || n.value > 100)
            report(accept, 'error', Codes.outOfRange, `Split \`${split.name}\` must be more than 0% and at most 100%; it is ${split.size}.`, { node: split, property: 'size' });
        return;
    }
    if (!Number.isInteger(n.value)) {
        const replacement = n.value > 0 && n.value < 1 ? `${Math.round(n.value * 1000) / 10}%` : undefined;
        report(
            accept,
            'error',
            Codes.missingUnit,
            `Split \`${split.name}\` is ${split.size}: write a share with \`%\`` + (replacement ? ` (\`${replacement}\`)` : '') + ' or a whole number of questions.',
            { node: split, property: 'size', data: { unit: '%', replacement } },
        );
        return;
    }
    if (n.value <= 0) report(accept, 'error', Codes.outOfRange, `Split \`${split.name}\` must hold at least one question.`, { node: split, property: 'size' });
}

export function checkBody(body: Body, accept: ValidationAcceptor): void {
    const owner: AstNode | undefined = body.$container;
    if (!owner) return;
    const kind = blockKindOf(owner);
    const props = (body.items ?? []).filter(isProperty);
    for (const item of body.items ?? []) {
        if (isSplit(item)) {
            if (!isDataset(owner)) {
                report(accept, 'error', Codes.misplaced, '`split` belongs in a dataset block, e.g. `dataset d from atlas { split train 60%  split test 40% }`.', { node: item, keyword: 'split' });
            } else {
                checkSplit(item, accept);
            }
        } else if (isFlag(item)) {
            if (!isFinetune(owner)) {
                report(accept, 'error', Codes.misplaced, `\`${item.flag}\` chooses how a fine-tune trains; it belongs in a \`finetune\` block.`, { node: item, property: 'flag' });
            }
        } else if (kind) {
            checkProperty(kind, item, accept);
        }
    }
    if (kind) checkDuplicates(kind, props, accept);

    if (isFinetune(owner)) {
        const flags = (body.items ?? []).filter(isFlag);
        const modes = new Set(flags.map((f) => f.flag));
        if (modes.size > 1) {
            for (const f of flags) report(accept, 'error', Codes.conflictingMode, 'Choose `lora` (train small adapters) or `full` (train every weight), not both.', { node: f, property: 'flag' });
        } else if (modes.has('full')) {
            for (const p of props.filter((p) => ['rank', 'alpha', 'targets'].includes(p.key))) {
                report(accept, 'warning', Codes.ignoredProperty, `\`${p.key}\` is a LoRA setting; it is ignored with \`full\` fine-tuning.`, { node: p, property: 'key' });
            }
        }
    }
    if (isModel(owner) && owner.source === 'pretrain') {
        const width = readNumber('model-pretrain', props, 'width');
        const heads = readNumber('model-pretrain', props, 'heads');
        if (width !== undefined && heads !== undefined && heads > 0 && width % heads !== 0) {
            const p = props.find((x) => x.key === 'heads') ?? props.find((x) => x.key === 'width');
            if (p) report(accept, 'error', Codes.outOfRange, `\`width\` (${width}) must be a multiple of \`heads\` (${heads}).`, { node: p, property: 'values', index: 0 });
        }
    }
}

export function checkSettings(experiment: Experiment, accept: ValidationAcceptor): void {
    for (const s of experiment.settings ?? []) checkProperty('experiment', s, accept);
    checkDuplicates('experiment', experiment.settings ?? [], accept);
    const redraw = (experiment.settings ?? []).find((s) => s.key === 'redraw');
    if (redraw && (readNumber('experiment', experiment.settings ?? [], 'seeds') ?? 1) <= 1) {
        report(accept, 'warning', Codes.ignoredProperty, '`redraw` says what each replicate redraws; with `seeds 1` there is one run. Add `seeds N` (N ≥ 2) for replicates.', {
            node: redraw,
            property: 'key',
        });
    }
}
