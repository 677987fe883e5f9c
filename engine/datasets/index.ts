/**
 * Datasets: streaming readers (JSONL, CSV through csv-parse, TriviaQA's rc/unfiltered JSON),
 * nested field paths (`answer.aliases`), answers as one string or a list of aliases, seeded splits
 * that do not depend on file order, de-duplication with a warning, and located errors.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import type { DatasetSource, SplitSpec } from '../../language/plan-types.js';
import { splitSizes } from '../../language/split-sizes.js';
import { normalizeAnswer } from '../evaluate/index.js';
import { generateWorld, worldToQA, type WorldParams } from '../world/index.js';

export interface DatasetRecord {
    id: string;
    question: string;
    /** Gold answer first, then aliases. */
    answers: string[];
    /** 1-based line of the record in its file (0 for generated data). */
    line: number;
    /** Split name once split. */
    split?: string;
}

/** A located error: which file, which line, which field. */
export class DatasetError extends Error {
    constructor(
        message: string,
        readonly file: string,
        readonly line?: number,
        readonly field?: string,
    ) {
        super(`${file}${line ? `:${line}` : ''}: ${field ? `field "${field}": ` : ''}${message}`);
        this.name = 'DatasetError';
    }
}

/** Reads `a.b.c` (and `a.0.b` for array indices) from a parsed record. */
export function getPath(record: unknown, path: string): unknown {
    let cur: unknown = record;
    for (const part of path.split('.')) {
        if (cur === null || cur === undefined) return undefined;
        if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
        else if (typeof cur === 'object') cur = (cur as Record<string, unknown>)[part];
        else return undefined;
    }
    return cur;
}

function answersOf(value: unknown, file: string, line: number, field: string): string[] {
    if (typeof value === 'string' || typeof value === 'number') {
        const s = String(value).trim();
        if (!s) throw new DatasetError('the answer is empty', file, line, field);
        return [s];
    }
    if (Array.isArray(value)) {
        const out: string[] = [];
        for (const v of value) {
            if (typeof v === 'string' || typeof v === 'number') {
                const s = String(v).trim();
                if (s && !out.includes(s)) out.push(s);
            } else throw new DatasetError('answers must be a string or a list of strings', file, line, field);
        }
        if (out.length === 0) throw new DatasetError('the list of answers is empty', file, line, field);
        return out;
    }
    if (value === undefined || value === null) throw new DatasetError('missing', file, line, field);
    throw new DatasetError(`answers must be a string or a list of strings, got ${typeof value}`, file, line, field);
}

function questionOf(value: unknown, file: string, line: number, field: string): string {
    if (value === undefined || value === null) throw new DatasetError('missing', file, line, field);
    if (typeof value !== 'string' && typeof value !== 'number') throw new DatasetError(`the question must be a string, got ${Array.isArray(value) ? 'a list' : typeof value}`, file, line, field);
    const s = String(value).trim();
    if (!s) throw new DatasetError('the question is empty', file, line, field);
    return s;
}

export function questionHashId(question: string): string {
    return 'q' + createHash('sha256').update(normalizeAnswer(question)).digest('hex').slice(0, 16);
}

type FileSource = Extract<DatasetSource, { kind: 'file' }>;

function toRecord(raw: unknown, src: FileSource, line: number, answersField = src.fields.answers): DatasetRecord {
    const question = questionOf(getPath(raw, src.fields.question), src.path, line, src.fields.question);
    const answers = answersOf(getPath(raw, answersField), src.path, line, answersField);
    let id: string;
    if (src.fields.id) {
        const v = getPath(raw, src.fields.id);
        if (v === undefined || v === null || String(v).trim() === '') throw new DatasetError('missing', src.path, line, src.fields.id);
        if (typeof v !== 'string' && typeof v !== 'number') throw new DatasetError(`an id must be a string or a number, got ${Array.isArray(v) ? 'a list' : typeof v}`, src.path, line, src.fields.id);
        id = String(v);
    } else id = questionHashId(question);
    return { id, question, answers, line };
}

