// The teacher × student knowledge grid on the embedded default, with replicates that redraw the
// world and the pretraining: each replicate's grid must place every question by the facts the two
// pretrained models were actually taught (their taught.json in the store), and count every arm's
// outcomes per cell.
//
// With a student whose facts are drawn apart from the teacher's (`factsSeed`), every cell is
// populated in each replicate (replicates offset factsSeed as they offset seed), and the CLI lists
// all four cells of every arm with their counts. Expected cell totals were computed independently in
// Python from the definitions (taught facts: the first round(P × 60) of the 60 fact ids ranked by the
// FNV-1a + murmur hash of "taught:<seed>:<id>"; the test split: ids ranked by sha256("<seed>:<id>"),
// the last 24): replicate 0 (teacher seed 3, student factsSeed 4, split seed 3): both 6, teacher
// only 9, student only 3, neither 6; replicate 1 (seeds 4, 5, 4): 5, 10, 6, 3.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlan } from '../../language/load.js';
import { runExperiment } from '../../engine/run.js';
import { renderResults } from '../../cli/results.js';
import type { EvaluateMetrics, StepResult } from '../../engine/results-types.js';

/** Two replicates of a teacher (`large`) labelling for a fine-tuned student (`small`). */
const spec = (name: string, teacherKnows: string, studentExtra: string) => `experiment ${name} {
  seed 3
  seeds 2
  world atlas { entities 20  relations capital, founder, river }
  dataset trivia from atlas { split train 60%  split test 40% }
  model large = pretrain on atlas { layers 1  width 32  heads 2  knows ${teacherKnows}  epochs 20  learningRate 1e-2 }
  model small = pretrain on atlas { layers 1  width 32  heads 2  knows 40%  epochs 20  learningRate 1e-2${studentExtra} }
  decoding greedy { temperature 0  maxTokens 8 }
  label byLarge = answers of large on trivia.train using greedy { otherwise "I don't know" }
  finetune onLarge = small on byLarge { lora rank 4  epochs 2  learningRate 5e-3  batch 8 }
  evaluate ev = onLarge, small on trivia.test using greedy
}
`;

const dir = mkdtempSync(join(tmpdir(), 'mm-embedded-grid-'));
afterAll(() => {
    if (!process.env.MISMATCH_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

/** Runs a spec in its own folder; `step(id, replicate)` finds a step's result. */
async function runGrid(name: string, text: string) {
    const file = join(dir, name, 'grid.mismatch');
    mkdirSync(join(dir, name), { recursive: true });
    writeFileSync(file, text);
    const { plan, diagnostics } = await loadPlan(file);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const summary = await runExperiment(plan!, { storeDir: join(dir, name, '.mismatch'), threads: 1, gpu: 'off' });
    expect(
        summary.status,
        JSON.stringify(
            summary.steps.filter((s) => s.error).map((s) => [s.step, s.error]),
            null,
            1,
        ),
    ).toBe('done');
    const step = (id: string, seedIndex: number): StepResult => summary.steps.find((s) => s.step === id && (s.seedIndex ?? 0) === seedIndex)!;
    return { plan: plan!, summary, step };
}

describe('teacher × student grid, embedded world', () => {
    it("cells from the taught facts of each replicate's own models", { timeout: 900_000 }, async () => {
        const { step } = await runGrid('nested', spec('Grid', '75%', ''));
        const taughtSets: Set<string>[] = [];
        for (const seed of [0, 1]) {
            const taught = (id: string) => {
                const t = JSON.parse(readFileSync(join(step(id, seed).dir!, 'taught.json'), 'utf8')) as string[] | { taught: string[] };
                return new Set(Array.isArray(t) ? t : t.taught);
            };
            const [large, small] = [taught('large'), taught('small')];
            taughtSets.push(small);
            const ev = step('ev', seed);
            const rows = readFileSync(join(ev.dir!, 'answers.jsonl'), 'utf8')
                .trim()
                .split('\n')
                .map((l) => JSON.parse(l) as { arm: string; id: string; outcome: string });
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
                for (const c of ['both', 'teacherOnly', 'studentOnly', 'neither'] as const)
                    expect(arm.grid!.cells[c], `${arm.arm} seed ${seed} ${c}`).toEqual(cells[c] ?? { correct: 0, wrong: 0, abstained: 0, empty: 0, total: 0 });
                expect(arm.grid!.uncategorised).toBe(0);
            }
        }
        // the replicates redrew the pretraining: the student was taught other facts
        expect([...taughtSets[0]].sort()).not.toEqual([...taughtSets[1]].sort());
    });
});

const EXPECTED = [
    { both: 6, teacherOnly: 9, studentOnly: 3, neither: 6 },
    { both: 5, teacherOnly: 10, studentOnly: 6, neither: 3 },
];

describe('teacher × student grid with a student taught facts the teacher lacks', () => {
    it('all four cells populated in every replicate, listed by the CLI', { timeout: 900_000 }, async () => {
        const { plan, summary, step } = await runGrid('apart', spec('GridApart', '60%', '  factsSeed 4'));
        for (const seed of [0, 1]) {
            // the student's recorded draw: the facts seed offset by the replicate
            const taught = JSON.parse(readFileSync(join(step('small', seed).dir!, 'taught.json'), 'utf8')) as { seed: number; taught: string[] };
            expect(taught.seed).toBe(4 + seed);
            const ev = step('ev', seed);
            for (const arm of (ev.metrics as EvaluateMetrics).arms) {
                expect(arm.grid, `${arm.arm} seed ${seed}`).toBeDefined();
                const totals = Object.fromEntries((['both', 'teacherOnly', 'studentOnly', 'neither'] as const).map((c) => [c, arm.grid!.cells[c].total]));
                expect(totals, `${arm.arm} seed ${seed}`).toEqual(EXPECTED[seed]);
            }
        }
        const text = renderResults(summary.steps, { plan, verbose: true }).replace(/\u001b\[[0-9;]*m/g, '');
        for (const arm of ['onLarge', 'small']) {
            for (const [label, seed0, seed1] of [
                ['both know', 6, 5],
                ['teacher knows, student not', 9, 10],
                ['student knows, teacher not', 3, 6],
                ['neither knows', 6, 3],
            ] as const) {
                const rows = text.split('\n').filter((l) => l.includes(label) && l.split('│').map((c) => c.trim())[1] === arm);
                // one row per replicate, its total in the 7th column
                expect(
                    rows.map((l) => Number(l.split('│').map((c) => c.trim())[7])),
                    `${arm} ${label}`,
                ).toEqual([seed0, seed1]);
            }
        }
    });
});
