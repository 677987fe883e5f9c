// A verdict whose pretrained models failed their honesty check carries a statement that the
// comparison's premise does not hold, beside the verdict, in the CLI, its JSON and the HTML report.
// The plan is the one language/plan.ts builds from a spec; the expected statements are written by
// hand from the fixture's numbers (1489 of 1800 taught facts = 82.72%; 0.85 = 85.0%).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlan } from '../../language/load.js';
import type { Plan } from '../../language/plan-types.js';
import type { HypothesisMetrics, KnowledgeCheck, StepResult } from '../../engine/results-types.js';
import { premiseNotes, summaryWithPremises } from '../../engine/stats/premise.js';
import { jsonSummary, renderResults } from '../../cli/results.js';
import { reportHtml } from '../../engine/report/html.js';
import { annotate } from '../../client/annotate.js';

const SPEC = `experiment Premise {
  seed 1
  world atlas { entities 20  relations capital }
  dataset trivia from atlas { split train 60%  split test 40% }
  model teacher = pretrain on atlas { layers 1  width 32  knows 100% }
  model student = pretrain on atlas { layers 1  width 32  knows 40% }
  label byTeacher = answers of teacher on trivia.train { otherwise "I don't know" }
  label byStudent = answers of student on trivia.train { otherwise "I don't know" }
  label shuffled = shuffle byStudent { seed 11 }
  finetune onTeacher = student on byTeacher { lora rank 4  epochs 1 }
  finetune onStudent = student on byStudent { lora rank 4  epochs 1 }
  finetune onShuffled = student on shuffled { lora rank 4  epochs 1 }
  evaluate ev = onTeacher, onStudent, onShuffled, teacher on trivia.test
  hypothesis raw = onTeacher hallucinates more than onStudent
  hypothesis control = onShuffled hallucinates more than onStudent
  hypothesis bases = teacher hallucinates less than onStudent
}
`;

