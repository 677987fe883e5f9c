/**
 * What the IDE shows about a dataset file: the field paths of its first records (for completion of
 * `question "…"` / `answers "…"`) and its row count (for hover), read without loading the file:
 * the head is a bounded read, the count streams the file once and is cached by (size, mtime).
 * Reading never throws: a missing, unreadable or malformed file gives `error` (the validator
 * reports it as a diagnostic; the IDE just shows less).
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseCsvStream } from 'csv-parse';

export interface FieldInfo {
    /** Dotted path into a record, e.g. `answer.aliases`. */
    path: string;
    /** `string`, `number`, `boolean`, `array of string`, `object`, ... */
    type: string;
    /** A short example value from the first record that has the field. */
    example?: string;
}

export interface DatasetHead {
    format: 'jsonl' | 'csv' | 'json';
    fields: FieldInfo[];
    /** Records read to find the fields. */
    sampled: number;
    error?: string;
}

const HEAD_BYTES = 256 * 1024;
const HEAD_RECORDS = 20;
/** A `.json` file is parsed whole only below this size (TriviaQA's files are far larger: use JSONL). */
const JSON_WHOLE_LIMIT = 32 * 1024 * 1024;

export function formatOf(file: string): DatasetHead['format'] {
    const ext = extname(file).toLowerCase();
    if (ext === '.csv' || ext === '.tsv') return 'csv';
    if (ext === '.json') return 'json';
    return 'jsonl';
}

function typeName(v: unknown): string {
    if (v === null) return 'null';
    if (Array.isArray(v)) {
        const inner = v.length > 0 ? typeName(v[0]) : 'unknown';
        return `array of ${inner}`;
    }
    return typeof v;
}

function example(v: unknown): string | undefined {
    if (v === null || v === undefined) return undefined;
    const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
    if (s === undefined) return undefined;
    return s.length > 60 ? s.slice(0, 57) + '…' : s;
}

/** Collects the dotted paths of `record` into `out` (first occurrence wins). Depth-limited. */
export function collectPaths(record: unknown, out: Map<string, FieldInfo>, prefix = '', depth = 0): void {
    if (record === null || typeof record !== 'object' || Array.isArray(record) || depth > 6) return;
    for (const [key, value] of Object.entries(record as Record<string, unknown>)) {
        const path = prefix ? `${prefix}.${key}` : key;
        if (!out.has(path)) out.set(path, { path, type: typeName(value), example: example(value) });
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) collectPaths(value, out, path, depth + 1);
    }
}

async function readHeadBytes(file: string): Promise<string> {
    const handle = await open(file, 'r');
    try {
        const buffer = Buffer.alloc(HEAD_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
        return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
        await handle.close();
    }
}

const headCache = new Map<string, { key: string; head: DatasetHead }>();
const countCache = new Map<string, { key: string; rows: Promise<number> }>();

async function fileKey(file: string): Promise<string> {
    const s = await stat(file);
    if (!s.isFile()) throw new Error(`${file} is not a file`);
    return `${s.size}:${s.mtimeMs}`;
}

/** The fields of the first records of a JSONL, CSV or JSON dataset file. */
export async function readDatasetHead(file: string): Promise<DatasetHead> {
    const format = formatOf(file);
    let key: string;
    try {
        key = await fileKey(file);
    } catch (e) {
        return { format, fields: [], sampled: 0, error: (e as Error).message };
    }
    const cached = headCache.get(file);
    if (cached && cached.key === key) return cached.head;
    let head: DatasetHead;
    try {
        head = await readHeadUncached(file, format);
    } catch (e) {
        head = { format, fields: [], sampled: 0, error: (e as Error).message };
    }
    headCache.set(file, { key, head });
    return head;
}

async function readHeadUncached(file: string, format: DatasetHead['format']): Promise<DatasetHead> {
    const fields = new Map<string, FieldInfo>();
    let sampled = 0;
    if (format === 'csv') {
        const text = await readHeadBytes(file);
        const complete = text.length >= HEAD_BYTES ? text.slice(0, text.lastIndexOf('\n') + 1) : text;
        const delimiter = extname(file).toLowerCase() === '.tsv' ? '\t' : ',';
        const rows = parseCsv(complete, { columns: true, delimiter, to: HEAD_RECORDS, relax_column_count: true, skip_empty_lines: true, bom: true }) as Record<string, string>[];
        // The header row names the fields even when there are no data rows.
        const header = parseCsv(complete, { delimiter, to: 1, bom: true }) as string[][];
        for (const name of header[0] ?? []) fields.set(name, { path: name, type: 'string', example: example(rows[0]?.[name]) });
        sampled = rows.length;
        return { format, fields: [...fields.values()], sampled };
    }
    if (format === 'json') {
        const s = await stat(file);
        if (s.size > JSON_WHOLE_LIMIT) return { format, fields: [], sampled: 0, error: 'JSON file too large to inspect; convert it to JSONL' };
        const { readFile } = await import('node:fs/promises');
        const root = JSON.parse(await readFile(file, 'utf8')) as unknown;
        const records = recordsOfJson(root);
        for (const r of records.slice(0, HEAD_RECORDS)) {
            collectPaths(r, fields);
            sampled++;
        }
        return { format, fields: [...fields.values()], sampled };
    }
    const text = await readHeadBytes(file);
    const lines = text.split('\n');
    if (text.length >= HEAD_BYTES) lines.pop(); // the last line may be cut
    let error: string | undefined;
    for (let i = 0; i < lines.length && sampled < HEAD_RECORDS; i++) {
        const line = lines[i].trim();
        if (!line) continue;
        try {
            collectPaths(JSON.parse(line), fields);
            sampled++;
        } catch {
            error ??= `line ${i + 1} is not valid JSON`;
        }
    }
    return { format, fields: [...fields.values()], sampled, error: sampled === 0 ? error : undefined };
}

/** The record array of a JSON dataset: the root array, TriviaQA's `Data`, or the first array. */
export function recordsOfJson(root: unknown): unknown[] {
    if (Array.isArray(root)) return root;
    if (root && typeof root === 'object') {
        const o = root as Record<string, unknown>;
        if (Array.isArray(o.Data)) return o.Data;
        for (const v of Object.values(o)) if (Array.isArray(v)) return v;
    }
    return [];
}

/** Number of records (non-empty JSONL lines, CSV records after the header), streamed, cached by (size, mtime). */
export async function countRows(file: string): Promise<number> {
    const key = await fileKey(file);
    const cached = countCache.get(file);
    if (cached && cached.key === key) return cached.rows;
    const rows = countRowsUncached(file, formatOf(file));
    countCache.set(file, { key, rows });
    rows.catch(() => countCache.delete(file));
    return rows;
}

function countRowsUncached(file: string, format: DatasetHead['format']): Promise<number> {
    if (format === 'json') {
        return import('node:fs/promises').then(async ({ readFile }) => {
            const s = await stat(file);
            if (s.size > JSON_WHOLE_LIMIT) throw new Error('JSON file too large to count; convert it to JSONL');
            return recordsOfJson(JSON.parse(await readFile(file, 'utf8'))).length;
        });
    }
    if (format === 'csv') {
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
