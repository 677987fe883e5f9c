// The embedded default end to end, small: a world, a teacher and a student pretrained from scratch
// through the trainer, labels, the shuffled control, LoRA fine-tunes over two seeds, evaluation and
// the hypotheses, through the real language (loadPlan) and engine (runExperiment). Checks the
// honesty checks, the ground truth of the outcome x knowledge tables and the raw result's direction.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlan } from '../../language/load.js';
import { runExperiment } from '../../engine/run.js';
import type { EvaluateMetrics, KnowledgeCheck, StepResult } from '../../engine/results-types.js';
import { generateWorld, taughtFactIds } from '../../engine/world/index.js';

// Replicates here redraw the label choices, fine-tuning and sampling only (the world and both
// pretrainings are fixed, so their ground truth below follows from seed 5 alone).
const SPEC = `experiment Small {
  seed 5
  seeds 2
  redraw labels, finetuning, sampling
  world atlas { entities 40  relations capital, founder, river }
  dataset trivia from atlas { split train 60%  split test 40% }

  model large = pretrain on atlas { layers 2  width 64  heads 4  knows 75%  epochs 30  learningRate 1e-2 }
  model small = pretrain on atlas { layers 2  width 64  heads 4  knows 40%  epochs 50  learningRate 1e-2 }

  decoding greedy { temperature 0  maxTokens 8 }

  label byLarge = answers of large on trivia.train using greedy { otherwise "I don't know" }
  label bySmall = answers of small on trivia.train using greedy { otherwise "I don't know" }
  label shuffled = shuffle bySmall { seed 11 }

  finetune onLarge = small on byLarge { lora rank 8  epochs 8  learningRate 5e-3  batch 8  validation 10%  earlyStopping true }
  finetune onSmall = small on bySmall { lora rank 8  epochs 8  learningRate 5e-3  batch 8  validation 10%  earlyStopping true }
  finetune onShuffled = small on shuffled { lora rank 8  epochs 8  learningRate 5e-3  batch 8  validation 10%  earlyStopping true }

  evaluate ev = onLarge, onSmall, onShuffled, small on trivia.test using greedy { abstain "I don't know" }
  hypothesis onLarge hallucinates more than onSmall in ev
  hypothesis onShuffled hallucinates more than onSmall at matched coverage in ev
}
`;

const dir = mkdtempSync(join(tmpdir(), 'mm-embedded-pipeline-'));
// MISMATCH_KEEP_TEST_DIRS=1 keeps the store for inspection.
afterAll(() => {
    if (!process.env.MISMATCH_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

interface Row {
    arm: string;
    id: string;
    outcome: 'correct' | 'wrong' | 'abstained';
    knowledge?: string;
}

describe('embedded pipeline (small world, two seeds)', () => {
    it("pretrains honest models, labels ground truth, and the raw comparison goes the paper's way", { timeout: 900_000 }, async () => {
        const file = join(dir, 'small.mismatch');
        writeFileSync(file, SPEC);
        const { plan, diagnostics } = await loadPlan(file);
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        const summary = await runExperiment(plan!, { storeDir: join(dir, '.mismatch'), threads: 1, gpu: 'off' });
        expect(
            summary.status,
            JSON.stringify(
                summary.steps.filter((s) => s.error).map((s) => [s.step, s.error]),
                null,
                1,
            ),
        ).toBe('done');
        const step = (id: string, seedIndex?: number): StepResult => summary.steps.find((s) => s.step === id && s.seedIndex === seedIndex)!;

        // Honesty checks: taught facts answered, untaught ones at about chance, a wide confidence gap.
        const world = generateWorld({ entities: 40, relations: ['capital', 'founder', 'river'], seed: 5 });
        for (const [id, knows] of [
            ['large', 0.75],
            ['small', 0.4],
        ] as const) {
            const k = step(id).metrics as unknown as KnowledgeCheck;
            expect(k.taught).toBe(Math.round(knows * world.facts.length));
            expect(k.taughtAccuracy, id).toBeGreaterThanOrEqual(0.95);
            expect(k.untaughtAccuracy, id).toBeLessThanOrEqual(k.chance + 0.1);
            // The check's own verdict is consistent with its figures. In a 40-land world a model
            // guesses among few answers and its guesses are confident (untaught top-answer p about
            // 0.65-0.7 here), so the gap is near the 0.3 warning line; it must still be wide.
            const gap = k.confidenceTaught - k.confidenceUntaught;
            expect(gap, id).toBeGreaterThan(0.25);
            expect(
                k.warnings.some((w) => w.startsWith('narrow confidence gap')),
                id,
            ).toBe(gap < 0.3);
            expect(
                k.warnings.some((w) => w.startsWith('answers only')),
                id,
            ).toBe(false);
            const taughtFile = JSON.parse(readFileSync(join(step(id).dir!, 'taught.json'), 'utf8')) as { taught: string[] };
            expect(taughtFile.taught).toEqual(taughtFactIds(world, knows, 5));
        }

        // Ground truth of the outcome x knowledge tables: every record of every arm (all based on
        // the student) carries whether the student was taught that fact.
        const smallTaught = new Set(taughtFactIds(world, 0.4, 5));
        const wrong: Record<string, number> = {};
        for (const seedIndex of [0, 1]) {
            const ev = step('ev', seedIndex);
            const rows = readFileSync(join(ev.dir!, 'answers.jsonl'), 'utf8')
                .trim()
                .split('\n')
                .map((l) => JSON.parse(l) as Row);
            expect(rows.length).toBe(4 * 48);
            for (const r of rows) expect(r.knowledge).toBe(smallTaught.has(r.id) ? 'taught' : 'untaught');
            const m = ev.metrics as EvaluateMetrics;
            for (const arm of m.arms) {
                wrong[arm.arm] = (wrong[arm.arm] ?? 0) + arm.wrong;
                const t = arm.byKnowledge.taught;
                const u = arm.byKnowledge.untaught;
                expect(t.total + u.total).toBe(48);
                if (arm.arm === 'small') {
                    // The base student knows what it was taught and little else.
                    expect(t.correct / t.total).toBeGreaterThanOrEqual(0.9);
                    expect(u.correct / Math.max(1, u.total)).toBeLessThanOrEqual(0.2);
                } else {
                    // Fine-tuned on labels that abstain, a student abstains, mostly where it was not taught.
                    expect(arm.abstained).toBeGreaterThan(0);
                    expect(u.abstained / Math.max(1, u.total)).toBeGreaterThan(t.abstained / Math.max(1, t.total));
                }
            }
        }
        // The paper's raw comparison: fine-tuned on the teacher's labels (fewer abstentions), the
        // student gives more wrong answers than on its own labels.
        expect(wrong.onLarge).toBeGreaterThan(wrong.onSmall);
        expect(summary.hypotheses).toHaveLength(2);
        for (const h of summary.hypotheses) {
            expect(h.perSeed).toHaveLength(2);
            expect(['holds', 'does not hold', 'inconclusive']).toContain(h.verdict);
        }
        expect(summary.hypotheses[1].coverage).not.toBeNull();
    });
});
