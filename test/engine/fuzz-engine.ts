/**
 * Fuzzing the engine's inputs (bad input must give a located error): datasets (JSONL, CSV, TriviaQA JSON), replies of
 * OpenAI-compatible servers, and run-store files (manifest.json, result.json, answers.jsonl and
 * generation checkpoints), each mutated byte- and token-wise from valid seeds (delete, duplicate,
 * swap, insert, truncate, invalid UTF-8, BOM, stray quotes, nulls and objects in place of strings,
 * huge lines). Every input must end in a result or a located error within a time bound: an error of
 * another kind (TypeError, RangeError, a bare SyntaxError) is a crash, a timeout a hang. Used by
 * `fuzz-engine.test.ts` (CI, bounded) and `bench/fuzz/fuzz.ts` (long runs).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError, loadDataset } from '../../engine/datasets/index.js';
import { ServerError, ServerGenerator } from '../../engine/models/server.js';
import { JsonlCheckpoint, openStore, type Store } from '../../engine/store/index.js';
import { rng } from '../../engine/stats/index.js';
import type { Decoding } from '../../language/plan-types.js';

export { rng };

export type Target = 'jsonl' | 'csv' | 'triviaqa' | 'reply-completions' | 'reply-chat' | 'store';

const JSONL_SEED =
    [
        { id: 'q1', question: 'What is the capital of France?', answer: 'Paris', meta: { aliases: ['Paris', 'paris'] } },
        { id: 'q2', question: 'Who wrote "Hamlet"?', answer: ['Shakespeare', 'William Shakespeare'], meta: { aliases: [] } },
        { id: 'q3', question: 'Höhe des Mont Blanc — in Metern?', answer: 4806, meta: { aliases: ['4806 m'] } },
        { id: 'q4', question: 'Largest planet? 🪐', answer: 'Jupiter', meta: { aliases: ['jupiter'] } },
        { id: 'q5', question: 'Boiling point of water (°C)?', answer: '100', meta: { aliases: ['100 °C'] } },
        { id: 'q6', question: 'Capital, of "Italy"?', answer: 'Rome', meta: { aliases: ['Roma'] } },
    ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n';

const CSV_SEED =
    'id,question,answer\nq1,What is the capital of France?,Paris|paris\nq2,"Who wrote ""Hamlet""?","[""Shakespeare"",""William Shakespeare""]"\nq3,"Höhe, in Metern?",4806\nq4,Largest planet? 🪐,Jupiter\nq5,"Multi\nline?",yes\nq6,Capital of Italy?,Rome\n';

const TRIVIA_SEED = JSON.stringify(
    {
        Data: [
            { Answer: { Aliases: ['Paris', 'paris'], Value: 'Paris' }, Question: 'Capital of France {x]?', QuestionId: 't1', EntityPages: [{ t: '"}' }] },
            { Answer: { Aliases: ['Rome'], Value: 'Roma' }, Question: 'Capital of Italy?', QuestionId: 't2' },
            { Answer: { Aliases: ['Jupiter'], Value: 'Jupiter' }, Question: 'Largest planet?', QuestionId: 't3' },
        ],
        Domain: 'Web',
        Version: 1,
    },
    null,
    1,
);

const COMPLETION_SEED = JSON.stringify({
    id: 'c1',
    object: 'text_completion',
    choices: [{ index: 0, text: ' Paris is the answer', finish_reason: 'stop', logprobs: { tokens: [' Paris', ' is', ' the', ' answer'], token_logprobs: [-0.1, -0.5, -0.2, -1.5] } }],
});
const CHAT_SEED = JSON.stringify({
    id: 'c2',
    object: 'chat.completion',
    choices: [
        {
            index: 0,
            message: { role: 'assistant', content: 'Paris' },
            finish_reason: 'stop',
            logprobs: {
                content: [
                    { token: 'Par', logprob: -0.2 },
                    { token: 'is', logprob: -0.01 },
                ],
            },
        },
    ],
});

const INSERTS = ['"', '\\', ',', '\n', '\r\n', '{', '}', '[', ']', ':', 'null', '{}', '[]', '{"a":1}', 'true', '-1e309', '\uFEFF', '\u0000', 'é', '😀', '"""', '|', '1e999', 'NaN'];
const BAD_BYTES = [[0xff], [0xc3], [0xe9], [0xed, 0xa0, 0x80], [0xf0, 0x9f], [0xc0, 0xaf], [0x80]];

export type Mutation = 'delete' | 'duplicate' | 'swap' | 'insert' | 'truncate' | 'bad-utf8' | 'bom' | 'type' | 'huge-line' | 'many';

/** One mutated version of `seed` (bytes). */
export function mutate(r: () => number, seed: Buffer, kind?: Mutation): { kind: Mutation; bytes: Buffer } {
    const kinds: Mutation[] = ['delete', 'duplicate', 'swap', 'insert', 'truncate', 'bad-utf8', 'bom', 'type', 'many', 'many'];
    const k = kind ?? (r() < 0.01 ? 'huge-line' : kinds[Math.floor(r() * kinds.length)]);
    const at = (n: number) => Math.floor(r() * Math.max(1, n));
    let b: Buffer = Buffer.from(seed);
    switch (k) {
        case 'delete': {
            const i = at(b.length);
            return { kind: k, bytes: Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + at(8))]) };
        }
        case 'duplicate': {
            const i = at(b.length);
            const piece = b.subarray(i, i + 1 + at(40));
            return { kind: k, bytes: Buffer.concat([b.subarray(0, i), piece, piece, b.subarray(i + piece.length)]) };
        }
        case 'swap': {
            const i = at(b.length);
            const j = at(b.length);
            [b[i], b[j]] = [b[j], b[i]];
            return { kind: k, bytes: b };
        }
        case 'insert': {
            const i = at(b.length);
            return { kind: k, bytes: Buffer.concat([b.subarray(0, i), Buffer.from(INSERTS[at(INSERTS.length)]), b.subarray(i)]) };
        }
        case 'truncate':
            return { kind: k, bytes: b.subarray(0, at(b.length)) };
        case 'bad-utf8': {
            const i = at(b.length);
            return { kind: k, bytes: Buffer.concat([b.subarray(0, i), Buffer.from(BAD_BYTES[at(BAD_BYTES.length)]), b.subarray(i)]) };
        }
        case 'bom':
            return { kind: k, bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]) };
        case 'type': {
            // A string value becomes null, an object, a list or a number.
            const text = b.toString('utf8');
            const strings = [...text.matchAll(/"(?:[^"\\\n]|\\.)*"/g)];
            if (!strings.length) return { kind: k, bytes: b };
            const m = strings[at(strings.length)];
            const repl = ['null', '{"x":1}', '[1,2]', '42', '[]', '""', 'true'][at(7)];
            return { kind: k, bytes: Buffer.from(text.slice(0, m.index) + repl + text.slice(m.index! + m[0].length)) };
        }
        case 'huge-line': {
            const i = at(b.length);
            return { kind: k, bytes: Buffer.concat([b.subarray(0, i), Buffer.alloc(200_000 + at(800_000), 'x'), b.subarray(i)]) };
        }
        case 'many': {
            const n = 2 + at(6);
            for (let i = 0; i < n; i++) b = mutate(r, b, (['delete', 'duplicate', 'swap', 'insert', 'bad-utf8', 'type'] as const)[at(6)]).bytes;
            return { kind: k, bytes: b };
        }
    }
}

