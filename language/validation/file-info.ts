/**
 * Facts about the files a spec reads, for validation and hovers: the head of a dataset (its first
 * records and their fields) and a GGUF's metadata (node-llama-cpp's `readGgufFileInfo`, header
 * only: weights are never loaded). Results are cached by path, size and mtime so that validating
 * while typing does not reread files. Nothing here throws: every failure is a `problem` the checks
 * turn into a diagnostic.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { trainModes, type TrainModes } from './train-modes.js';

export type FileProblem =
    | { kind: 'missing' }
    | { kind: 'directory' }
    | { kind: 'unreadable'; detail: string }
    | { kind: 'not-text' }
    | { kind: 'empty' }
    | { kind: 'malformed'; line: number; detail: string }
    | { kind: 'not-gguf'; detail: string };

export interface DatasetHead {
    format: 'jsonl' | 'csv' | 'triviaqa';
    /** The first records (at most HEAD_ROWS). */
    rows: unknown[];
    /** Every dotted path present in at least one of those records (objects expanded). */
    fields: string[];
    /** Size in bytes, and an estimate of the number of records (exact when the file was read whole). */
    bytes: number;
    estimatedRows: number;
    exactRows: boolean;
}

export interface GgufInfo {
    architecture?: string;
    name?: string;
    /** Sum of the tensors' element counts. */
    parameters?: number;
    /** `general.file_type` as a name: F32, F16, BF16, Q4_K_M... */
    fileType?: string;
    /** True for any file type other than F32/F16/BF16. */
    quantized: boolean;
    contextLength?: number;
    layers?: number;
    embeddingLength?: number;
    /** `general.type` (`model`, `adapter`). */
    type?: string;
    bytes: number;
    /** Which fine-tuning modes the trainer supports for this file (from the architecture and tensor types). */
    training: TrainModes;
}

export type Result<T> = { ok: true; value: T } | { ok: false; problem: FileProblem };

export const HEAD_ROWS = 20;
const HEAD_BYTES = 256 * 1024;
const WHOLE_JSON_LIMIT = 8 * 1024 * 1024;

interface CacheEntry<T> {
    stamp: string;
    result: Promise<Result<T>> | Result<T>;
}

function statProblem(path: string): { stamp: string; size: number } | FileProblem {
    try {
        const st = statSync(path);
        if (st.isDirectory()) return { kind: 'directory' };
        // Opening a FIFO blocks until a writer comes, and a device may never end: regular files only.
        if (!st.isFile()) return { kind: 'unreadable', detail: `not a regular file (${specialKind(st)})` };
        return { stamp: `${st.size}:${st.mtimeMs}`, size: st.size };
    } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return { kind: 'missing' };
        return { kind: 'unreadable', detail: e.code ?? e.message };
    }
}

/** What a path that is not a regular file or a folder is, in words. */
export function specialKind(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
    return st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a plain file';
}

function readHead(path: string, max: number): Buffer | FileProblem {
    let fd: number | undefined;
    try {
        fd = openSync(path, 'r');
        const buf = Buffer.alloc(max);
        let n = 0;
        while (n < max) {
            const r = readSync(fd, buf, n, max - n, n);
            if (r === 0) break;
            n += r;
        }
        return buf.subarray(0, n);
    } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EISDIR') return { kind: 'directory' };
        return { kind: 'unreadable', detail: e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : (e.code ?? e.message) };
    } finally {
        if (fd !== undefined) {
            try {
                closeSync(fd);
            } catch {
                /* ignore */
            }
        }
    }
}

function looksBinary(buf: Buffer): boolean {
    const sample = buf.subarray(0, 4096);
    if (sample.includes(0)) return true;
    const text = sample.toString('utf8');
    let bad = 0;
    for (const ch of text) if (ch === '\uFFFD') bad++;
    return bad > 8 && bad > text.length / 50;
}

/** Every dotted path in a record: `{answer: {value: 'x', aliases: []}}` → answer, answer.value, answer.aliases. */
export function fieldPaths(record: unknown, prefix = '', out = new Set<string>(), depth = 0): Set<string> {
    if (record && typeof record === 'object' && !Array.isArray(record) && depth < 6) {
        for (const [k, v] of Object.entries(record as Record<string, unknown>)) {
            const p = prefix ? `${prefix}.${k}` : k;
            out.add(p);
            fieldPaths(v, p, out, depth + 1);
        }
    }
    return out;
}

