/**
 * Fuzzing the running language server with bad input: versions of the examples mutated
 * token- and character-wise (delete, duplicate, swap, insert), cut short, filled with binary junk,
 * made huge or deeply nested are sent to the server over stdio as edits of one open document; after
 * each, completion, hover, outline, semantic tokens, formatting and code actions are requested at
 * random places. Every request must be answered (no error response, no timeout), the process must
 * stay alive, and the slowest answer is reported. Used by `fuzz.test.ts` (CI, bounded) and
 * `bench/lsp/fuzz.ts` (long runs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodeActionRequest, DocumentFormattingRequest, DocumentSymbolRequest, SemanticTokensRequest, type Position } from 'vscode-languageserver-protocol/node.js';
import { LspClient, repoRoot } from './lsp-client.js';
import { rng } from '../../engine/stats/index.js';

/** Seeded mutations, so a failure can be replayed (the engine's mulberry32). */
export { rng };

const TOKEN = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|-?\d[\w.%+-]*|[A-Za-z_]\w*|./g;

export function tokens(text: string): string[] {
    return text.match(TOKEN) ?? [];
}

export function loadSeeds(): string[] {
    const dir = join(repoRoot, 'examples');
    return readdirSync(dir, { withFileTypes: true })
        .filter((f) => f.isFile() && f.name.endsWith('.mismatch'))
        .map((f) => f.name)
        .sort()
        .map((f) => readFileSync(join(dir, f), 'utf8'));
}

const EXTRA = ['{', '}', '{', '}', '=', ',', '.', '"', "'", '/*', '*/', '//', '%', 'k', '1e-4', '-3', '0', '999999999999999999999', 'import', 'experiment', '\n', '\t', '\u00a0', 'é', '😀', '\\'];

export type MutationKind = 'delete-token' | 'duplicate-token' | 'swap-tokens' | 'insert-token' | 'delete-char' | 'insert-char' | 'truncate' | 'binary' | 'huge' | 'nested' | 'many';

/** One mutated version of `text` (`pool`: tokens to insert, from all seeds). */
export function mutate(r: () => number, text: string, pool: string[], kind?: MutationKind, hugeLines = 2500): { kind: MutationKind; text: string } {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const kinds: MutationKind[] = ['delete-token', 'duplicate-token', 'swap-tokens', 'insert-token', 'delete-char', 'insert-char', 'truncate', 'many', 'many', 'many'];
    // the rare, expensive ones
    const k: MutationKind = kind ?? (r() < 0.02 ? pick(['binary', 'huge', 'nested'] as const) : pick(kinds));
    const toks = tokens(text);
    const at = () => Math.floor(r() * Math.max(1, toks.length));
    const chars = () => Math.floor(r() * Math.max(1, text.length));
    switch (k) {
        case 'delete-token':
            toks.splice(at(), 1 + Math.floor(r() * 3));
            return { kind: k, text: toks.join('') };
        case 'duplicate-token': {
            const i = at();
            toks.splice(i, 0, ...toks.slice(i, i + 1 + Math.floor(r() * 4)));
            return { kind: k, text: toks.join('') };
        }
        case 'swap-tokens': {
            const i = at();
            const j = at();
            [toks[i], toks[j]] = [toks[j], toks[i]];
            return { kind: k, text: toks.join('') };
        }
        case 'insert-token':
            toks.splice(at(), 0, r() < 0.7 ? pick(pool) : pick(EXTRA), r() < 0.5 ? ' ' : '');
            return { kind: k, text: toks.join('') };
        case 'delete-char': {
            const i = chars();
            return { kind: k, text: text.slice(0, i) + text.slice(i + 1 + Math.floor(r() * 3)) };
        }
        case 'insert-char': {
            const i = chars();
            const c = r() < 0.5 ? pick(EXTRA) : String.fromCharCode(Math.floor(r() * 0x2fff));
            return { kind: k, text: text.slice(0, i) + c + text.slice(i) };
        }
        case 'truncate':
            return { kind: k, text: text.slice(0, chars()) };
        case 'binary': {
            const bytes = Array.from({ length: 200 + Math.floor(r() * 4000) }, () => String.fromCharCode(Math.floor(r() * 256)));
            const i = chars();
            return { kind: k, text: r() < 0.5 ? bytes.join('') : text.slice(0, i) + bytes.join('') + text.slice(i) };
        }
        case 'huge': {
            // `hugeLines` lines: the spec's body repeated (duplicate names everywhere)
            const body = text.replace(/^[\s\S]*?\{/, '').replace(/\}\s*$/, '');
            return { kind: k, text: 'experiment Huge {\n' + body.repeat(Math.ceil(hugeLines / Math.max(1, body.split('\n').length))) + '}\n' };
        }
        case 'nested': {
            const depth = 2000 + Math.floor(r() * 8000);
            const open = pick(['{', 'experiment E { ', 'world w { ', '"', '/*', '(', 'a.']);
            return { kind: k, text: open.repeat(depth) + text + '}'.repeat(Math.floor(depth / 2)) };
        }
        case 'many': {
            let t = text;
            const n = 2 + Math.floor(r() * 6);
            for (let i = 0; i < n; i++) t = mutate(r, t, pool, pick(['delete-token', 'duplicate-token', 'swap-tokens', 'insert-token', 'delete-char', 'insert-char'])).text;
            return { kind: k, text: t };
        }
    }
}

