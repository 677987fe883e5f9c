/**
 * CI fuzz of the engine's inputs (datasets, server replies, run-store files): a few thousand mutated
 * inputs in at most ~30 s, zero crashes (only located errors), zero hangs (5 s per input).
 * Longer runs: `node bench/fuzz/run.mjs [--inputs 100000] [--minutes 10] [--seed N]`.
 */
import { describe, expect, it } from 'vitest';
import { fuzzEngine, mutate, rng } from './fuzz-engine.js';
import { tempDir } from './fixtures.js';

describe('engine input fuzz', () => {
    it('mutations change the input in every way they claim to', () => {
        const r = rng(3);
        const seed = Buffer.from('{"id":"q1","question":"What?","answer":"A"}\n{"id":"q2","question":"Who?","answer":"B"}\n');
        for (const kind of ['delete', 'duplicate', 'swap', 'insert', 'truncate', 'bad-utf8', 'bom', 'type', 'huge-line', 'many'] as const) {
            let changed = 0;
            for (let i = 0; i < 20; i++) if (!mutate(r, seed, kind).bytes.equals(seed)) changed++;
            expect(changed, kind).toBeGreaterThan(10);
        }
    });

    it('thousands of mutated datasets, replies and store files: only results and located errors, none over 5 s', async () => {
        const stats = await fuzzEngine({ seed: 20261206, inputs: 3000, budgetMs: 30_000, limitMs: 5000, dir: tempDir('mm-fuzz-') });
        console.log(
            `engine fuzz: ${stats.inputs} inputs (${JSON.stringify(stats.byTarget)}), ${stats.located} located errors, slowest ${stats.slowestMs.toFixed(0)} ms, ${(stats.elapsedMs / 1000).toFixed(1)} s`,
        );
        expect(stats.failures, stats.failures.slice(0, 10).join('\n')).toEqual([]);
        expect(stats.inputs).toBeGreaterThanOrEqual(1000);
        expect(stats.located).toBeGreaterThan(stats.inputs / 10); // the mutations do break things
        for (const t of ['jsonl', 'csv', 'triviaqa', 'reply-completions', 'reply-chat', 'store']) expect(stats.byTarget[t], t).toBeGreaterThan(100);
    }, 120_000);
});