/** Longest line (JSONL) or element (TriviaQA) read, in characters: a file without line breaks must not take all memory. */
export const MAX_RECORD_CHARS = 64 * 1024 * 1024;

/**
 * A dataset file as text, chunk by chunk, decoded as strict UTF-8 (TextDecoder with fatal: true): a
 * byte sequence that is not UTF-8 is an error naming its line and byte offset instead of a silent
 * U+FFFD. A leading BOM is dropped. Only regular files are read (a FIFO would block for ever).
 */
export async function* utf8Chunks(path: string): AsyncGenerator<string> {
    await assertRegularFile(path);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let offset = 0; // bytes before the current chunk
    let lines = 1; // line of the first byte of the current chunk
    let carry: Buffer = Buffer.alloc(0); // trailing bytes of an incomplete sequence in the previous chunk
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
        let text: string;
        try {
            text = decoder.decode(chunk, { stream: true });
        } catch {
            const bytes = Buffer.concat([carry, chunk]);
            const bad = firstInvalidUtf8(bytes);
            const before = bytes.subarray(0, bad);
            let line = lines;
            for (let i = before.indexOf(10); i >= 0; i = before.indexOf(10, i + 1)) line++;
            const at = offset - carry.length + bad;
            throw new DatasetError(`not valid UTF-8 (byte 0x${bytes[bad].toString(16).padStart(2, '0')} at byte offset ${at}); save the file as UTF-8`, path, line);
        }
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
        offset += chunk.length;
        carry = incompleteTail(chunk, carry);
        if (text) yield text;
    }
    try {
        const rest = decoder.decode();
        if (rest) yield rest;
    } catch {
        throw new DatasetError(`not valid UTF-8 (the file ends inside a multi-byte character at byte offset ${offset - carry.length})`, path, lines);
    }
}

/** The bytes at the end of `chunk` (after `prev`) that start a multi-byte character not yet complete. */
function incompleteTail(chunk: Buffer, prev: Buffer): Buffer {
    const bytes = chunk.length >= 4 ? chunk.subarray(chunk.length - 4) : Buffer.concat([prev, chunk]).subarray(-4);
    for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 4; i--) {
        const b = bytes[i];
        if ((b & 0xc0) === 0x80) continue; // continuation byte
        const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        return bytes.length - i < need ? Buffer.from(bytes.subarray(i)) : Buffer.alloc(0);
    }
    return Buffer.alloc(0);
}

/** Index of the byte at which `bytes` (starting on a character boundary) stops being UTF-8. */
function firstInvalidUtf8(bytes: Buffer): number {
    // The shortest prefix that a streaming fatal decoder rejects ends at the offending byte.
    let lo = 1;
    let hi = bytes.length;
    const rejects = (k: number) => {
        try {
            new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, k), { stream: true });
            return false;
        } catch {
            return true;
        }
    };
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (rejects(mid)) hi = mid;
        else lo = mid + 1;
    }
    const bad = Math.max(0, lo - 1);
    // The decoder rejects at the first byte that cannot continue; report the start of that sequence.
    for (let j = bad - 1; j >= 0 && j >= bad - 3; j--) {
        const b = bytes[j];
        if ((b & 0xc0) === 0x80) continue;
        const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        return j + need > bad ? j : bad;
    }
    return bad;
}

/** Refuses what is not a regular file: reading a FIFO blocks until a writer comes, a device may never end. */
export async function assertRegularFile(path: string): Promise<void> {
    let st: Stats;
    try {
        st = await stat(path);
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new DatasetError(code === 'ENOENT' ? 'the file does not exist' : `cannot read the file (${code ?? (e as Error).message})`, path);
    }
    if (st.isDirectory()) throw new DatasetError('is a folder, not a dataset file', path);
    if (!st.isFile()) throw new DatasetError(`not a regular file (${st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device'})`, path);
}