export interface FuzzStats {
    inputs: number;
    byTarget: Record<string, number>;
    /** Inputs that ended in a located error (the expected failure). */
    located: number;
    failures: string[];
    slowestMs: number;
    elapsedMs: number;
}

const decoding: Decoding = { temperature: 0, maxTokens: 3, stop: ['\n'], template: 'raw', fewShot: 0 } as unknown as Decoding;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
    let t: NodeJS.Timeout;
    return Promise.race([p, new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(t));
}

/** What is wrong with a loaded dataset's records, if anything. */
function badRecord(records: { id: unknown; question: unknown; answers: unknown }[]): string | undefined {
    for (const r of records) {
        if (typeof r.id !== 'string' || !r.id) return `id ${JSON.stringify(r.id)}`;
        if (typeof r.question !== 'string' || !r.question.trim() || r.question.includes('[object Object]')) return `question ${JSON.stringify(r.question)}`;
        if (!Array.isArray(r.answers) || !r.answers.length || r.answers.some((a) => typeof a !== 'string' || !a || a.includes('[object Object]'))) return `answers ${JSON.stringify(r.answers)}`;
    }
    return undefined;
}

async function datasetCase(dir: string, target: 'jsonl' | 'csv' | 'triviaqa', bytes: Buffer, n: number): Promise<'ok' | 'located' | string> {
    const path = join(dir, `d${n}.${target === 'triviaqa' ? 'json' : target}`);
    writeFileSync(path, bytes);
    const fields = target === 'triviaqa' ? { question: '', answers: '' } : { question: 'question', answers: 'answer', id: 'id' };
    const source = { kind: 'file' as const, path, format: target, fields };
    let located = false;
    // A part of the file (the three-pass reader) and all of it (the one-pass reader).
    for (const splits of [
        [{ name: 'test', count: 2 }],
        [
            { name: 'train', share: 0.5 },
            { name: 'test', share: 0.5 },
        ],
    ]) {
        try {
            const d = await loadDataset(source, splits, 1, { dedupe: true });
            const bad = badRecord(d.records);
            if (bad) return `a record with a bad ${bad}`;
        } catch (e) {
            if (!(e instanceof DatasetError)) return `${(e as Error).name}: ${(e as Error).message}`;
            if (!e.message.startsWith(path)) return `an error that does not name the file: ${e.message}`;
            located = true;
        }
    }
    return located ? 'located' : 'ok';
}

