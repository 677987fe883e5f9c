/**
 * Reproducible sampling: a temperature above 0 without a seed (on the decoding, the knowledge step,
 * or the experiment) draws different answers on each run. Code unseeded-sampling (warning); the
 * quick fix inserts `data.insert` (`seed 1`) in the block.
 */
import type { ValidationAcceptor } from 'langium';
import type { Decoding, Knowledge } from '../generated/ast.js';
import { experimentOf } from '../experiment.js';
import { hasProperty, propertiesOf, readNumber } from '../properties.js';
import { Codes } from './codes.js';
import { report, stepLocation } from './util.js';

function experimentSeeded(node: Decoding | Knowledge): boolean {
    const e = experimentOf(node);
    return !!e && (e.settings ?? []).some((s) => s.key === 'seed');
}

export function checkDecodingSeed(decoding: Decoding, accept: ValidationAcceptor): void {
    const props = propertiesOf(decoding.body);
    const t = readNumber('decoding', props, 'temperature');
    if (t === undefined || t <= 0 || hasProperty(props, 'seed') || experimentSeeded(decoding)) return;
    const p = props.find((x) => x.key === 'temperature')!;
    report(accept, 'warning', Codes.unseededSampling, `Sampling at temperature ${t} without a seed gives different answers on each run; add \`seed 1\` here (or \`seed\` to the experiment).`, {
        node: p,
        property: 'key',
        data: { insert: 'seed 1' },
    });
}

export function checkKnowledgeSeed(k: Knowledge, accept: ValidationAcceptor): void {
    const props = propertiesOf(k.body);
    const t = readNumber('knowledge', props, 'temperature');
    if (t === undefined || t <= 0 || hasProperty(props, 'seed') || experimentSeeded(k)) return;
    const decodingProps = propertiesOf(k.decoding?.ref?.body);
    if (hasProperty(decodingProps, 'seed')) return;
    const p = props.find((x) => x.key === 'temperature');
    const where = p ? { node: p, property: 'key' as const } : stepLocation(k);
    report(
        accept,
        'warning',
        Codes.unseededSampling,
        `The knowledge step samples ${readNumber('knowledge', props, 'samples')} answers at temperature ${t} without a seed; add \`seed 1\` to make its categories reproducible.`,
        {
            ...where,
            data: { insert: 'seed 1' },
        } as Parameters<typeof report>[4],
    );
}