/** The value at a dotted path (`answer.aliases`), or undefined. */
export function valueAt(record: unknown, path: string): unknown {
    let cur: unknown = record;
    for (const part of path.split('.')) {
        if (cur === null || typeof cur !== 'object') return undefined;
        cur = (cur as Record<string, unknown>)[part];
    }
    return cur;
}

export function formatOf(path: string, declared?: string): 'jsonl' | 'csv' | 'triviaqa' | undefined {
    if (declared === 'jsonl' || declared === 'csv' || declared === 'triviaqa') return declared;
    const ext = extname(path).toLowerCase();
    if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
    if (ext === '.csv' || ext === '.tsv') return 'csv';
    if (ext === '.json') return 'triviaqa';
    return undefined;
}

function parseDatasetHead(path: string, size: number, format: 'jsonl' | 'csv' | 'triviaqa'): Result<DatasetHead> {
    const whole = format === 'triviaqa' ? size <= WHOLE_JSON_LIMIT : size <= HEAD_BYTES;
    const buf = readHead(path, format === 'triviaqa' ? Math.min(size, WHOLE_JSON_LIMIT) : HEAD_BYTES);
    if (!Buffer.isBuffer(buf)) return { ok: false, problem: buf };
    if (buf.length === 0) return { ok: false, problem: { kind: 'empty' } };
    if (looksBinary(buf)) return { ok: false, problem: { kind: 'not-text' } };
    let text = buf.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (!whole) {
        const cut = text.lastIndexOf('\n');
        if (cut > 0) text = text.slice(0, cut);
    }
    let rows: unknown[] = [];
    let totalLines = 0;
    if (format === 'jsonl') {
        const lines = text.split(/\r?\n/);
        totalLines = lines.filter((l) => l.trim()).length;
        for (let i = 0; i < lines.length && rows.length < HEAD_ROWS; i++) {
            const line = lines[i].trim();
            if (!line) continue;
            try {
                rows.push(JSON.parse(line));
            } catch (err) {
                return { ok: false, problem: { kind: 'malformed', line: i + 1, detail: `not a JSON record (${(err as Error).message})` } };
            }
        }
    } else if (format === 'csv') {
        try {
            const delimiter = extname(path).toLowerCase() === '.tsv' ? '\t' : ',';
            const records = parseCsv(text, { columns: true, delimiter, relax_column_count: true, skip_empty_lines: true, bom: true }) as unknown[];
            totalLines = records.length;
            rows = records.slice(0, HEAD_ROWS);
        } catch (err) {
            const e = err as Error & { lines?: number };
            return { ok: false, problem: { kind: 'malformed', line: e.lines ?? 1, detail: e.message } };
        }
    } else {
        if (!whole) {
            // Too large to parse while typing; the engine reads it in full.
            return { ok: true, value: { format, rows: [], fields: [], bytes: size, estimatedRows: 0, exactRows: false } };
        }
        try {
            const data = JSON.parse(text) as unknown;
            const list = Array.isArray(data) ? data : Array.isArray((data as { Data?: unknown[] })?.Data) ? (data as { Data: unknown[] }).Data : undefined;
            if (!list) return { ok: false, problem: { kind: 'malformed', line: 1, detail: 'expected an array of records or a TriviaQA file ({"Data": [...]})' } };
            totalLines = list.length;
            rows = list.slice(0, HEAD_ROWS);
        } catch (err) {
            return { ok: false, problem: { kind: 'malformed', line: 1, detail: (err as Error).message } };
        }
    }
    if (rows.length === 0) return { ok: false, problem: { kind: 'empty' } };
    const fields = new Set<string>();
    for (const r of rows) fieldPaths(r, '', fields);
    const estimatedRows = whole ? totalLines : Math.round((totalLines * size) / Math.max(1, buf.length));
    return { ok: true, value: { format, rows, fields: [...fields], bytes: size, estimatedRows, exactRows: whole } };
}

