// Batched generation is deterministic: with N parallel sequences an answer and its log-probabilities
// depend only on the questions and N, not on timing, on which answers a resumed step had stored, or on
// the order the questions came in; each batch is exactly what an independent lockstep loop over
// node-llama-cpp makes (lockstep-reference-child.mjs); batched answers stay within a measured bound of
// one-at-a-time ones; and the sequence count the engine picks follows the backend the worker reports.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalGenerator } from '../../engine/models/local.js';
import type { GpuChoice } from '../../engine/models/protocol.js';
import { CPU_SEQUENCES, defaultSequences, GPU_SEQUENCES } from '../../engine/models/sequences.js';
import type { GenerationItem, GenerationResult } from '../../engine/models/types.js';
import { runCommand } from '../../cli/run.js';
import { runExperiment } from '../../engine/run.js';
import { ModelPool } from '../../engine/steps/model-pool.js';
import { captureIo, LARGE_VOCABULARY, makeTinyModel, QUESTIONS, tempDir, writeQuestionsJsonl } from './fixtures.js';
import { basicSteps, greedy, makePlan } from './plan-helpers.js';

const dir = tempDir('mm-batching-');
// 40 questions of 8 different lengths, so that groups hold prompts of different lengths (the engine
// before fixed groups mixed one question's prompt into other questions' token batches at times that
// depended on when each finished).
const items: GenerationItem[] = [
    ...QUESTIONS.map((q) => ({ id: q.id, question: q.question })),
    ...Array.from({ length: 16 }, (_, i) => ({ id: `long${i}`, question: `What is the capital of Land${i}${' and of Land1'.repeat(1 + (i % 7))}?` })),
];
// A random-weight model with a ~16k-token vocabulary (as test/engine/sequences.test.ts's): answers are
// meaningless but every token is a real top-1 choice over a real-sized vocabulary.
const model = makeTinyModel(dir, 5, 'batching', [...items.map((q) => q.question), ...LARGE_VOCABULARY]);
const maxTokens = 10;
const decoding = { ...greedy, maxTokens };
type Answer = Pick<GenerationResult, 'id' | 'text' | 'logprobs'>;

async function engine(sequences: number, todo: GenerationItem[], all?: GenerationItem[]): Promise<{ answers: Map<string, Answer>; outOfStep: number | undefined }> {
    const g = await LocalGenerator.start({ modelPath: model, gpu: false, threads: 1, sequences, contextSize: 128 });
    try {
        const r = await g.generate(todo, decoding, all ? { all } : {});
        expect(r.length).toBe(todo.length);
        return { answers: new Map(r.map((x) => [x.id, x])), outOfStep: g.lastStats?.outOfStep };
    } finally {
        await g.close();
    }
}

async function reference(sequences: number): Promise<Map<string, Answer>> {
    const child = join(import.meta.dirname, 'lockstep-reference-child.mjs');
    const { stdout } = await promisify(execFile)(process.execPath, [child, JSON.stringify({ model, items, sequences, maxTokens })], {
        env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
        maxBuffer: 1 << 24,
    });
    const rows = JSON.parse(stdout.trim().split('\n').pop()!) as Answer[];
    return new Map(rows.map((r) => [r.id, r]));
}

/** Asserts the same texts and the same log-probabilities, bit for bit, for every id of `b`. */
function expectIdentical(a: Map<string, Answer>, b: Map<string, Answer>, what: string) {
    for (const [id, y] of b) {
        const x = a.get(id);
        expect(x, `${what}: ${id}`).toBeDefined();
        expect(y.text, `${what}: ${id}`).toBe(x!.text);
        expect(y.logprobs, `${what}: ${id}`).toEqual(x!.logprobs);
    }
}

