import { describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { canonicalJson, redrawnUpstream } from '../../language/plan.js';
import { loadPlan } from '../../language/load.js';
import { planInstances } from '../../engine/run.js';
import type { Plan, Step } from '../../language/plan-types.js';
import { parse, services } from './helpers.js';

// DESIGN.md's sketch, verbatim (examples/quickstart.mismatch starts from it but its sizes get tuned).
const sketch = readFileSync('test/language/fixtures/sketch.mismatch', 'utf8');
let counter = 0;

async function planOf(text: string, file = `/tmp/spec/test-${++counter}.mismatch`): Promise<Plan> {
    const doc = await parse(text, { validation: true, documentUri: `file://${file}` });
    const errors = (doc.diagnostics ?? []).filter((d) => d.severity === 1);
    expect(errors.map((e) => e.message)).toEqual([]);
    return services.plan.PlanService.buildPlan(doc);
}

const byId = (plan: Plan) => new Map(plan.steps.map((s) => [s.id, s]));

describe('the plan of the sketch', () => {
    it('has the expected steps, inputs and defaults', async () => {
        const plan = await planOf(sketch);
        expect(plan.experiment).toBe('KnowledgeMismatch');
        expect(plan.seed).toBe(7);
        expect(plan.seeds).toBe(5);
        expect(plan.alpha).toBe(0.05);
        expect(plan.steps.map((s) => `${s.kind}:${s.id}`)).toEqual([
            'world:atlas',
            'dataset:trivia',
            'model:large',
            'model:small',
            'label:byLarge',
            'label:bySmall',
            'shuffle:shuffled',
            'finetune:smallOnLarge',
            'finetune:smallOnSmall',
            'finetune:smallOnShuffled',
            'evaluate:evaluate@23',
            'hypothesis:hypothesis@24',
            'hypothesis:hypothesis@25',
            'hypothesis:hypothesis@26',
        ]);
        const s = byId(plan);
        expect(s.get('trivia')!.inputs).toEqual(['atlas']);
        expect(s.get('byLarge')!.inputs).toEqual(['large', 'trivia']);
        expect(s.get('shuffled')!.inputs).toEqual(['bySmall']);
        expect(s.get('smallOnLarge')!.inputs).toEqual(['small', 'byLarge']);
        expect(s.get('evaluate@23')!.inputs).toEqual(['smallOnLarge', 'smallOnSmall', 'smallOnShuffled', 'small', 'trivia']);
        expect(s.get('hypothesis@25')!.inputs).toEqual(['smallOnLarge', 'smallOnSmall', 'evaluate@23']);

        const dataset = s.get('trivia') as Extract<Step, { kind: 'dataset' }>;
        expect(dataset.params).toEqual({
            source: { kind: 'world', world: 'atlas' },
            splits: [
                { name: 'train', share: 0.6 },
                { name: 'test', share: 0.4 },
            ],
            seed: 7,
            dedupe: true,
        });
        const large = s.get('large') as Extract<Step, { kind: 'model' }>;
        expect(large.params.source).toEqual({ kind: 'pretrain', world: 'atlas', layers: 4, width: 128, heads: 4, knows: 0.75, seed: 7 });
        const label = s.get('byLarge') as Extract<Step, { kind: 'label' }>;
        expect(label.params).toMatchObject({ model: 'large', dataset: 'trivia', split: 'train', otherwise: "I don't know", match: 'exact' });
        expect(label.params.decoding).toEqual({ name: 'greedy', temperature: 0, maxTokens: 24, stop: ['\n'], template: 'raw', fewShot: 0 });
        const ft = s.get('smallOnLarge') as Extract<Step, { kind: 'finetune' }>;
        expect(ft.params).toMatchObject({ model: 'small', labels: 'byLarge', mode: 'lora', epochs: 3, learningRate: 1e-3, batchSize: 8, seed: 7 });
        expect(ft.params.lora).toMatchObject({ rank: 8, alpha: 16 });
        expect(ft.stochastic).toBe(true);
        const ev = s.get('evaluate@23') as Extract<Step, { kind: 'evaluate' }>;
        expect(ev.params).toMatchObject({ dataset: 'trivia', split: 'test', abstain: ["I don't know"] });
        expect(ev.params.arms.map((a) => a.model)).toEqual(['smallOnLarge', 'smallOnSmall', 'smallOnShuffled', 'small']);
        const h = s.get('hypothesis@26') as Extract<Step, { kind: 'hypothesis' }>;
        expect(h.params).toEqual({ a: 'smallOnShuffled', b: 'smallOnSmall', direction: 'more', matchedCoverage: true, evaluation: 'evaluate@23', alpha: 0.05 });
    });

    it('orders steps topologically, with 0-based ranges on the right lines', async () => {
        const plan = await planOf(sketch);
        const position = new Map(plan.steps.map((s, i) => [s.id, i]));
        for (const step of plan.steps) for (const input of step.inputs) expect(position.get(input)!).toBeLessThan(position.get(step.id)!);
        const s = byId(plan);
        expect(s.get('smallOnLarge')!.range.start.line).toBe(18);
        expect(s.get('smallOnLarge')!.nameRange.start).toEqual({ line: 18, character: 11 });
        expect(s.get('evaluate@23')!.nameRange.start).toEqual({ line: 22, character: 2 });
        expect(s.get('smallOnLarge')!.range.file).toBe(resolve(`/tmp/spec/test-${counter}.mismatch`));
        // A Plan is plain JSON.
        expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    });

    it('keeps every key under renames, moves and whitespace edits', async () => {
        const a = await planOf(sketch);
        const renamed = sketch.replaceAll('smallOnLarge', 'studentOnTeacher').replaceAll('byLarge', 'teacherLabels').replaceAll('atlas', 'world1');
        const b = await planOf(renamed);
        expect(b.steps.map((s) => s.key)).toEqual(a.steps.map((s) => s.key));
        const lines = sketch.split('\n');
        const moved = [...lines.slice(0, 3), '', '  // a comment', ...lines.slice(3)].join('\n').replace('seeds 5', 'seeds    5').replace(/ {2}/g, '   ');
        const c = await planOf(moved, `/elsewhere/other-name-${++counter}.mismatch`);
        expect(c.steps.map((s) => s.key)).toEqual(a.steps.map((s) => s.key));
        // Reordering independent declarations keeps keys too.
        const swapped = sketch.replace(/( {2}model large = .*\n)( {2}model small = .*\n)/, (_m, l: string, s: string) => s + l);
        const d = await planOf(swapped);
        expect(new Set(d.steps.map((s) => s.key))).toEqual(new Set(a.steps.map((s) => s.key)));
    });

    it('changes the key of a changed step and of its dependants only', async () => {
        const a = byId(await planOf(sketch));
        const b = byId(await planOf(sketch.replace('finetune smallOnLarge = small on byLarge { lora rank 8  epochs 3', 'finetune smallOnLarge = small on byLarge { lora rank 8  epochs 4')));
        const changed = [...a.keys()].filter((id) => a.get(id)!.key !== b.get(id)!.key);
        // every hypothesis reads the evaluation, so all three change with it
        expect(changed).toEqual(['smallOnLarge', 'evaluate@23', 'hypothesis@24', 'hypothesis@25', 'hypothesis@26']);
        const c = byId(await planOf(sketch.replace('knows 40%', 'knows 50%')));
        const changed2 = [...a.keys()].filter((id) => a.get(id)!.key !== c.get(id)!.key);
        expect(changed2).toEqual(['small', 'bySmall', 'shuffled', 'smallOnLarge', 'smallOnSmall', 'smallOnShuffled', 'evaluate@23', 'hypothesis@24', 'hypothesis@25', 'hypothesis@26']);
        // The decoding's name is not part of any key; its settings are.
        const d = byId(await planOf(sketch.replaceAll('greedy', 'plain')));
        expect(d.get('evaluate@23')!.key).toBe(a.get('evaluate@23')!.key);
        const e = byId(await planOf(sketch.replace('maxTokens 24', 'maxTokens 16')));
        expect(e.get('byLarge')!.key).not.toBe(a.get('byLarge')!.key);
        expect(e.get('atlas')!.key).toBe(a.get('atlas')!.key);
    });

    it('writes the plan of the paper form and fills defaults', async () => {
        const plan = await planOf(readFileSync('examples/paper.mismatch', 'utf8'));
        expect(plan.steps.filter((s) => s.kind === 'finetune')).toHaveLength(2);
        expect(plan.steps.filter((s) => s.kind === 'hypothesis')).toHaveLength(1);
        const world = plan.steps.find((s) => s.kind === 'world') as Extract<Step, { kind: 'world' }>;
        expect(world.params).toEqual({ entities: 300, relations: ['capital', 'founder', 'river'], seed: 1 });
        // the design's paper-only form (600 lands) stays valid
        const six = await planOf(readFileSync('examples/paper.mismatch', 'utf8').replace('entities 300', 'entities 600'));
        expect((six.steps.find((s) => s.kind === 'world') as Extract<Step, { kind: 'world' }>).params.entities).toBe(600);
    });

    it('plans Gekhman-style mixes, knowledge steps, full fine-tunes and files', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'mm-plan-'));
        writeFileSync(join(dir, 'qa.jsonl'), '{"q": "Capital of X?", "a": {"aliases": ["Y"]}}\n');
        const plan = await planOf(
            `experiment G {
  world atlas { entities 100 }
  dataset qa from "qa.jsonl" { question "q"  answers "a.aliases"  split train 80%  split test 20% }
  model base = pretrain on atlas { knows 50% }
  decoding sampled { temperature 0.5  seed 3 }
  knowledge k = base on qa.train using sampled { samples 10 }
  label u50 = mix k { unknown 50%  size 40 }
  finetune f = base on u50 { full  epochs 2  learningRate 1e-4 }
  evaluate f on qa.test
}`,
            join(dir, 'g.mismatch'),
        );
        const s = byId(plan);
        expect(s.get('qa')!.params).toMatchObject({ source: { kind: 'file', path: join(dir, 'qa.jsonl'), format: 'jsonl', fields: { question: 'q', answers: 'a.aliases' } } });
        expect(s.get('qa')!.files).toEqual([join(dir, 'qa.jsonl')]);
        expect(s.get('k')!.params).toMatchObject({ model: 'base', dataset: 'qa', split: 'train', samples: 10, temperature: 0.5, seed: 3 });
        expect(s.get('u50')!.params).toEqual({ knowledge: 'k', unknown: 0.5, size: 40, seed: 1 });
        expect(s.get('f')!.params).toMatchObject({ mode: 'full', epochs: 2, learningRate: 1e-4 });
        expect((s.get('f')!.params as { lora?: unknown }).lora).toBeUndefined();
        expect(s.get('evaluate@9')!.params).toMatchObject({ split: 'test', decoding: { temperature: 0, maxTokens: 32 } });
        // no label step with `otherwise` behind the arm: the default abstention phrases
        expect((s.get('evaluate@9')!.params as { abstain: string[] }).abstain).toEqual(expect.arrayContaining(["I don't know", 'I do not know', 'Unknown']));
    });
});