function randomPosition(r: () => number, text: string): Position {
    const lines = text.split('\n');
    const line = Math.floor(r() * lines.length);
    return { line, character: Math.floor(r() * (lines[line].length + 1)) };
}

export interface FuzzStats {
    versions: number;
    requests: number;
    failures: string[];
    slowest: { ms: number; what: string };
    byKind: Record<string, number>;
    elapsedMs: number;
    alive: boolean;
    finalDiagnostics: boolean;
    /** The last version sent (kind and size), to reproduce a crash. */
    last?: { what: string; text: string };
}

/**
 * Feeds mutated versions to the server until `versions` are done or `budgetMs` has passed.
 * `limitMs`: a request slower than this counts as a failure.
 */
export async function fuzzServer(
    client: LspClient,
    options: { seed: number; versions: number; budgetMs: number; limitMs?: number; hugeLines?: number; log?: (s: string) => void },
): Promise<FuzzStats> {
    const limitMs = options.limitMs ?? 1000;
    const r = rng(options.seed);
    const seeds = loadSeeds();
    const pool = [...new Set(seeds.flatMap(tokens).filter((t) => t.trim()))];
    const uri = 'file:///fuzz/fuzz.mismatch';
    const stats: FuzzStats = { versions: 0, requests: 0, failures: [], slowest: { ms: 0, what: '' }, byKind: {}, elapsedMs: 0, alive: true, finalDiagnostics: false };
    const start = performance.now();
    // Warm-up (not timed): the first build and requests also compile the parser and JIT the code.
    const opened = client.nextDiagnostics(uri, 1, 60_000);
    await client.open(uri, seeds[0]);
    await opened;
    await client.completion(uri, { line: 1, character: 0 });
    await client.hover(uri, { line: 1, character: 2 });
    let current = seeds[0];
    const timed = async <T>(what: string, p: Promise<T>): Promise<T | undefined> => {
        const t0 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        try {
            const result = await Promise.race([
                p,
                new Promise<never>((_, fail) => {
                    timer = setTimeout(() => fail(new Error(`no answer within ${5 * limitMs} ms`)), 5 * limitMs);
                }),
            ]);
            const ms = performance.now() - t0;
            if (ms > stats.slowest.ms) stats.slowest = { ms, what };
            if (ms > limitMs) stats.failures.push(`${what}: ${ms.toFixed(0)} ms`);
            return result;
        } catch (e) {
            stats.failures.push(`${what}: ${(e as Error).message}`);
            return undefined;
        } finally {
            clearTimeout(timer);
            stats.requests++;
        }
    };
    const conn = client.connection;
    for (let i = 0; i < options.versions && performance.now() - start < options.budgetMs && client.alive; i++) {
        // mostly mutate the last version (edits pile up, as when typing), sometimes restart from a seed
        const base = r() < 0.3 || current.length > 20_000 ? seeds[Math.floor(r() * seeds.length)] : current;
        const m = mutate(r, base, pool, undefined, options.hugeLines);
        current = m.text;
        stats.byKind[m.kind] = (stats.byKind[m.kind] ?? 0) + 1;
        const version = await client.change(uri, current);
        const what = `v${version} (${m.kind}, ${current.length} chars)`;
        stats.last = { what, text: current };
        const p1 = randomPosition(r, current);
        const p2 = randomPosition(r, current);
        const requests: Array<Promise<unknown>> = [
            timed(`completion ${what} at ${p1.line}:${p1.character}`, client.completion(uri, p1)),
            timed(`hover ${what} at ${p2.line}:${p2.character}`, client.hover(uri, p2)),
        ];
        // the heavier whole-document requests on a share of the versions
        if (i % 4 === 0) requests.push(timed(`symbols ${what}`, conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } })));
        if (i % 4 === 1) requests.push(timed(`semantic tokens ${what}`, conn.sendRequest(SemanticTokensRequest.type, { textDocument: { uri } })));
        if (i % 4 === 2) {
            requests.push(timed(`format ${what}`, conn.sendRequest(DocumentFormattingRequest.type, { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } })));
        }
        if (i % 4 === 3) {
            const diags = client.published.at(-1)?.diagnostics ?? [];
            requests.push(
                timed(`code actions ${what}`, conn.sendRequest(CodeActionRequest.type, { textDocument: { uri }, range: { start: p1, end: p1 }, context: { diagnostics: diags.slice(0, 20) } })),
            );
        }
        await Promise.all(requests);
        stats.versions++;
        if (options.log && stats.versions % 250 === 0) options.log(`${stats.versions} versions, ${stats.requests} requests, slowest ${stats.slowest.ms.toFixed(0)} ms`);
    }
    if (!client.alive) {
        stats.alive = false;
        stats.failures.push(`server exited (code ${client.exitCode}, signal ${client.exitSignal}) after ${stats.last?.what}`);
        stats.elapsedMs = performance.now() - start;
        return stats;
    }
    // the last version still gets its diagnostics
    const last = await client.change(uri, current);
    try {
        await client.nextDiagnostics(uri, last, 10_000);
        stats.finalDiagnostics = true;
    } catch (e) {
        stats.failures.push(`final diagnostics: ${(e as Error).message}`);
    }
    stats.alive = client.alive;
    stats.elapsedMs = performance.now() - start;
    return stats;
}
