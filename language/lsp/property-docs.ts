/**
 * Property keys as completion and hover show them, read from the validator's table
 * (`language/properties.ts`): the type, unit, range and default in one line, then the documentation.
 */
import type { AstNode } from 'langium';
import { blockKindOf as tableKindOf, PROPERTY_TABLE, specFor, type BlockKind, type PropertySpec } from '../properties.js';

export type { BlockKind };

export interface PropertyDoc {
    key: string;
    type: PropertySpec['type'];
    /** One line: type, range, default. */
    detail: string;
    /** Markdown. */
    doc: string;
    repeatable?: boolean;
    snippet?: string;
    values?: string[];
}

/** Keys of a file dataset that name a field of the records (completed from the file's first rows). */
export const FIELD_KEYS = new Set(['question', 'answers', 'id']);

export function blockKindOf(owner: AstNode | undefined): BlockKind | undefined {
    return owner ? tableKindOf(owner) : undefined;
}

function formatDefault(v: PropertySpec['default']): string | undefined {
    if (v === undefined) return undefined;
    if (Array.isArray(v)) return v.map((s) => JSON.stringify(s)).join(', ');
    if (typeof v === 'string') return JSON.stringify(v);
    return String(v);
}

function typeWords(spec: PropertySpec): string {
    switch (spec.type) {
        case 'integer':
            return 'whole number (`k`, `M` allowed)';
        case 'number':
            return 'number';
        case 'share':
            return 'share (`60%` or 0–1)';
        case 'string':
            return 'string';
        case 'strings':
            return 'strings, comma-separated';
        case 'names':
            return 'names, comma-separated';
        case 'boolean':
            return '`true` or `false`';
        case 'enum':
            return (spec.values ?? []).map((v) => `\`${v}\``).join(' | ');
    }
}

function range(spec: PropertySpec): string | undefined {
    if (spec.min === undefined && spec.max === undefined) return undefined;
    const lo = spec.min === undefined ? '' : `${spec.minExclusive ? '>' : '≥'} ${spec.min}`;
    const hi = spec.max === undefined ? '' : `≤ ${spec.max}`;
    return [lo, hi].filter(Boolean).join(', ');
}

export function toPropertyDoc(spec: PropertySpec, kind: BlockKind): PropertyDoc {
    const parts = [typeWords(spec).replace(/`/g, '')];
    const r = range(spec);
    if (r) parts.push(r);
    const d = formatDefault(spec.default);
    if (d !== undefined) parts.push(`default ${d}`);
    const lines = [`**${spec.key}**: ${typeWords(spec)}`, '', spec.doc];
    if (r) lines.push('', `Range: ${r}.`);
    if (d !== undefined) lines.push('', `Default: \`${d}\`.`);
    if (spec.aliases?.length) lines.push('', `Also written: ${spec.aliases.map((a) => `\`${a}\``).join(', ')}.`);
    if (kind === 'dataset-file' && FIELD_KEYS.has(spec.key)) lines.push('', "Completion inside the quotes lists the fields of the file's first records.");
    return {
        key: spec.key,
        type: spec.type,
        detail: parts.join(' · '),
        doc: lines.join('\n'),
        values: spec.values,
        repeatable: spec.type === 'strings' && false,
    };
}

export function propertiesOf(kind: BlockKind | string): PropertyDoc[] {
    const specs = (PROPERTY_TABLE as Record<string, PropertySpec[] | undefined>)[kind] ?? [];
    return specs.map((s) => toPropertyDoc(s, kind as BlockKind));
}

export function propertyDoc(kind: BlockKind, key: string): PropertyDoc | undefined {
    const spec = specFor(kind, key);
    return spec ? toPropertyDoc(spec, kind) : undefined;
}
