/**
 * What the model is actually sent: every prompt of a label step (the train split), a SliCK step and
 * an evaluation (the test split) with few-shot exemplars, read off the requests an OpenAI-compatible
 * server received. No prompt holds its own question; exemplars come from the train split only and
 * differ between questions (and between SliCK's prompts).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExperiment } from '../../engine/run.js';
import { QUESTIONS, tempDir, writeQuestionsJsonl } from './fixtures.js';
import { greedy, makePlan } from './plan-helpers.js';
import { startScriptedServer, type ScriptedServer } from './openai-server.js';

describe('few-shot prompts as sent', () => {
    let server: ScriptedServer;
    beforeAll(async () => {
        server = await startScriptedServer(() => ({ json: { choices: [{ text: ' City0', finish_reason: 'stop', logprobs: { token_logprobs: [-0.5] } }] } }));
    });
    afterAll(async () => server.close());

    it('never shows the asked question, never a test question', async () => {
        const dir = tempDir();
        const data = writeQuestionsJsonl(dir);
        const shots = { ...greedy, fewShot: 4 };
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
            { id: 'm', kind: 'model', inputs: [], params: { source: { kind: 'server', url: server.url, name: 'm', api: 'completions', logprobs: true, concurrency: 2, timeoutMs: 20_000 } } },
            { id: 'lab', kind: 'label', inputs: ['m', 'qa'], params: { model: 'm', dataset: 'qa', split: 'train', decoding: shots, otherwise: "I don't know", match: 'exact' } },
            {
                id: 'k',
                kind: 'knowledge',
                inputs: ['m', 'qa'],
                stochastic: true,
                params: { model: 'm', dataset: 'qa', split: 'test', prompts: 3, samples: 1, temperature: 0.5, seed: 1, decoding: { ...greedy, fewShot: 2 }, match: 'exact' },
            },
            { id: 'ev', kind: 'evaluate', inputs: ['m', 'qa'], params: { arms: [{ model: 'm' }], dataset: 'qa', split: 'test', decoding: shots, abstain: ["I don't know"], match: 'exact' } },
        ] as never);
        const s = await runExperiment(plan, { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error?.message))).toBe('done');

        const questions = new Set(QUESTIONS.map((q) => q.question));
        const prompts = server.requests.map((r) => String(r.body.prompt));
        // 12 label prompts + 12 × 3 SliCK prompts (greedy) + 12 × 3 × 1 samples + 12 evaluation prompts
        expect(prompts).toHaveLength(12 + 36 + 36 + 12);
        const asked = prompts.map((p) => p.split('\n').at(-1)!);
        const trainQs = new Set(asked.slice(0, 12));
        expect(trainQs.size).toBe(12);
        for (const q of asked) expect(questions.has(q)).toBe(true);
        const exemplarSets = new Map<string, Set<string>>();
        for (const p of prompts) {
            const lines = p.split('\n');
            const q = lines.at(-1)!;
            const shown = lines.slice(0, -1).map((l) => QUESTIONS.find((x) => l.startsWith(x.question + ' '))?.question);
            expect(
                shown.every((x) => x !== undefined),
                p,
            ).toBe(true);
            expect(shown, p).not.toContain(q); // never its own question
            for (const e of shown) expect(trainQs.has(e!), p).toBe(true); // only training questions
            const set = exemplarSets.get(q) ?? new Set<string>();
            set.add(shown.join('|'));
            exemplarSets.set(q, set);
        }
        // exemplars differ between questions
        const firstEval = prompts.slice(-12).map((p) => p.split('\n').slice(0, -1).join('|'));
        expect(new Set(firstEval).size).toBeGreaterThan(1);
        // a test question under SliCK saw 3 different prompts (and the evaluation's 4-shot one)
        const testQ = asked.at(-1)!;
        expect(exemplarSets.get(testQ)!.size).toBe(4);
    }, 120_000);
});
