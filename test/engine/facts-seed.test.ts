// `factsSeed` on a pretrained model: its taught facts drawn apart from the other models' (a student
// that knows facts its teacher lacks), while specs without it keep today's nested draw.
// Expected cell counts were computed independently in Python from the definitions (FNV-1a + murmur
// finaliser ranking of "taught:<seed>:<id>", the first round(P × n) taught; the split ranks
// sha256("<seed>:<id>"), train first): a 20-land world of 3 relations (60 facts), teacher 60% with
// seed 3, student 40%, dataset seed 3, test split 24 questions.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlan } from '../../language/load.js';
import type { ModelStep, Plan } from '../../language/plan-types.js';
import { generateWorld, taughtFactIds, taughtSeed } from '../../engine/world/index.js';
import { splitRecords, worldRecords } from '../../engine/datasets/index.js';

const spec = (studentExtra: string) => `experiment Grid {
  seed 3
  world atlas { entities 20  relations capital, founder, river }
  dataset trivia from atlas { split train 60%  split test 40% }
  model large = pretrain on atlas { layers 1  width 32  heads 2  knows 60% }
  model small = pretrain on atlas { layers 1  width 32  heads 2  knows 40%${studentExtra} }
}
`;

const dir = mkdtempSync(join(tmpdir(), 'mm-facts-seed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function load(text: string, name: string) {
    const file = join(dir, `${name}.mismatch`);
    writeFileSync(file, text);
    return loadPlan(file);
}

function cells(plan: Plan): Record<string, number> {
    const model = (id: string) => (plan.steps.find((s) => s.id === id) as ModelStep).params.source as Extract<ModelStep['params']['source'], { kind: 'pretrain' }>;
    const world = generateWorld({ entities: 20, relations: ['capital', 'founder', 'river'], seed: 3 });
    const [large, small] = [model('large'), model('small')].map((m) => new Set(taughtFactIds(world, m.knows, taughtSeed(m))));
    const test = splitRecords(
        worldRecords(world.params),
        [
            { name: 'train', share: 0.6 },
            { name: 'test', share: 0.4 },
        ],
        3,
        'atlas',
    ).filter((r) => r.split === 'test');
    const out: Record<string, number> = { both: 0, teacherOnly: 0, studentOnly: 0, neither: 0 };
    for (const r of test) out[large.has(r.id) ? (small.has(r.id) ? 'both' : 'teacherOnly') : small.has(r.id) ? 'studentOnly' : 'neither']++;
    return out;
}

describe('factsSeed: which facts a pretrained model is taught', () => {
    it("absent: the plan carries no factsSeed (keys as before) and the student knows a subset of the teacher's facts", async () => {
        const { plan, diagnostics } = await load(spec(''), 'nested');
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        const small = plan!.steps.find((s) => s.id === 'small') as ModelStep;
        expect(JSON.stringify(small.params)).not.toContain('factsSeed');
        expect(cells(plan!)).toEqual({ both: 9, teacherOnly: 6, studentOnly: 0, neither: 9 });
    });

    it('set on the student: all four cells of the grid are populated, the initial-weights seed unchanged', async () => {
        const { plan, diagnostics } = await load(spec('  factsSeed 4'), 'apart');
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        const small = (plan!.steps.find((s) => s.id === 'small') as ModelStep).params.source;
        expect(small).toMatchObject({ kind: 'pretrain', seed: 3, factsSeed: 4 });
        expect(cells(plan!)).toEqual({ both: 6, teacherOnly: 9, studentOnly: 3, neither: 6 });
        // a different draw is a different model: its key changes
        const nested = (await load(spec(''), 'nested2')).plan!;
        expect(plan!.steps.find((s) => s.id === 'small')!.key).not.toBe(nested.steps.find((s) => s.id === 'small')!.key);
        expect(plan!.steps.find((s) => s.id === 'large')!.key).toBe(nested.steps.find((s) => s.id === 'large')!.key);
    });

    it('a negative or fractional factsSeed is an error on its line', async () => {
        for (const bad of ['factsSeed -1', 'factsSeed 1.5']) {
            const { diagnostics } = await load(spec(`  ${bad}`), 'bad');
            const errors = diagnostics.filter((d) => d.severity === 'error');
            expect(errors.length, bad).toBeGreaterThan(0);
            // line 6 of the spec holds the student's block
            expect(errors[0].line, bad).toBe(6);
        }
    });
});
