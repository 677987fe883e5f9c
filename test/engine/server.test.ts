import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalGenerator } from '../../engine/models/local.js';
import { ServerGenerator } from '../../engine/models/server.js';
import { runExperiment } from '../../engine/run.js';
import type { EvaluateMetrics } from '../../engine/results-types.js';
import { makeTinyModel, QUESTIONS, tempDir, writeQuestionsJsonl } from './fixtures.js';
import { startOpenAiServer, type TestServer } from './openai-server.js';
import { greedy, makePlan } from './plan-helpers.js';

const dir = tempDir();
const model = makeTinyModel(dir, 4, 'served');
const items = QUESTIONS.slice(0, 6).map((q) => ({ id: q.id, question: q.question }));
let server: TestServer;

beforeAll(async () => {
    server = await startOpenAiServer(model, { apiKey: 'sk-test-secret-123', failFirst: 2 });
});
afterAll(async () => {
    await server?.close();
});

describe('OpenAI-compatible server backend against a real local server', () => {
    it('completions: same greedy answers as local generation, with logprobs; retries 503s; sends the key', async () => {
        process.env.MM_TEST_KEY = 'sk-test-secret-123';
        const g = new ServerGenerator({ url: server.url, name: 'served', api: 'completions', apiKeyEnv: 'MM_TEST_KEY', logprobs: true, concurrency: 3, timeoutMs: 20_000, backoffMs: 20 });
        const remote = await g.generate(items, greedy);
        const local = await LocalGenerator.start({ modelPath: model, gpu: false, threads: 1, sequences: 2, contextSize: 128 });
        const here = await local.generate(items, greedy);
        await local.close();
        const byId = (xs: { id: string; text: string }[]) => Object.fromEntries(xs.map((x) => [x.id, x.text]));
        expect(byId(remote)).toEqual(byId(here));
        for (const r of remote) {
            expect(r.logprobs).not.toBeNull();
            expect(r.logprobs!.length).toBeGreaterThan(0);
        }
        expect(server.requests.filter((r) => r.path === '/v1/completions').length).toBe(items.length + 2); // 2 retried 503s
        expect(server.requests.every((r) => r.auth === 'Bearer sk-test-secret-123')).toBe(true);
    });

    it('chat completions answer too; a missing key variable is a clear error that never shows a key', async () => {
        process.env.MM_TEST_KEY = 'sk-test-secret-123';
        const g = new ServerGenerator({ url: server.url, name: 'served', api: 'chat', apiKeyEnv: 'MM_TEST_KEY', logprobs: true, concurrency: 2, timeoutMs: 20_000 });
        const r = await g.generate(items.slice(0, 2), greedy);
        expect(r).toHaveLength(2);
        expect(server.requests.some((x) => x.path === '/v1/chat/completions' && Array.isArray(x.body.messages))).toBe(true);
        expect(() => new ServerGenerator({ url: server.url, name: 'x', api: 'chat', apiKeyEnv: 'MM_NOT_SET_ANYWHERE', logprobs: false, concurrency: 1, timeoutMs: 1000 })).toThrow(/MM_NOT_SET_ANYWHERE .* is not set/);
        process.env.MM_WRONG_KEY = 'sk-wrong-key-456';
        const bad = new ServerGenerator({ url: server.url, name: 'x', api: 'completions', apiKeyEnv: 'MM_WRONG_KEY', logprobs: false, concurrency: 1, timeoutMs: 5000, retries: 0 });
        const err = (await bad.generate(items.slice(0, 1), greedy).then(() => new Error('no error'), (e) => e as Error));
        expect(err).toBeInstanceOf(Error);
        expect(err.message).toMatch(/HTTP 401/);
        expect(err.message).not.toContain('sk-wrong-key-456');
    });

    it('timeouts and unreachable servers fail after bounded retries', async () => {
        const slow = await startOpenAiServer(model, { delayMs: 2000 });
        try {
            const g = new ServerGenerator({ url: slow.url, name: 'x', api: 'completions', logprobs: false, concurrency: 1, timeoutMs: 200, retries: 1, backoffMs: 10 });
            await expect(g.generate(items.slice(0, 1), greedy)).rejects.toThrow(/no answer within 200 ms \(after 2 attempts\)/);
        } finally {
            await slow.close();
        }
        const dead = new ServerGenerator({ url: 'http://127.0.0.1:9/v1', name: 'x', api: 'completions', logprobs: false, concurrency: 1, timeoutMs: 500, retries: 1, backoffMs: 10 });
        await expect(dead.generate(items.slice(0, 1), greedy)).rejects.toThrow(/after 2 attempts/);
    });

    it('an evaluate step through a server model in a Plan', async () => {
        process.env.MM_TEST_KEY = 'sk-test-secret-123';
        const data = writeQuestionsJsonl(dir);
        const plan = makePlan(join(dir, 's.mismatch'), [
            { id: 'qa', kind: 'dataset', inputs: [], files: [data], params: { source: { kind: 'file', path: data, format: 'jsonl', fields: { question: 'question', answers: 'answer', id: 'id' } }, splits: [{ name: 'test', count: 8 }], seed: 1, dedupe: true } },
            { id: 'remote', kind: 'model', inputs: [], params: { source: { kind: 'server', url: server.url, name: 'served', api: 'completions', apiKeyEnv: 'MM_TEST_KEY', logprobs: true, concurrency: 2, timeoutMs: 20_000 } } },
            { id: 'ev', kind: 'evaluate', inputs: ['remote', 'qa'], params: { arms: [{ model: 'remote' }], dataset: 'qa', split: 'test', decoding: greedy, abstain: ["I don't know"], match: 'exact' } },
        ] as never);
        const s = await runExperiment(plan, { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error))).toBe('done');
        const arm = (s.steps.find((x) => x.step === 'ev')!.metrics as EvaluateMetrics).arms[0];
        expect(arm.total).toBe(8);
        expect(arm.aurc === null ? arm.correct + arm.wrong === 0 : true).toBe(true);
        const { readFileSync, readdirSync } = await import('node:fs');
        const stored = readdirSync(join(dir, 'store', 'steps')).map((k) => readFileSync(join(dir, 'store', 'steps', k, 'manifest.json'), 'utf8') + readFileSync(join(dir, 'store', 'steps', k, 'result.json'), 'utf8')).join('');
        expect(stored).not.toContain('sk-test-secret-123');
    });
});