function replyCase(api: 'completions' | 'chat', bytes: Buffer): 'ok' | 'located' | string {
    const g = new ServerGenerator({ url: 'http://127.0.0.1:9/v1', name: 'fuzz', api, logprobs: true, concurrency: 1, timeoutMs: 1000 });
    let json: unknown;
    try {
        json = JSON.parse(bytes.toString('utf8'));
    } catch {
        return 'located'; // the client reports "the answer is not JSON" for these (tested in server.test.ts)
    }
    try {
        const r = g.parse(json, { id: 'q7', question: 'Q?' }, 0, decoding);
        if (typeof r.text !== 'string') return `text ${typeof r.text}`;
        if (r.text.includes('[object Object]')) return 'text "[object Object]"';
        if (r.text.length > decoding.maxTokens * 32) return `text of ${r.text.length} characters for maxTokens ${decoding.maxTokens}`;
        if (r.logprobs && (r.logprobs.length > decoding.maxTokens || r.logprobs.some((x) => !Number.isFinite(x)))) return `logprobs ${JSON.stringify(r.logprobs)}`;
        return 'ok';
    } catch (e) {
        if (!(e instanceof ServerError)) return `${(e as Error).name}: ${(e as Error).message}`;
        if (!/question q7/.test(e.message)) return `an error that does not name the question: ${e.message}`;
        return 'located';
    }
}