/** Lines of a file (without the line break, a trailing CR dropped), numbered from 1. */
async function* textLines(path: string): AsyncGenerator<{ text: string; line: number }> {
    let partial = '';
    let line = 0;
    for await (const chunk of utf8Chunks(path)) {
        let from = 0;
        for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
            let text = partial + chunk.slice(from, nl);
            partial = '';
            from = nl + 1;
            if (text.endsWith('\r')) text = text.slice(0, -1);
            yield { text, line: ++line };
        }
        partial += chunk.slice(from);
        if (partial.length > MAX_RECORD_CHARS) throw new DatasetError(`a line longer than ${MAX_RECORD_CHARS / 1048576} M characters`, path, line + 1);
    }
    if (partial) yield { text: partial.endsWith('\r') ? partial.slice(0, -1) : partial, line: ++line };
}

/** Streams a JSONL file, one record per non-empty line. */
export async function* readJsonl(src: FileSource): AsyncGenerator<DatasetRecord> {
    for await (const { text, line } of textLines(src.path)) {
        if (!text.trim()) continue;
        let raw: unknown;
        try {
            raw = JSON.parse(text);
        } catch (e) {
            throw new DatasetError(`not valid JSON (${(e as Error).message})`, src.path, line);
        }
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
            throw new DatasetError(`a record must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}`, src.path, line);
        yield toRecord(raw, src, line);
    }
}

/** Streams a CSV file with a header row; nested paths are not meaningful here, columns are named. */
export async function* readCsv(src: FileSource): AsyncGenerator<DatasetRecord> {
    const parser = parseCsv({ columns: true, bom: true, skip_empty_lines: true, info: true, relax_column_count: false, max_record_size: MAX_RECORD_CHARS });
    const input = Readable.from(utf8Chunks(src.path));
    input.on('error', (e) => parser.destroy(e));
    input.pipe(parser);
    let lastLine = 0; // the line the last record ended on
    try {
        for await (const item of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
            const line = item.info.lines;
            lastLine = line;
            const raw = item.record;
            // An answers column may hold a JSON list (["a","b"]) or aliases separated by '|'.
            const answersCell = raw[src.fields.answers];
            let answers: unknown = answersCell;
            if (typeof answersCell === 'string') {
                const t = answersCell.trim();
                if (t.startsWith('[')) {
                    try {
                        answers = JSON.parse(t);
                    } catch {
                        throw new DatasetError('looks like a JSON list but does not parse', src.path, line, src.fields.answers);
                    }
                } else if (t.includes('|')) answers = t.split('|');
            }
            yield toRecord({ ...raw, [src.fields.answers]: answers }, src, line);
        }
    } catch (e) {
        if (e instanceof DatasetError) throw e;
        const err = e as Error & { lines?: number; code?: string; column?: string };
        if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
            // csv-parse reports the end of the file; the quote opened in the record after the last one read.
            const open = await firstNonEmptyLineAfter(src.path, lastLine);
            throw new DatasetError(`CSV: a quote opened in this record${err.column ? ` (column "${err.column}")` : ''} is never closed (the file ends inside it)`, src.path, open);
        }
        throw new DatasetError(`CSV: ${err.message}`, src.path, err.lines);
    } finally {
        input.destroy();
    }
}

async function firstNonEmptyLineAfter(path: string, after: number): Promise<number> {
    for await (const { text, line } of textLines(path)) if (line > after && text.trim()) return line;
    return after + 1;
}

/**
 * TriviaQA rc/unfiltered JSON: `{"Data": [{"Question", "QuestionId", "Answer": {"Value", "Aliases",
 * ...}}, ...], ...}`. The files are large (evidence lists), so this scans the text as a stream and
 * parses one element of `Data` at a time: a small hand-written scanner because a full streaming JSON
 * library would be a dependency for this one layout.
 */
