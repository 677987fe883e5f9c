/**
 * What the IDE shows about a dataset file, on top of the validator's cached file reads
 * (`FileInfoCache.datasetHead` in `language/validation/file-info.ts`: the first records, cached
 * by size and mtime): each field path with its type and an example (completion), and the exact
 * row count (hover), which the head only estimates for large files. The count streams the file
 * once and is cached by (size, mtime). Nothing here throws for a bad file.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseCsvStream } from 'csv-parse';
import type { DatasetHead, FileInfoCache, FileProblem } from '../validation/file-info.js';

export interface FieldInfo {
    /** Dotted path into a record, e.g. `answer.aliases`. */
    path: string;
    /** `string`, `number`, `array of string`, `object`, ... */
    type: string;
    /** A short example value from the first record that has the field. */
    example?: string;
}

function typeName(v: unknown): string {
    if (v === null) return 'null';
    if (Array.isArray(v)) return `array of ${v.length > 0 ? typeName(v[0]) : 'unknown'}`;
    return typeof v;
}

function example(v: unknown): string | undefined {
    if (v === null || v === undefined) return undefined;
    const s = JSON.stringify(v);
    if (s === undefined) return undefined;
    return s.length > 60 ? s.slice(0, 57) + '…' : s;
}

/** Collects the dotted paths of `record` into `out` (first occurrence wins), as the validator does. */
export function collectPaths(record: unknown, out: Map<string, FieldInfo>, prefix = '', depth = 0): void {
    if (record === null || typeof record !== 'object' || Array.isArray(record) || depth > 5) return;
    for (const [key, value] of Object.entries(record as Record<string, unknown>)) {
        const path = prefix ? `${prefix}.${key}` : key;
        if (!out.has(path)) out.set(path, { path, type: typeName(value), example: example(value) });
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) collectPaths(value, out, path, depth + 1);
    }
}

export function fieldsOf(head: DatasetHead): FieldInfo[] {
    const out = new Map<string, FieldInfo>();
    for (const r of head.rows) collectPaths(r, out);
    return [...out.values()];
}

export function describeProblem(p: FileProblem): string {
    switch (p.kind) {
        case 'missing':
            return 'file not found';
        case 'directory':
            return 'a directory, not a file';
        case 'unreadable':
            return `unreadable (${p.detail})`;
        case 'not-text':
            return 'not a text file';
        case 'empty':
            return 'no records';
        case 'malformed':
            return `malformed at line ${p.line}: ${p.detail}`;
        case 'not-gguf':
            return `not a GGUF file: ${p.detail}`;
    }
}

export interface DatasetFacts {
    fields: FieldInfo[];
    head?: DatasetHead;
    problem?: string;
}

export function readDatasetFacts(files: FileInfoCache, file: string, declaredFormat?: string): DatasetFacts {
    const head = files.datasetHead(file, declaredFormat);
    if (!head.ok) return { fields: [], problem: describeProblem(head.problem) };
    return { fields: fieldsOf(head.value), head: head.value };
}

const countCache = new Map<string, { key: string; rows: Promise<number> }>();

/**
 * Number of records: non-empty JSONL lines, CSV records after the header (streamed with
 * csv-parse, so quoted newlines count right). Cached by (size, mtime).
 */
export async function countRows(file: string, format: 'jsonl' | 'csv'): Promise<number> {
    const s = await stat(file);
    const key = `${format}:${s.size}:${s.mtimeMs}`;
    const cached = countCache.get(file);
    if (cached && cached.key === key) return cached.rows;
    const rows = format === 'csv' ? countCsv(file) : countLines(file);
    countCache.set(file, { key, rows });
    rows.catch(() => countCache.delete(file));
    return rows;
}

function countCsv(file: string): Promise<number> {
    return new Promise((resolve, reject) => {
        let n = 0;
        const delimiter = extname(file).toLowerCase() === '.tsv' ? '\t' : ',';
        createReadStream(file)
            .on('error', reject)
            .pipe(parseCsvStream({ delimiter, relax_column_count: true, skip_empty_lines: true, bom: true }))
            .on('data', () => n++)
            .on('error', reject)
            .on('end', () => resolve(Math.max(0, n - 1)));
    });
}

function countLines(file: string): Promise<number> {
    return new Promise((resolve, reject) => {
        let n = 0;
        let lineHasContent = false;
        createReadStream(file)
            .on('data', (chunk: string | Buffer) => {
                const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
                for (let i = 0; i < b.length; i++) {
                    const c = b[i];
                    if (c === 10) {
                        if (lineHasContent) n++;
                        lineHasContent = false;
                    } else if (c !== 32 && c !== 9 && c !== 13) lineHasContent = true;
                }
            })
            .on('error', reject)
            .on('end', () => resolve(n + (lineHasContent ? 1 : 0)));
    });
}