describe('batched generation', () => {
    let batched: Map<string, Answer>;
    beforeAll(async () => {
        const r = await engine(8, items);
        batched = r.answers;
        // each decode batch held exactly the sequences of one lockstep step
        expect(r.outOfStep).toBe(0);
    }, 240_000);

    it('gives bit-identical answers when repeated, reordered, or resumed with some answers stored', async () => {
        const again = await engine(8, items);
        expectIdentical(batched, again.answers, 'repeated');
        const reversed = await engine(8, [...items].reverse());
        expectIdentical(batched, reversed.answers, 'reversed');
        // A resumed step: a third of the questions are still to answer, the step's whole list (in
        // another order) says which groups they belong to.
        const todo = items.filter((_, i) => i % 3 === 1);
        const resumed = await engine(
            8,
            todo,
            [...items].sort((a, b) => a.question.length - b.question.length),
        );
        expect(resumed.answers.size).toBe(todo.length);
        expectIdentical(batched, resumed.answers, 'resumed');
        expect(resumed.outOfStep).toBe(0);
    }, 240_000);

    it('decodes what an independent lockstep loop over node-llama-cpp decodes, within a measured bound of one at a time', async () => {
        const [lockstep8, sequential] = [await reference(8), await reference(1)];
        expectIdentical(lockstep8, batched, 'engine with 8 sequences vs the reference lockstep of 8');
        expectIdentical(sequential, (await engine(1, items)).answers, 'engine with 1 sequence vs the reference one at a time');
        // Batched vs one at a time: the matrix products of an 8-token batch round differently from
        // those of a 1-token one. Measured on this model (x86-64 CPU): every text equal, the largest
        // difference of a token's log-probability 2.1e-4 (of 400 tokens; 3.5e-5 on a pretrained world
        // model, up to 1.0e-3 on a random 4-layer 256-wide one, bench/embedded/seqcheck.ts). The bound
        // is 5× the measurement here; another question's logits would differ by order 1.
        let largest = 0;
        for (const { id } of items) {
            const [a, b] = [sequential.get(id)!, batched.get(id)!];
            expect(b.text, id).toBe(a.text);
            expect(b.logprobs!.length, id).toBe(a.logprobs!.length);
            b.logprobs!.forEach((lp, k) => (largest = Math.max(largest, Math.abs(lp - a.logprobs![k]))));
        }
        expect(largest).toBeLessThan(1e-3);
    }, 240_000);

    it('takes its sequence count from the backend the inference process reports', async () => {
        expect([defaultSequences('cuda'), defaultSequences('vulkan'), defaultSequences('metal')]).toEqual([GPU_SEQUENCES, GPU_SEQUENCES, GPU_SEQUENCES]);
        expect(defaultSequences(false)).toBe(CPU_SEQUENCES);
        expect(GPU_SEQUENCES).toBeGreaterThan(1);
        const ref = { kind: 'local' as const, path: model, lora: [], base: 'm' };
        const q = items.slice(0, 3);
        // The run does not say: the worker resolves the backend (here the CPU) and picks its default.
        const auto = new ModelPool({ threads: 1, gpu: false });
        try {
            await auto.generate(ref, q, decoding, {});
            expect(auto.usage()).toEqual([{ backend: 'cpu', sequences: CPU_SEQUENCES }]);
        } finally {
            await auto.close();
        }
        // The run says: its count, whatever the backend.
        const four = new ModelPool({ threads: 1, gpu: false, sequences: 4 });
        try {
            await four.generate(ref, q, decoding, {});
            expect(four.usage()).toEqual([{ backend: 'cpu', sequences: 4 }]);
        } finally {
            await four.close();
        }
        // The CLI's --sequences: a count from 1 to 64, refused before anything runs.
        for (const bad of ['0', '2.5', 'eight', '65']) {
            const c = captureIo();
            expect(await runCommand(join(dir, 'none.mismatch'), { sequences: bad, threads: 1, gpu: 'off' }, c.io)).toBe(1);
            expect(c.stderr()).toContain(`--sequences must be an integer from 1 to 64 (got ${bad})`);
        }
        // On a machine with a GPU (bench/gpu.sh sets MISMATCH_TEST_GPU): the GPU backend's default.
        const gpu = process.env.MISMATCH_TEST_GPU as GpuChoice | undefined;
        if (gpu) {
            const g = await LocalGenerator.start({ modelPath: model, gpu, threads: 1, sequences: 'auto', contextSize: 128 });
            try {
                expect(g.info?.gpu).toBe(gpu);
                expect(g.info?.sequences).toBe(GPU_SEQUENCES);
            } finally {
                await g.close();
            }
        }
    }, 240_000);
});

describe('a batched step resumed with answers stored', () => {
    // The engine's own path: a label step answered with 8 sequences, once uninterrupted and once after
    // a kill left a third of its answers in the step's checkpoint.
    const data = writeQuestionsJsonl(dir);
    const spec = join(dir, 'resume.mismatch');
    const plan = makePlan(
        spec,
        basicSteps(data, model, model, decoding).filter((s) => ['qa', 'a', 'byA'].includes(s.id)),
    );
    const labels = (store: string) => {
        const [key] = readdirSync(join(store, 'steps')).filter((k) => readdirSync(join(store, 'steps', k)).includes('labels.jsonl'));
        const rows = readFileSync(join(store, 'steps', key, 'labels.jsonl'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { id: string; prediction: string; confidence: number });
        return { key, rows: new Map(rows.map((r) => [r.id, r])) };
    };

    it('answers the rest as the uninterrupted step did and keeps the stored answers', async () => {
        const whole = join(dir, 'store-whole');
        const s1 = await runExperiment(plan, { storeDir: whole, threads: 1, gpu: false, sequences: 8 });
        expect(s1.status).toBe('done');
        const first = labels(whole);
        expect(first.rows.size).toBeGreaterThan(8); // more than one group
        // Resumed stores: the same step after kills that left a third, and all but one, of its answers
        // in its checkpoint (marked, so that keeping them shows).
        const ids = [...first.rows.keys()];
        for (const [name, stored] of [
            ['a third', ids.filter((_, i) => i % 3 === 0)],
            ['all but one', ids.slice(1)],
        ] as const) {
            const resumed = join(dir, `store-resumed-${stored.length}`);
            mkdirSync(join(resumed, 'checkpoints', first.key), { recursive: true });
            writeFileSync(
                join(resumed, 'checkpoints', first.key, 'answers.jsonl'),
                stored.map((id) => JSON.stringify({ id: `${id}#0`, qid: id, sample: 0, text: `stored ${id}`, tokens: 2, logprobs: [-1, -1], finish: 'eos' })).join('\n') + '\n',
            );
            const s2 = await runExperiment(plan, { storeDir: resumed, threads: 1, gpu: false, sequences: 8 });
            expect(s2.status).toBe('done');
            const second = labels(resumed);
            expect(second.key).toBe(first.key);
            for (const [id, r] of first.rows) {
                const x = second.rows.get(id)!;
                if (stored.includes(id)) expect(x.prediction, `${name}: ${id}`).toBe(`stored ${id}`);
                else expect([x.prediction, x.confidence], `${name}: ${id}`).toEqual([r.prediction, r.confidence]);
            }
        }
    }, 240_000);
});