describe('loadPlan', () => {
    it('loads a spec and its imports from disk', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'mm-load-'));
        writeFileSync(join(dir, 'common.mismatch'), 'world atlas { entities 50 }\nmodel base = pretrain on atlas { knows 60% }\ndecoding greedy { temperature 0 }\n');
        writeFileSync(
            join(dir, 'main.mismatch'),
            `import "common.mismatch"
experiment E {
  dataset d from atlas { split train 50%  split test 50% }
  label l = answers of base on d.train using greedy
  finetune f = base on l
  evaluate f, base on d.test using greedy
  hypothesis f hallucinates more than base
}`,
        );
        const { plan, diagnostics } = await loadPlan(join(dir, 'main.mismatch'));
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        expect(plan!.steps.map((s) => s.id)).toEqual(['atlas', 'd', 'base', 'l', 'f', 'evaluate@6', 'hypothesis@7']);
        expect(plan!.steps.find((s) => s.id === 'base')!.range.file).toBe(join(dir, 'common.mismatch'));
    });

    it('returns located diagnostics and no plan when the spec has errors', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'mm-load-'));
        writeFileSync(join(dir, 'bad.mismatch'), 'experiment E {\n  model m = pretrain on nowhere\n}\n');
        const { plan, diagnostics } = await loadPlan(join(dir, 'bad.mismatch'));
        expect(plan).toBeUndefined();
        expect(diagnostics).toContainEqual(expect.objectContaining({ file: join(dir, 'bad.mismatch'), line: 2, column: 25, severity: 'error', code: 'unknown-reference' }));
        const missing = await loadPlan(join(dir, 'nope.mismatch'));
        expect(missing.plan).toBeUndefined();
        expect(missing.diagnostics[0].message).toMatch(/does not exist/);
    });
});