const QUANT_FREE = new Set([0, 1, 32]); // ALL_F32, MOSTLY_F16, MOSTLY_BF16

export class FileInfoCache {
    private readonly datasets = new Map<string, CacheEntry<DatasetHead>>();
    private readonly ggufs = new Map<string, CacheEntry<GgufInfo>>();

    /** The first records of a dataset file. `format` is the declared one (else from the extension). */
    datasetHead(path: string, declaredFormat?: string): Result<DatasetHead> {
        const st = statProblem(path);
        if ('kind' in st) return { ok: false, problem: st };
        const format = formatOf(path, declaredFormat) ?? 'jsonl';
        const key = `${path}|${format}`;
        const hit = this.datasets.get(key);
        if (hit && hit.stamp === st.stamp) return hit.result as Result<DatasetHead>;
        const result = parseDatasetHead(path, st.size, format);
        this.datasets.set(key, { stamp: st.stamp, result });
        return result;
    }

    /** GGUF metadata (header only). */
    async gguf(path: string): Promise<Result<GgufInfo>> {
        const st = statProblem(path);
        if ('kind' in st) return { ok: false, problem: st };
        const hit = this.ggufs.get(path);
        if (hit && hit.stamp === st.stamp) return hit.result;
        const result = readGgufInfo(path, st.size);
        this.ggufs.set(path, { stamp: st.stamp, result });
        return result;
    }

    /** The GGUF metadata if it was read already (for synchronous callers such as the Plan). */
    ggufIfKnown(path: string): GgufInfo | undefined {
        const st = statProblem(path);
        if ('kind' in st) return undefined;
        const hit = this.ggufs.get(path);
        if (!hit || hit.stamp !== st.stamp || hit.result instanceof Promise) return undefined;
        return hit.result.ok ? hit.result.value : undefined;
    }
}

async function readGgufInfo(path: string, size: number): Promise<Result<GgufInfo>> {
    // Check the magic in TypeScript first: a text file or a truncated download gets a plain message.
    const head = readHead(path, 8);
    if (!Buffer.isBuffer(head)) return { ok: false, problem: head };
    if (head.length < 8 || head.toString('latin1', 0, 4) !== 'GGUF') {
        return { ok: false, problem: { kind: 'not-gguf', detail: head.length < 4 ? 'the file is too short' : 'it does not start with the GGUF magic bytes' } };
    }
    try {
        const { readGgufFileInfo, GgufFileType } = await import('node-llama-cpp');
        const info = await readGgufFileInfo(path, {
            sourceType: 'filesystem',
            readTensorInfo: true,
            logWarnings: false,
            ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'],
        });
        const general = (info.metadata?.general ?? {}) as unknown as Record<string, unknown>;
        const arch = general.architecture as string | undefined;
        const archMeta = (info.architectureMetadata ?? {}) as Record<string, unknown>;
        let parameters: number | undefined;
        if (info.fullTensorInfo) {
            parameters = 0;
            for (const t of info.fullTensorInfo) parameters += t.dimensions.reduce<number>((a, d) => a * Number(d), 1);
        }
        const ft = general.file_type as number | undefined;
        const tensorTypes = (info.fullTensorInfo ?? []).map((t) => ({ name: t.name, type: Number(t.ggmlType) }));
        const fileType = ft === undefined ? undefined : (GgufFileType[ft] ?? `type ${ft}`).replace(/^(MOSTLY_|ALL_)/, '');
        return {
            ok: true,
            value: {
                architecture: arch,
                name: general.name as string | undefined,
                parameters,
                fileType,
                quantized: ft !== undefined && !QUANT_FREE.has(ft),
                contextLength: typeof archMeta.context_length === 'number' ? archMeta.context_length : undefined,
                layers: typeof archMeta.block_count === 'number' ? archMeta.block_count : undefined,
                embeddingLength: typeof archMeta.embedding_length === 'number' ? archMeta.embedding_length : undefined,
                type: general.type as string | undefined,
                bytes: size,
                training: trainModes(arch, general.type as string | undefined, tensorTypes),
            },
        };
    } catch (err) {
        return { ok: false, problem: { kind: 'not-gguf', detail: (err as Error).message.split('\n')[0].slice(0, 200) } };
    }
}
