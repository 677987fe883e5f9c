/**
 * CI fuzz of the running server: about a minute of mutated examples, every request answered
 * (within 10 s: no hang), no crash. Longer runs: `node bench/lsp/run.mjs fuzz`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LspClient } from './lsp-client.js';
import { fuzzServer, loadSeeds, mutate, rng, tokens } from './fuzz.js';

let client: LspClient;

beforeAll(async () => {
    ({ client } = await LspClient.start());
}, 120_000);

afterAll(async () => {
    if (client) await client.stop();
});

describe('fuzz', () => {
    it('mutations change the text in every way they claim to', () => {
        const r = rng(1);
        const seed = loadSeeds()[0];
        const pool = tokens(seed);
        for (const kind of ['delete-token', 'duplicate-token', 'swap-tokens', 'insert-token', 'delete-char', 'insert-char', 'truncate', 'binary', 'huge', 'nested', 'many'] as const) {
            let changed = 0;
            for (let i = 0; i < 20; i++) if (mutate(r, seed, pool, kind).text !== seed) changed++;
            expect(changed, kind).toBeGreaterThan(10);
        }
        expect(mutate(r, seed, pool, 'huge', 2500).text.split('\n').length).toBeGreaterThan(2400);
    });

    it('survives very large inputs: a 10,000-line spec, a 1 MB line of junk, 5,000 nested braces', async () => {
        const seed = loadSeeds()[0];
        const body = seed.replace(/^[\s\S]*?\{/, '').replace(/\}\s*$/, '');
        const r = rng(7);
        const inputs = [
            'experiment Big {\n' + body.repeat(Math.ceil(10_000 / body.split('\n').length)) + '}\n',
            Array.from({ length: 1 << 20 }, () => String.fromCharCode(32 + Math.floor(r() * 95))).join(''),
            '{'.repeat(5000) + seed + '}'.repeat(5000),
        ];
        for (const [i, text] of inputs.entries()) {
            const uri = `file:///fuzz/large-${i}.mismatch`;
            const diags = client.nextDiagnostics(uri, 1, 60_000);
            await client.open(uri, text);
            const published = await diags;
            expect(Array.isArray(published.diagnostics)).toBe(true);
            const items = await client.completion(uri, { line: 1, character: 0 });
            expect(Array.isArray(items)).toBe(true);
            expect(client.alive).toBe(true);
            await client.close(uri);
        }
    }, 120_000);

    it('answers every request on thousands of broken specs and stays up', async () => {
        const budgetMs = Number(process.env.MISMATCH_FUZZ_MS ?? 45_000);
        // "huge" here is 600 lines (18× the quickstart); 10,000 lines are checked above for
        // survival, and `bench/lsp/fuzz.ts` runs longer with larger inputs. At 1,000 lines of
        // duplicated declarations the first request after the edit waits ~1.1 s for the build on
        // this 2-core machine (measured in CI runs): a known cost of Langium's full relink, left to
        // the benchmark rather than made a flaky CI test.
        // In CI the bound catches hangs, not slowness: CI may share its cores with anything, so a
        // speed goal here would fail on a busy machine. The 1 s goal per request is
        // `node bench/lsp/run.mjs fuzz`'s (the same fuzzer with limitMs 1000).
        const limitMs = Number(process.env.MISMATCH_FUZZ_LIMIT_MS ?? 10_000);
        const stats = await fuzzServer(client, { seed: 20261125, versions: 3000, budgetMs, limitMs, hugeLines: 600 });
        console.log(
            `fuzz: ${stats.versions} versions, ${stats.requests} requests in ${(stats.elapsedMs / 1000).toFixed(1)} s; slowest ${stats.slowest.ms.toFixed(0)} ms (${stats.slowest.what}); kinds ${JSON.stringify(stats.byKind)}`,
        );
        expect(stats.failures.slice(0, 10)).toEqual([]);
        expect(stats.alive).toBe(true);
        expect(stats.finalDiagnostics).toBe(true);
        // about 10-20 versions a second on a loaded 2-core machine, 40+ when quiet
        expect(stats.versions).toBeGreaterThan(100);
        expect(client.stderr.join('')).not.toMatch(/RangeError|TypeError|Maximum call stack/);
    }, 120_000);
});