describe('canonicalJson', () => {
    it('sorts keys and drops undefined', () => {
        expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
    });
});

describe('replicates: what `seeds N` redraws', () => {
    const stochastic = (plan: Plan) => Object.fromEntries(plan.steps.map((s) => [s.id, s.stochastic]));
    it('by default a replicate redraws everything seeded upstream: world, split, pretraining, label choices, fine-tuning', async () => {
        const plan = await planOf(sketch);
        expect(plan.redraw).toEqual(['facts', 'splits', 'pretraining', 'labels', 'finetuning', 'sampling']);
        expect(stochastic(plan)).toMatchObject({
            atlas: true,
            trivia: true,
            large: true,
            small: true,
            shuffled: true,
            smallOnLarge: true,
            smallOnShuffled: true,
            // greedy decoding without few-shot exemplars draws nothing
            byLarge: false,
            'evaluate@23': false,
            'hypothesis@24': false,
        });
        expect(byId(plan).get('large')!.redraw).toBe('pretraining');
        expect(byId(plan).get('byLarge')!.redraw).toBeUndefined();
        // the shuffle control is read by the evaluation, so every hypothesis is downstream of it
        expect(redrawnUpstream(plan, 'hypothesis@24')).toEqual(['facts', 'splits', 'pretraining', 'labels', 'finetuning']);
        // the engine runs the world, the split and both pretrainings once per replicate
        const count = (id: string) => planInstances(plan).filter((i) => i.step.id === id).length;
        expect([count('atlas'), count('trivia'), count('large'), count('byLarge'), count('evaluate@23'), count('hypothesis@24')]).toEqual([5, 5, 5, 5, 5, 1]);
    });
    it('`redraw finetuning` keeps the world, split and pretrained models; every step key stays the same', async () => {
        const all = await planOf(sketch);
        const some = await planOf(sketch.replace('seeds 5', 'seeds 5\n  redraw finetuning'));
        const explicit = await planOf(sketch.replace('seeds 5', 'seeds 5\n  redraw all'));
        expect(some.redraw).toEqual(['finetuning']);
        expect(stochastic(some)).toMatchObject({ atlas: false, trivia: false, large: false, shuffled: false, smallOnLarge: true });
        expect(some.steps.map((s) => s.key)).toEqual(all.steps.map((s) => s.key));
        expect(explicit.steps.map((s) => [s.key, s.stochastic])).toEqual(all.steps.map((s) => [s.key, s.stochastic]));
        // (one line more: the unnamed steps are now `evaluate@24`, `hypothesis@25`...)
        expect(redrawnUpstream(some, 'hypothesis@25')).toEqual(['finetuning']);
        const count = (id: string) => planInstances(some).filter((i) => i.step.id === id).length;
        expect([count('atlas'), count('large'), count('byLarge'), count('smallOnLarge'), count('evaluate@24')]).toEqual([1, 1, 1, 5, 5]);
        // sampled decoding is a stage of its own
        const sampled = await planOf(sketch.replace('seeds 5', 'seeds 5\n  redraw sampling, splits').replace('temperature 0 ', 'temperature 0.7 '));
        expect(sampled.redraw).toEqual(['splits', 'sampling']);
        expect(stochastic(sampled)).toMatchObject({ trivia: true, byLarge: true, 'evaluate@24': true, smallOnLarge: false, large: false });
        expect(redrawnUpstream(sampled, 'hypothesis@25')).toEqual(['splits', 'sampling']);
        expect(redrawnUpstream({ ...sampled, seeds: 1 }, 'hypothesis@25')).toEqual([]);
    });
    it('bad `redraw` values are located errors; `redraw` without replicates is a warning', async () => {
        const diags = async (text: string) => {
            const doc = await parse(text, { validation: true });
            return (doc.diagnostics ?? []).map((d) => ({ severity: d.severity, line: d.range.start.line, message: d.message }));
        };
        const typo = await diags(sketch.replace('seeds 5', 'seeds 5\n  redraw finetunig'));
        expect(typo).toContainEqual({ severity: 1, line: 3, message: expect.stringMatching(/A replicate cannot redraw `finetunig`\. Did you mean `finetuning`\?/) });
        const both = await diags(sketch.replace('seeds 5', 'seeds 5\n  redraw all, splits'));
        expect(both).toContainEqual({ severity: 1, line: 3, message: expect.stringMatching(/`redraw all` already redraws every stage/) });
        // the language's keywords are not stage names: say which name is meant
        const keyword = await diags(sketch.replace('seeds 5', 'seeds 5\n  redraw finetune'));
        expect(keyword).toContainEqual({ severity: 1, line: 3, message: expect.stringMatching(/`finetune` is a keyword; as a stage that a replicate redraws write `finetuning`/) });
        const single = await diags(sketch.replace('seeds 5', 'seeds 1\n  redraw splits'));
        expect(single).toContainEqual({ severity: 2, line: 3, message: expect.stringMatching(/with `seeds 1` there is one run/) });
    });
});
