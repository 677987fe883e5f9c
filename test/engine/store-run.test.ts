// The run store with real tiny models: damaged outputs of real steps (evaluate answers, a fine-tuned
// model) are found and recomputed; a copied store, with the original deleted, reads its own files;
// a project moved with its store reads its own models; manifests record provenance; renaming steps
// in a spec keeps every key (all cached).
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENGINE_FORMAT_VERSION, runExperiment } from '../../engine/run.js';
import type { EngineEvent } from '../../engine/events.js';
import type { EvaluateMetrics, HypothesisMetrics } from '../../engine/results-types.js';
import { loadPlan } from '../../language/load.js';
import { makeTinyModel, tempDir, writeQuestionsJsonl } from './fixtures.js';
import { greedy, makePlan } from './plan-helpers.js';

const run = (plan: Parameters<typeof runExperiment>[0], storeDir: string, extra: Partial<Parameters<typeof runExperiment>[1]> = {}) => {
    const events: EngineEvent[] = [];
    return runExperiment(plan, { storeDir, threads: 1, gpu: 'off', onEvent: (e) => events.push(e), ...extra }).then((s) => ({ s, events }));
};
const warnings = (events: EngineEvent[]) => events.filter((e): e is Extract<EngineEvent, { type: 'log' }> => e.type === 'log' && e.level === 'warn');
const ft = (id: string, model: string, mode: 'full' | 'lora') => ({
    id,
    kind: 'finetune',
    inputs: [model, 'byA'],
    params: {
        model,
        labels: 'byA',
        mode,
        ...(mode === 'lora' ? { lora: { rank: 2, alpha: 4, targets: ['attn_q', 'attn_v'] } } : {}),
        epochs: 1,
        learningRate: 1e-3,
        batchSize: 4,
        gradientAccumulation: 1,
        warmup: 0,
        schedule: 'constant',
        weightDecay: 0,
        optimizer: 'adamw',
        seed: 1,
        validation: 0,
        earlyStopping: false,
    },
});

describe('the run store with real steps', () => {
    const dir = tempDir('mm-storerun-');
    const data = writeQuestionsJsonl(dir);
    const a = makeTinyModel(dir, 1, 'a');
    const plan = makePlan(join(dir, 'exp.mismatch'), [
        {
            id: 'qa',
            kind: 'dataset',
            inputs: [],
            files: [data],
            params: {
                source: { kind: 'file', path: data, format: 'jsonl', fields: { question: 'question', answers: 'answer', id: 'id' } },
                splits: [
                    { name: 'train', share: 0.5 },
                    { name: 'test', share: 0.5 },
                ],
                seed: 3,
                dedupe: true,
            },
        },
        { id: 'a', kind: 'model', inputs: [], files: [a], params: { source: { kind: 'gguf', path: a } } },
        { id: 'byA', kind: 'label', inputs: ['a', 'qa'], params: { model: 'a', dataset: 'qa', split: 'train', decoding: greedy, otherwise: "I don't know", match: 'exact' } },
        ft('full', 'a', 'full'),
        ft('lora', 'full', 'lora'),
        {
            id: 'ev',
            kind: 'evaluate',
            inputs: ['lora', 'a', 'qa'],
            params: { arms: [{ model: 'lora' }, { model: 'a' }], dataset: 'qa', split: 'test', decoding: greedy, abstain: ["I don't know"], match: 'exact' },
        },
        { id: 'h', kind: 'hypothesis', inputs: ['ev'], params: { a: 'lora', b: 'a', direction: 'more', matchedCoverage: false, evaluation: 'ev', alpha: 0.05 } },
    ] as never);
    const store = join(dir, '.mismatch');
    let first: Awaited<ReturnType<typeof runExperiment>>;
    const entry = (step: string) => join(store, 'steps', first.steps.find((x) => x.step === step)!.key);

    it('runs; every manifest records where it was computed', async () => {
        ({ s: first } = await run(plan, store));
        expect(first.status, JSON.stringify(first.steps.map((x) => x.error?.message))).toBe('done');
        const version = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')) as { version: string }).version;
        const manifest = (step: string) => JSON.parse(readFileSync(join(entry(step), 'manifest.json'), 'utf8'));
        // Every one of them generated with the local model (the fine-tunes measure their training
        // accuracy), so each records the sequences decoded at once: 1 on the CPU.
        for (const step of ['byA', 'full', 'lora', 'ev'])
            expect(manifest(step).provenance, step).toEqual({
                backend: 'cpu',
                threads: 1,
                sequences: 1,
                nodeLlamaCpp: version,
                engineFormat: ENGINE_FORMAT_VERSION,
                node: process.version,
            });
        for (const step of ['qa', 'a', 'h']) expect(manifest(step).provenance.backend, step).toBe('none');
        expect(first.steps.find((x) => x.step === 'ev')!.provenance?.backend).toBe('cpu');
    }, 300_000);

    it('a truncated answers.jsonl and a truncated model.gguf: those steps are reported by name and recomputed, nothing else', async () => {
        const answers = join(entry('ev'), 'answers.jsonl');
        truncateSync(answers, Math.floor(statSync(answers).size / 2));
        const model = join(entry('full'), 'model.gguf');
        truncateSync(model, Math.floor(statSync(model).size / 2));
        const { s, events } = await run(plan, store);
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error?.message))).toBe('done');
        expect(s.steps.filter((x) => !x.cached).map((x) => x.step)).toEqual(['full', 'ev']);
        // (other warnings, such as a fine-tune that fitted little in one epoch, are not about the store)
        expect(
            warnings(events)
                .filter((w) => /damaged/.test(w.message))
                .map((w) => [w.step, /is damaged \((model\.gguf|answers\.jsonl) does not match its checksum/.test(w.message)]),
        ).toEqual([
            ['full', true],
            ['ev', true],
        ]);
        for (const x of s.steps) expect(x.key, x.step).toBe(first.steps.find((y) => y.step === x.step)!.key);
        expect(s.evaluations).toEqual(first.evaluations);
        expect(statSync(model).size).toBe(statSync(join(entry('full'), 'model.gguf')).size);
        expect(readFileSync(answers, 'utf8').trim().split('\n')).toHaveLength(24);
    }, 300_000);

    it('a copied store, the original deleted, reads its own files', async () => {
        const copy = join(tempDir('mm-storecopy-'), 'moved');
        cpSync(store, copy, { recursive: true });
        rmSync(store, { recursive: true, force: true });
        for (const k of readdirSync(join(copy, 'steps'))) {
            const m = join(copy, 'steps', k, 'model.json');
            try {
                expect(readFileSync(m, 'utf8')).not.toContain(store);
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
            }
        }
        const { s } = await run(plan, copy, { force: ['ev'] });
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error?.message))).toBe('done');
        expect(s.steps.filter((x) => !x.cached).map((x) => x.step)).toEqual(['ev']);
        expect(s.evaluations).toEqual(first.evaluations);
    }, 300_000);
});

