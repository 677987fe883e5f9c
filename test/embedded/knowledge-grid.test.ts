// The teacher × student knowledge grid on the embedded default, with replicates that redraw the
// world and the pretraining: each replicate's grid must place every question by the facts the two
// pretrained models were actually taught (their taught.json in the store), and count every arm's
// outcomes per cell.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlan } from '../../language/load.js';
import { runExperiment } from '../../engine/run.js';
import type { EvaluateMetrics, StepResult } from '../../engine/results-types.js';

const SPEC = `experiment Grid {
  seed 3
  seeds 2
  world atlas { entities 20  relations capital, founder, river }
  dataset trivia from atlas { split train 60%  split test 40% }
  model large = pretrain on atlas { layers 1  width 32  heads 2  knows 75%  epochs 20  learningRate 1e-2 }
  model small = pretrain on atlas { layers 1  width 32  heads 2  knows 40%  epochs 20  learningRate 1e-2 }
  decoding greedy { temperature 0  maxTokens 8 }
  label byLarge = answers of large on trivia.train using greedy { otherwise "I don't know" }
  finetune onLarge = small on byLarge { lora rank 4  epochs 2  learningRate 5e-3  batch 8 }
  evaluate ev = onLarge, small on trivia.test using greedy
}
`;

const dir = mkdtempSync(join(tmpdir(), 'mm-embedded-grid-'));
afterAll(() => { if (!process.env.MISMATCH_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true }); });

describe('teacher × student grid, embedded world', () => {
    it('cells from the taught facts of each replicate\'s own models', { timeout: 900_000 }, async () => {
        const file = join(dir, 'grid.mismatch');
        writeFileSync(file, SPEC);
        const { plan, diagnostics } = await loadPlan(file);
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        const summary = await runExperiment(plan!, { storeDir: join(dir, '.mismatch'), threads: 1, gpu: 'off' });
        expect(summary.status, JSON.stringify(summary.steps.filter((s) => s.error).map((s) => [s.step, s.error]), null, 1)).toBe('done');
        const step = (id: string, seedIndex: number): StepResult => summary.steps.find((s) => s.step === id && (s.seedIndex ?? 0) === seedIndex)!;
        const taughtSets: Set<string>[] = [];
        for (const seed of [0, 1]) {
            const taught = (id: string) => {
                const t = JSON.parse(readFileSync(join(step(id, seed).dir!, 'taught.json'), 'utf8')) as string[] | { taught: string[] };
                return new Set(Array.isArray(t) ? t : t.taught);
            };
            const [large, small] = [taught('large'), taught('small')];
            taughtSets.push(small);
            const ev = step('ev', seed);
            const rows = readFileSync(join(ev.dir!, 'answers.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { arm: string; id: string; outcome: string });
            for (const arm of (ev.metrics as EvaluateMetrics).arms) {
                expect(arm.grid, arm.arm).toBeDefined();
                expect([arm.grid!.teacher, arm.grid!.student, arm.grid!.source]).toEqual(['large', 'small', 'taught']);
                const cells: Record<string, Record<string, number>> = {};
                for (const r of rows.filter((x) => x.arm === arm.arm)) {
                    const c = large.has(r.id) ? (small.has(r.id) ? 'both' : 'teacherOnly') : small.has(r.id) ? 'studentOnly' : 'neither';
                    cells[c] ??= { correct: 0, wrong: 0, abstained: 0, empty: 0, total: 0 };
                    cells[c][r.outcome]++;
                    cells[c].total++;
                }
                for (const c of ['both', 'teacherOnly', 'studentOnly', 'neither'] as const) expect(arm.grid!.cells[c], `${arm.arm} seed ${seed} ${c}`).toEqual(cells[c] ?? { correct: 0, wrong: 0, abstained: 0, empty: 0, total: 0 });
                expect(arm.grid!.uncategorised).toBe(0);
            }
        }
        // the replicates redrew the pretraining: the student was taught other facts
        expect([...taughtSets[0]].sort()).not.toEqual([...taughtSets[1]].sort());
    });
});