export async function* readTriviaQa(src: FileSource): AsyncGenerator<DatasetRecord> {
    const fields = { question: src.fields.question || 'Question', answers: src.fields.answers || 'Answer.Aliases', id: src.fields.id || 'QuestionId' };
    const s2: FileSource = { ...src, fields };
    let line = 1;
    let state: 'seek' | 'array' | 'done' = 'seek';
    let seekBuf = '';
    let depth = 0;
    let inString = false;
    let escape = false;
    let obj = '';
    let objLine = 0;
    for await (const chunk of utf8Chunks(src.path)) {
        for (let i = 0; i < chunk.length; i++) {
            const ch = chunk[i];
            if (ch === '\n') line++;
            if (state === 'seek') {
                seekBuf = (seekBuf + ch).slice(-16);
                if (/"Data"\s*:\s*\[$/.test(seekBuf)) state = 'array';
                continue;
            }
            if (state === 'done') break;
            if (depth === 0) {
                if (ch === '{') {
                    depth = 1;
                    obj = '{';
                    objLine = line;
                } else if (ch === ']') state = 'done';
                continue;
            }
            obj += ch;
            if (obj.length > MAX_RECORD_CHARS) throw new DatasetError(`a "Data" element longer than ${MAX_RECORD_CHARS / 1048576} M characters`, src.path, objLine);
            if (inString) {
                if (escape) escape = false;
                else if (ch === '\\') escape = true;
                else if (ch === '"') inString = false;
                continue;
            }
            if (ch === '"') inString = true;
            else if (ch === '{' || ch === '[') depth++;
            else if (ch === '}' || ch === ']') {
                depth--;
                if (depth === 0) {
                    let raw: unknown;
                    try {
                        raw = JSON.parse(obj);
                    } catch (e) {
                        throw new DatasetError(`TriviaQA element is not valid JSON (${(e as Error).message})`, src.path, objLine);
                    }
                    const rec = toRecord(raw, s2, objLine);
                    // TriviaQA keeps the canonical answer in Answer.Value; put it first.
                    const value = getPath(raw, 'Answer.Value');
                    if (typeof value === 'string' && value.trim()) rec.answers = [value.trim(), ...rec.answers.filter((a) => a !== value.trim())];
                    yield rec;
                    obj = '';
                }
            }
        }
        if (state === 'done') break;
    }
    if (state === 'seek') throw new DatasetError('no "Data" array found: not a TriviaQA rc/unfiltered file', src.path);
    if (depth !== 0) throw new DatasetError('the file ends inside a "Data" element', src.path, objLine);
}

export function readFileDataset(src: FileSource): AsyncGenerator<DatasetRecord> {
    if (src.format === 'jsonl') return readJsonl(src);
    if (src.format === 'csv') return readCsv(src);
    return readTriviaQa(src);
}

export function worldRecords(params: WorldParams): DatasetRecord[] {
    return worldToQA(generateWorld(params)).map((r) => ({ id: r.id, question: r.question, answers: r.answers, line: 0 }));
}

/** Uniform number in [0, 1) from a string (sha256), used for order-independent seeded choices. */
export function unitHashOf(s: string): number {
    const h = createHash('sha256').update(s).digest();
    return h.readUInt32BE(0) / 4294967296 + h.readUInt32BE(4) / 4294967296 / 4294967296;
}

export interface Deduplicated {
    records: DatasetRecord[];
    dropped: number;
    warnings: string[];
}

/**
 * Drops records whose normalised question repeats an earlier one and records repeating an id.
 * Which copy survives does not depend on file order: the smallest id (then smallest line).
 */
export function dedupe(records: DatasetRecord[], file: string): Deduplicated {
    const sorted = records.slice().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.line - b.line));
    const byQuestion = new Map<string, DatasetRecord>();
    const byId = new Map<string, DatasetRecord>();
    const kept: DatasetRecord[] = [];
    const examples: string[] = [];
    let dropped = 0;
    for (const r of sorted) {
        const q = normalizeAnswer(r.question);
        const prev = byQuestion.get(q) ?? byId.get(r.id);
        if (prev) {
            dropped++;
            if (examples.length < 3) examples.push(`line ${r.line} repeats line ${prev.line} ("${r.question.slice(0, 60)}")`);
            continue;
        }
        byQuestion.set(q, r);
        byId.set(r.id, r);
        kept.push(r);
    }
    const warnings = dropped ? [`${file}: dropped ${dropped} duplicate question${dropped > 1 ? 's' : ''}: ${examples.join('; ')}${dropped > examples.length ? '; …' : ''}`] : [];
    return { records: kept, dropped, warnings };
}

