/**
 * Long fuzz run of the engine's inputs (the CI test `test/engine/fuzz-engine.test.ts` is bounded to
 * ~30 s): datasets (JSONL, CSV, TriviaQA), server replies and run-store files, mutated from valid
 * seeds. `node bench/fuzz/run.mjs [--inputs 100000] [--minutes 10] [--seed N] [--limit 5000]`
 * Exit status 1 when any input crashed (an error that is not a located one) or hung.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzzEngine } from '../../test/engine/fuzz-engine.js';

const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const seed = arg('seed', Date.now() % 1_000_000);
const dir = join(tmpdir(), `mm-fuzz-bench-${process.pid}`);
const stats = await fuzzEngine({ seed, inputs: arg('inputs', 100_000), budgetMs: arg('minutes', 10) * 60_000, limitMs: arg('limit', 5000), dir, log: (s) => console.log(s) });
rmSync(dir, { recursive: true, force: true });
console.log(
    `seed ${seed}: ${stats.inputs} inputs in ${(stats.elapsedMs / 1000).toFixed(0)} s (${JSON.stringify(stats.byTarget)}); ${stats.located} located errors; slowest ${stats.slowestMs.toFixed(0)} ms`,
);
console.log(stats.failures.length ? `${stats.failures.length} failures:\n  ${stats.failures.slice(0, 30).join('\n  ')}` : 'no failures');
process.exit(stats.failures.length ? 1 : 0);