let storeSeq = 0;
/** A real store entry (begin/commit) whose files one mutation then damages; the store must notice or read it whole. */
async function storeCase(dir: string, r: () => number): Promise<'ok' | 'located' | string> {
    const store: Store = openStore(join(dir, `store${++storeSeq}`));
    await store.ensure?.();
    const key = `k${storeSeq}`.padEnd(64, '0');
    const tmp = await store.begin(key);
    const rows = Array.from({ length: 4 }, (_, i) => ({ id: `q${i}`, sample: 0, text: `answer ${i}`, tokens: 2, logprobs: [-0.5, -0.1], finish: 'stop' }));
    writeFileSync(join(tmp, 'answers.jsonl'), rows.map((x) => JSON.stringify(x) + '\n').join(''));
    await store.commit(tmp, { step: 's', kind: 'label', status: 'done', cached: false, key, seconds: 1, metrics: { n: 4 } } as never, {
        key,
        step: 's',
        kind: 'label',
        experiment: 'E',
        spec: 'x.mismatch',
        inputs: {},
        files: {},
        status: 'done',
        startedAt: '',
        finishedAt: '',
        seconds: 1,
        versions: {},
    });
    const fresh = openStore(store.dir); // a later run: nothing verified yet
    const file = ['manifest.json', 'result.json', 'answers.jsonl'][Math.floor(r() * 3)];
    const path = join(fresh.entryDir(key), file);
    const { readFileSync } = await import('node:fs');
    const m = mutate(r, readFileSync(path));
    writeFileSync(path, m.bytes);
    let problem: string | undefined;
    try {
        problem = await fresh.verify(key);
        await fresh.readResult(key);
        await fresh.readManifest(key);
    } catch (e) {
        return `${file} (${m.kind}): ${(e as Error).name}: ${(e as Error).message}`;
    }
    // A generation checkpoint of damaged answers (a kill mid-write, a bad disk): a torn or damaged
    // line is recomputed, never a crash.
    const cpDir = join(dir, `cp${storeSeq}`);
    mkdirSync(cpDir, { recursive: true });
    const answers = file === 'answers.jsonl' ? m.bytes : mutate(r, readFileSync(join(fresh.entryDir(key), 'answers.jsonl'))).bytes;
    writeFileSync(join(cpDir, 'answers.jsonl'), answers);
    try {
        await new JsonlCheckpoint(join(cpDir, 'answers.jsonl')).load();
    } catch (e) {
        return `checkpoint: ${(e as Error).name}: ${(e as Error).message}`;
    }
    if (problem) return 'located';
    // Whole by its checksums: the outputs must read back.
    const { readJsonlFile } = await import('../../engine/store/index.js');
    try {
        await readJsonlFile(join(fresh.entryDir(key), 'answers.jsonl'));
    } catch (e) {
        return `${file} (${m.kind}) passed verify but answers.jsonl does not read: ${(e as Error).message}`;
    }
    return 'ok';
}

/** Runs `inputs` fuzz cases (or until `budgetMs`), each bounded by `limitMs`. */
export async function fuzzEngine(options: { seed: number; inputs: number; budgetMs: number; limitMs: number; dir: string; targets?: Target[]; log?: (s: string) => void }): Promise<FuzzStats> {
    const r = rng(options.seed);
    const targets = options.targets ?? ['jsonl', 'csv', 'triviaqa', 'reply-completions', 'reply-chat', 'store'];
    const seeds: Record<string, Buffer> = {
        jsonl: Buffer.from(JSONL_SEED),
        csv: Buffer.from(CSV_SEED),
        triviaqa: Buffer.from(TRIVIA_SEED),
        'reply-completions': Buffer.from(COMPLETION_SEED),
        'reply-chat': Buffer.from(CHAT_SEED),
    };
    const stats: FuzzStats = { inputs: 0, byTarget: {}, located: 0, failures: [], slowestMs: 0, elapsedMs: 0 };
    const t0 = performance.now();
    mkdirSync(options.dir, { recursive: true });
    for (let n = 0; n < options.inputs && performance.now() - t0 < options.budgetMs; n++) {
        const target = targets[n % targets.length];
        const started = performance.now();
        let outcome: 'ok' | 'located' | 'timeout' | string;
        let kind = '';
        try {
            if (target === 'store') outcome = await withTimeout(storeCase(options.dir, r), options.limitMs);
            else {
                const m = mutate(r, seeds[target]);
                kind = m.kind;
                outcome =
                    target === 'reply-completions' || target === 'reply-chat'
                        ? replyCase(target === 'reply-chat' ? 'chat' : 'completions', m.bytes)
                        : await withTimeout(datasetCase(options.dir, target, m.bytes, n), options.limitMs);
            }
        } catch (e) {
            outcome = `harness: ${(e as Error).stack}`;
        }
        const ms = performance.now() - started;
        stats.slowestMs = Math.max(stats.slowestMs, ms);
        stats.inputs++;
        stats.byTarget[target] = (stats.byTarget[target] ?? 0) + 1;
        if (outcome === 'located') stats.located++;
        else if (outcome === 'timeout') stats.failures.push(`#${n} ${target} ${kind}: no answer within ${options.limitMs} ms`);
        else if (outcome !== 'ok') stats.failures.push(`#${n} ${target} ${kind}: ${outcome}`);
        if (options.log && n % 500 === 499) options.log(`${n + 1} inputs, ${stats.failures.length} failures, slowest ${stats.slowestMs.toFixed(0)} ms`);
    }
    stats.elapsedMs = performance.now() - t0;
    return stats;
}