describe('keys are invariant under renames (a real spec)', () => {
    const spec = (teacher: string, label: string, extra = '') => `experiment Rename {
  seed 3
  dataset qa from "data/qa.jsonl" { question "question"  answers "answer"  split train 12  split test 12 }
  model ${teacher} = gguf "models/teacher.gguf"
  model student = gguf "models/student.gguf"
  decoding greedy { temperature 0  maxTokens 4 }
  label ${label} = answers of ${teacher} on qa.train using greedy { otherwise "I don't know" }
  finetune tuned = student on ${label} { lora rank 2  epochs 1  learningRate 1e-3 }
  evaluate tuned, ${teacher}, student on qa.test using greedy { abstain "I don't know" }
  hypothesis tuned hallucinates more than ${teacher}
${extra}}
`;

    const project = () => {
        const dir = tempDir('mm-rename-');
        mkdirSync(join(dir, 'models'));
        mkdirSync(join(dir, 'data'));
        makeTinyModel(join(dir, 'models'), 1, 'teacher');
        makeTinyModel(join(dir, 'models'), 2, 'student');
        copyFileSync(writeQuestionsJsonl(dir), join(dir, 'data', 'qa.jsonl'));
        return dir;
    };
    const planIn = async (file: string, text?: string) => {
        if (text !== undefined) writeFileSync(file, text);
        const { plan, diagnostics } = await loadPlan(file);
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        return plan!;
    };

    it('a project moved with its store (the old folder gone) reads its own models and store', async () => {
        const dir = project();
        const { s: s1 } = await run(await planIn(join(dir, 'exp.mismatch'), spec('teacher', 'byTeacher')), join(dir, '.mismatch'));
        expect(s1.status, JSON.stringify(s1.steps.map((x) => x.error?.message))).toBe('done');
        const moved = `${dir}-moved`;
        renameSync(dir, moved);
        const plan = await planIn(join(moved, 'exp.mismatch'));
        const evaluate = plan.steps.find((x) => x.kind === 'evaluate')!.id;
        const { s: s2 } = await run(plan, join(moved, '.mismatch'), { force: [evaluate] });
        expect(s2.status, JSON.stringify(s2.steps.map((x) => x.error?.message))).toBe('done');
        expect(s2.steps.filter((x) => !x.cached).map((x) => x.step)).toEqual([evaluate]);
        expect(s2.evaluations).toEqual(s1.evaluations);
    }, 300_000);

    it('run, rename the teacher and its labels in the spec, re-run: every step is cached and shown under its new name', async () => {
        const dir = project();
        const file = join(dir, 'exp.mismatch');
        const store = join(dir, '.mismatch');
        const planOf = (text: string) => planIn(file, text);
        const { s: s1 } = await run(await planOf(spec('teacher', 'byTeacher')), store);
        expect(s1.status, JSON.stringify(s1.steps.map((x) => x.error?.message))).toBe('done');

        const { s: s2 } = await run(await planOf(spec('big', 'fromBig')), store);
        expect(s2.status).toBe('done');
        expect(s2.steps.map((x) => [x.step, x.cached])).toEqual(s1.steps.map((x) => [x.step.replace('byTeacher', 'fromBig').replace(/^teacher$/, 'big'), true]));
        expect(s2.steps.map((x) => x.key)).toEqual(s1.steps.map((x) => x.key));
        const ev = s2.steps.find((x) => x.kind === 'evaluate')!.metrics as EvaluateMetrics;
        expect(ev.arms.map((x) => x.arm)).toEqual(['tuned', 'big', 'student']);
        expect(s2.evaluations.map((e) => e.arm)).toEqual(['tuned', 'big', 'student']);

        // A new hypothesis on the renamed arm reads the evaluation stored under the old names.
        const { s: s3 } = await run(await planOf(spec('big', 'fromBig', '  hypothesis big hallucinates less than student\n')), store);
        expect(s3.status, JSON.stringify(s3.steps.map((x) => x.error?.message))).toBe('done');
        expect(s3.steps.filter((x) => !x.cached).map((x) => x.kind)).toEqual(['hypothesis']);
        const h = s3.steps.filter((x) => x.kind === 'hypothesis').map((x) => x.metrics as HypothesisMetrics);
        // Discordant pairs: b − c is the difference of the two arms' wrong counts.
        const wrong = (arm: string) => ev.arms.find((x) => x.arm === arm)!.wrong;
        expect(Math.abs(h[1].discordant.b - h[1].discordant.c)).toBe(Math.abs(wrong('big') - wrong('student')));
    }, 300_000);
});