/**
 * Seeded split, independent of file order: records are ranked by sha256(seed:id) and cut by share
 * or count in the order the splits are written. Shares are of the whole dataset; the last split
 * written as a share takes the rounding remainder when the shares add up to 100%.
 */
export function splitRecords(records: DatasetRecord[], splits: SplitSpec[], seed: number, file: string): DatasetRecord[] {
    const ranked = records.map((r) => ({ r, u: unitHashOf(`${seed}:${r.id}`) })).sort((a, b) => a.u - b.u || (a.r.id < b.r.id ? -1 : 1));
    const n = ranked.length;
    if (splits.length === 0) return ranked.map(({ r }) => ({ ...r, split: 'all' }));
    const sizes = splitSizes(splits, n);
    const need = sizes.reduce((a, b) => a + b, 0);
    if (need > n) throw new DatasetError(`the splits need ${need} questions but the dataset has ${n}`, file, undefined, 'split');
    const out: DatasetRecord[] = [];
    let at = 0;
    splits.forEach((s, i) => {
        for (let k = 0; k < sizes[i]; k++) out.push({ ...ranked[at + k].r, split: s.name });
        at += sizes[i];
    });
    return out;
}

export interface LoadedDataset {
    records: DatasetRecord[];
    warnings: string[];
    dropped: number;
}

/** True when the splits take every record (no splits, or shares adding up to 100%). */
function takesAll(splits: SplitSpec[]): boolean {
    if (splits.length === 0) return true;
    return splits.every((s) => s.count === undefined) && Math.abs(splits.reduce((a, s) => a + (s.share ?? 0), 0) - 1) < 1e-9;
}

/** 52 bits of sha256 as an exact double: a cheap key for finding candidate duplicates. */
function key52(s: string): number {
    const h = createHash('sha256').update(s).digest();
    return (h.readUInt32BE(0) & 0xfffff) * 4294967296 + h.readUInt32BE(4);
}

/** A growable Float64Array. */
class Doubles {
    data = new Float64Array(1024);
    length = 0;
    push(x: number): void {
        if (this.length === this.data.length) {
            const next = new Float64Array(this.data.length * 2);
            next.set(this.data);
            this.data = next;
        }
        this.data[this.length++] = x;
    }
    view(): Float64Array {
        return this.data.subarray(0, this.length);
    }
}

/** Values present more than once (sorted copy, native sort). */
function repeated(values: Float64Array): Set<number> {
    const sorted = Float64Array.from(values).sort();
    const out = new Set<number>();
    for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) out.add(sorted[i]);
    return out;
}

/**
 * Reads, de-duplicates and splits a file whose splits take only part of it, keeping in memory only
 * 24 bytes per record plus the records chosen: pass 1 keeps each record's rank (sha256 of seed and
 * id) and hashes of its normalised question and id; records sharing a hash are read again (pass 2)
 * and de-duplicated exactly as `dedupe` does (their real strings, smallest id first); pass 3 reads
 * the chosen records. The result is the same as `splitRecords(dedupe(all records))`.
 */