const dir = mkdtempSync(join(tmpdir(), 'mm-premise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function plan(): Promise<Plan> {
    const file = join(dir, 'premise.mismatch');
    writeFileSync(file, SPEC);
    const { plan, diagnostics } = await loadPlan(file);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    return plan!;
}

const check = (taughtAccuracy: number, taught: number, untaught: number, untaughtAccuracy = 0, chance = 0.05): KnowledgeCheck => ({
    taughtAccuracy,
    untaughtAccuracy,
    chance,
    confidenceTaught: 0.9,
    confidenceUntaught: 0.1,
    taught,
    untaught,
    warnings: [],
});
const model = (step: string, k: KnowledgeCheck, seedIndex?: number): StepResult => ({
    step,
    kind: 'model',
    key: `k-${step}-${seedIndex}`,
    status: 'done',
    cached: false,
    seconds: 1,
    metrics: k,
    ...(seedIndex !== undefined ? { seedIndex } : {}),
});
const hypothesis = (name: string): HypothesisMetrics =>
    ({
        name,
        holds: true,
        verdict: 'holds',
        test: 'mcnemar',
        p: 1e-6,
        discordant: { b: 30, c: 2 },
        coverage: null,
        alpha: 0.05,
        perSeed: [{ seed: 0, holds: true, verdict: 'holds', test: 'mcnemar', p: 1e-6, discordant: { b: 30, c: 2 }, coverage: null, wrongRateA: 0.4, wrongRateB: 0.1, ci95: [0.2, 0.4] }],
    }) as HypothesisMetrics;
const hyp = (step: string): StepResult => ({ step, kind: 'hypothesis', key: `k-${step}`, status: 'done', cached: false, seconds: 0, metrics: hypothesis(step) });

const TEACHER = "teacher knows only 82.7% of the facts it was taught (want ≥ 95.0%): the comparison's premise does not hold";

describe('the premise of a comparison: the pretrained models know what they were taught', () => {
    it('a teacher that answers 1489 of its 1800 facts: the raw comparison carries the statement, the one it does not label does not', async () => {
        const p = await plan();
        const results = [model('teacher', check(1489 / 1800, 1800, 0)), model('student', check(0.99, 8, 12, 0.05, 0.05)), hyp('raw'), hyp('control'), hyp('bases')];
        const notes = premiseNotes(p, results);
        expect(notes.get('raw')).toEqual([TEACHER]);
        // the control's arms were labelled by the student alone
        expect(notes.has('control')).toBe(false);
        // an arm that is the teacher itself: it is the evaluated model, not a teacher
        expect(notes.get('bases')).toEqual(["model teacher knows only 82.7% of the facts it was taught (want ≥ 95.0%): the comparison's premise does not hold"]);
    });

    it('a student that answers untaught facts well above chance, and a teacher that passes: no statement about the teacher', async () => {
        const p = await plan();
        // 0.95 is exactly the threshold: it passes; 0.3 of untaught facts vs chance 5%: 25 points above
        const results = [model('teacher', check(0.95, 20, 0)), model('student', check(1, 8, 12, 0.3, 0.05)), hyp('raw'), hyp('control')];
        const notes = premiseNotes(p, results);
        const leak = "student answers 30.0% of the facts it was not taught, well above chance (5.0%): the comparison's premise does not hold";
        expect(notes.get('raw')).toEqual([leak]);
        expect(notes.get('control')).toEqual([leak]);
    });

    it('with replicates: how many failed and the worst', async () => {
        const p = await plan();
        const results = [0.99, 0.9, 0.85].map((a, i) => model('teacher', check(a, 20, 0), i)).concat([model('student', check(1, 8, 12), 0), hyp('raw')]);
        expect(premiseNotes(p, results).get('raw')).toEqual([
            "teacher knows only as little as 85.0% of the facts it was taught in 2 of 3 replicates (want ≥ 95.0%): the comparison's premise does not hold",
        ]);
    });

    it('models that pass: no statement', async () => {
        const p = await plan();
        expect(premiseNotes(p, [model('teacher', check(1, 20, 0)), model('student', check(0.96, 8, 12, 0.06, 0.05)), hyp('raw')]).size).toBe(0);
    });

    it('shown under the verdict in the CLI, in its JSON and in the HTML report', async () => {
        const p = await plan();
        const results = [model('teacher', check(1489 / 1800, 1800, 0)), model('student', check(1, 8, 12)), hyp('raw')];
        const text = renderResults(results, { plan: p, familySize: 1 }).replace(/\u001b\[[0-9;]*m/g, '');
        const lines = text.split('\n');
        const at = lines.findIndex((l) => l.includes('HOLDS: onTeacher hallucinates more than onStudent'));
        expect(at).toBeGreaterThanOrEqual(0);
        // the verdict's own block: effect line, replication line, then the statement
        expect(lines.slice(at + 1, at + 4).some((l) => l.trim() === `⚠ ${TEACHER}`)).toBe(true);
        const json = jsonSummary(
            summaryWithPremises(p, { experiment: 'Premise', status: 'done', seconds: 1, storeDir: dir, steps: results, evaluations: [], hypotheses: [{ ...hypothesis('raw'), step: 'raw' }] } as never),
        ) as { hypotheses: { name: string; notes?: string[] }[] };
        expect(json.hypotheses.find((h) => h.name === 'raw')!.notes).toEqual([TEACHER]);
        const html = reportHtml(p, results);
        expect(html).toContain(`<p class="warn">⚠ ${TEACHER.replace(/'/g, '&#39;')}</p>`);
        // the editor's line after the hypothesis shows the first statement: the premise, ahead of the test's own notes
        const withNote = results.map((r) => (r.kind === 'hypothesis' ? { ...r, metrics: { ...(r.metrics as HypothesisMetrics), notes: ['only 12 questions differ'] } } : r));
        const a = annotate(p, withNote).find((x) => x.step === 'raw')!;
        expect(a.text).toContain(TEACHER);
        expect(a.text).not.toContain('only 12 questions differ');
        expect(a.hover).toContain('only 12 questions differ');
        const notes = premiseNotes(p, withNote);
        expect(notes.get('raw')).toEqual([TEACHER]);
    });
});
