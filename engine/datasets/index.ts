/**
 * Datasets: streaming readers (JSONL, CSV through csv-parse, TriviaQA's rc/unfiltered JSON),
 * nested field paths (`answer.aliases`), answers as one string or a list of aliases, seeded splits
 * that do not depend on file order, de-duplication with a warning, and located errors.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import type { DatasetSource, SplitSpec } from '../../language/plan-types.js';
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
    constructor(message: string, readonly file: string, readonly line?: number, readonly field?: string) {
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
        id = String(v);
    } else id = questionHashId(question);
    return { id, question, answers, line };
}

/** Streams a JSONL file, one record per non-empty line. */
export async function* readJsonl(src: FileSource): AsyncGenerator<DatasetRecord> {
    const rl = createInterface({ input: createReadStream(src.path, { encoding: 'utf8' }), crlfDelay: Infinity });
    let line = 0;
    for await (const text of rl) {
        line++;
        if (!text.trim()) continue;
        let raw: unknown;
        try {
            raw = JSON.parse(text);
        } catch (e) {
            throw new DatasetError(`not valid JSON (${(e as Error).message})`, src.path, line);
        }
        yield toRecord(raw, src, line);
    }
}

/** Streams a CSV file with a header row; nested paths are not meaningful here, columns are named. */
export async function* readCsv(src: FileSource): AsyncGenerator<DatasetRecord> {
    const parser = createReadStream(src.path).pipe(parseCsv({ columns: true, bom: true, skip_empty_lines: true, info: true, relax_column_count: false }));
    try {
        for await (const item of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
            const line = item.info.lines;
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
        const err = e as Error & { lines?: number; code?: string };
        throw new DatasetError(`CSV: ${err.message}`, src.path, err.lines);
    }
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
    const stream = createReadStream(src.path, { encoding: 'utf8', highWaterMark: 1 << 20 });
    for await (const chunk of stream as AsyncIterable<string>) {
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
    const sizes = splits.map((s) => (s.count !== undefined ? s.count : Math.round((s.share ?? 0) * n)));
    const shareSum = splits.reduce((s, x) => s + (x.share ?? 0), 0);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (Math.abs(shareSum - 1) < 1e-9 && splits.every((s) => s.count === undefined)) sizes[sizes.length - 1] += n - total;
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

/** Reads, de-duplicates and splits a dataset. `world` gives the params of a world source. */
export async function loadDataset(
    source: DatasetSource,
    splits: SplitSpec[],
    seed: number,
    options: { dedupe: boolean; world?: WorldParams; signal?: AbortSignal },
): Promise<LoadedDataset> {
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