async function loadPartOfFile(source: FileSource, splits: SplitSpec[], seed: number, options: { dedupe: boolean; signal?: AbortSignal }): Promise<LoadedDataset> {
    const file = source.path;
    const rank = new Doubles();
    const qKey = new Doubles();
    const idKey = new Doubles();
    for await (const r of readFileDataset(source)) {
        if (options.signal?.aborted) throw new Error('cancelled');
        rank.push(unitHashOf(`${seed}:${r.id}`));
        if (options.dedupe) {
            qKey.push(key52(normalizeAnswer(r.question)));
            idKey.push(key52(r.id));
        }
    }
    const total = rank.length;
    if (total === 0) throw new DatasetError('the dataset is empty', file);
    const keep = new Uint8Array(total).fill(1);
    let warnings: string[] = [];
    let dropped = 0;
    if (options.dedupe) {
        const q = qKey.view();
        const ids = idKey.view();
        const qRep = repeated(q);
        const idRep = repeated(ids);
        if (qRep.size || idRep.size) {
            // Only records sharing a key can drop or be dropped: de-duplicate those exactly.
            const candidates: (DatasetRecord & { index: number })[] = [];
            let index = 0;
            for await (const r of readFileDataset(source)) {
                if (options.signal?.aborted) throw new Error('cancelled');
                if (qRep.has(q[index]) || idRep.has(ids[index])) candidates.push({ ...r, index });
                index++;
            }
            const d = dedupe(candidates, file);
            const kept = new Set(d.records.map((r) => (r as DatasetRecord & { index: number }).index));
            for (const c of candidates) if (!kept.has(c.index)) keep[c.index] = 0;
            warnings = d.warnings;
            dropped = d.dropped;
        }
    }
    const survivors = total - dropped;
    const sizes = splitSizes(splits, survivors);
    const need = sizes.reduce((a, b) => a + b, 0);
    if (need > survivors) throw new DatasetError(`the splits need ${need} questions but the dataset has ${survivors}`, file, undefined, 'split');
    // The `need` smallest ranks among the survivors; ties at the cut (equal doubles) resolved by id below.
    const ranks = rank.view();
    const kept = new Float64Array(survivors);
    for (let i = 0, k = 0; i < total; i++) if (keep[i]) kept[k++] = ranks[i];
    kept.sort();
    const cut = need > 0 ? kept[need - 1] : -1;
    const chosen: { r: DatasetRecord; u: number }[] = [];
    let index = 0;
    for await (const r of readFileDataset(source)) {
        if (options.signal?.aborted) throw new Error('cancelled');
        if (keep[index] && ranks[index] <= cut) chosen.push({ r, u: ranks[index] });
        index++;
    }
    if (index !== total) throw new DatasetError('the file changed while it was read', file);
    chosen.sort((a, b) => a.u - b.u || (a.r.id < b.r.id ? -1 : 1));
    const out: DatasetRecord[] = [];
    let at = 0;
    splits.forEach((s, i) => {
        for (let k = 0; k < sizes[i]; k++) out.push({ ...chosen[at + k].r, split: s.name });
        at += sizes[i];
    });
    return { records: out, warnings, dropped };
}

/**
 * Reads, de-duplicates and splits a dataset. `world` gives the params of a world source. When the
 * splits take only part of a file, memory holds the part, not the file (`loadPartOfFile`).
 */
export async function loadDataset(source: DatasetSource, splits: SplitSpec[], seed: number, options: { dedupe: boolean; world?: WorldParams; signal?: AbortSignal }): Promise<LoadedDataset> {
    if (source.kind === 'file' && !takesAll(splits)) return loadPartOfFile(source, splits, seed, options);
    let records: DatasetRecord[] = [];
    let file: string;
    if (source.kind === 'world') {
        if (!options.world) throw new Error(`dataset from world ${source.world}: the world's parameters are missing`);
        records = worldRecords(options.world);
        file = `world ${source.world}`;
    } else {
        file = source.path;
        for await (const r of readFileDataset(source)) {
            records.push(r);
            if (options.signal?.aborted) throw new Error('cancelled');
        }
        if (records.length === 0) throw new DatasetError('the dataset is empty', source.path);
    }
    let warnings: string[] = [];
    let dropped = 0;
    if (options.dedupe) {
        const d = dedupe(records, file);
        records = d.records;
        warnings = d.warnings;
        dropped = d.dropped;
    }
    return { records: splitRecords(records, splits, seed, file), warnings, dropped };
}
