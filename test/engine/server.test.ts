import { getEventListeners } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalGenerator } from '../../engine/models/local.js';
import { ServerGenerator } from '../../engine/models/server.js';
import { runExperiment } from '../../engine/run.js';
import type { EvaluateMetrics } from '../../engine/results-types.js';
import { makeTinyModel, QUESTIONS, tempDir, writeQuestionsJsonl } from './fixtures.js';
import { startOpenAiServer, startScriptedServer, type TestServer } from './openai-server.js';
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
        expect(() => new ServerGenerator({ url: server.url, name: 'x', api: 'chat', apiKeyEnv: 'MM_NOT_SET_ANYWHERE', logprobs: false, concurrency: 1, timeoutMs: 1000 })).toThrow(
            /MM_NOT_SET_ANYWHERE .* is not set/,
        );
        process.env.MM_WRONG_KEY = 'sk-wrong-key-456';
        const bad = new ServerGenerator({ url: server.url, name: 'x', api: 'completions', apiKeyEnv: 'MM_WRONG_KEY', logprobs: false, concurrency: 1, timeoutMs: 5000, retries: 0 });
        const err = await bad.generate(items.slice(0, 1), greedy).then(
            () => new Error('no error'),
            (e) => e as Error,
        );
        expect(err).toBeInstanceOf(Error);
        expect(err.message).toMatch(/HTTP 401/);
        expect(err.message).not.toContain('sk-wrong-key-456');
    });

    it('timeouts and unreachable servers fail after bounded retries', async () => {
        const slow = await startOpenAiServer(model, { delayMs: 2000 });
        try {
            const g = new ServerGenerator({ url: slow.url, name: 'x', api: 'completions', logprobs: false, concurrency: 1, timeoutMs: 200, retries: 1, backoffMs: 10 });
            await expect(g.generate(items.slice(0, 1), greedy)).rejects.toThrow(/no answer within 200 ms \(not retried/);
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
            {
                id: 'qa',
                kind: 'dataset',
                inputs: [],
                files: [data],
                params: {
                    source: { kind: 'file', path: data, format: 'jsonl', fields: { question: 'question', answers: 'answer', id: 'id' } },
                    splits: [{ name: 'test', count: 8 }],
                    seed: 1,
                    dedupe: true,
                },
            },
            {
                id: 'remote',
                kind: 'model',
                inputs: [],
                params: { source: { kind: 'server', url: server.url, name: 'served', api: 'completions', apiKeyEnv: 'MM_TEST_KEY', logprobs: true, concurrency: 2, timeoutMs: 20_000 } },
            },
            {
                id: 'ev',
                kind: 'evaluate',
                inputs: ['remote', 'qa'],
                params: { arms: [{ model: 'remote' }], dataset: 'qa', split: 'test', decoding: greedy, abstain: ["I don't know"], match: 'exact' },
            },
        ] as never);
        const s = await runExperiment(plan, { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error))).toBe('done');
        const arm = (s.steps.find((x) => x.step === 'ev')!.metrics as EvaluateMetrics).arms[0];
        expect(arm.total).toBe(8);
        expect(arm.aurc === null ? arm.correct + arm.wrong === 0 : true).toBe(true);
        const { readFileSync, readdirSync } = await import('node:fs');
        const stored = readdirSync(join(dir, 'store', 'steps'))
            .map((k) => readFileSync(join(dir, 'store', 'steps', k, 'manifest.json'), 'utf8') + readFileSync(join(dir, 'store', 'steps', k, 'result.json'), 'utf8'))
            .join('');
        expect(stored).not.toContain('sk-test-secret-123');
    });
});

describe('bounded, validated server replies and bounded retries (scripted server)', () => {
    const completion = (text: unknown, extra: Record<string, unknown> = {}) => ({ json: { choices: [{ index: 0, text, finish_reason: 'stop', ...extra }] } });
    const gen = (url: string, more: Partial<ConstructorParameters<typeof ServerGenerator>[0]> = {}) =>
        new ServerGenerator({ url, name: 'x', api: 'completions', logprobs: false, concurrency: 1, timeoutMs: 120_000, ...more });
    const dec = { ...greedy, maxTokens: 8 };

    it('asks for maxTokens, stops reading a reply past the byte cap, and says so', async () => {
        const s = await startScriptedServer(() => ({ stream: { bytes: 64 * 1024 * 1024 } }));
        try {
            const err = await gen(s.url)
                .generate(items.slice(0, 1), dec)
                .then(
                    () => undefined,
                    (e: Error) => e,
                );
            expect(err?.message).toMatch(new RegExp(`question ${items[0].id}: the answer is larger than ${64 * 1024 + 8 * 2048} bytes \\(the decoding's maxTokens is 8\\)`));
            expect(s.requests[0].body.max_tokens).toBe(8);
            // The server could write at most the cap plus what the sockets buffer, far from 64 MB.
            await waitFor(() => s.streamed.length === 1);
            expect(s.streamed[0]).toBeLessThan(24 * 1024 * 1024);
        } finally {
            await s.close();
        }
    });

    it('cuts a reply of more than maxTokens tokens to maxTokens (by its listed tokens, else by characters)', async () => {
        const tokens = Array.from({ length: 40 }, (_, i) => ` w${i}`);
        const s = await startScriptedServer((n) =>
            n === 0 ? completion(tokens.join(''), { finish_reason: 'stop', logprobs: { tokens, token_logprobs: tokens.map(() => -0.5) } }) : completion('z'.repeat(5000)),
        );
        try {
            const [a] = await gen(s.url, { logprobs: true }).generate(items.slice(0, 1), dec);
            expect(a.text).toBe(tokens.slice(0, 8).join('').trim());
            expect(a.logprobs).toHaveLength(8);
            expect(a.finish).toBe('length');
            const [b] = await gen(s.url).generate(items.slice(1, 2), dec);
            expect(b.text.length).toBe(8 * 32);
            expect(b.finish).toBe('length');
        } finally {
            await s.close();
        }
    });

    it('malformed replies are errors naming the question, never an abstention or "[object Object]"', async () => {
        const cases: [unknown, RegExp][] = [
            [completion(null), /question q0: malformed answer: choices\[0\]\.text is null, not a string/],
            [completion({ a: 1 }), /question q0: malformed answer: choices\[0\]\.text is object, not a string/],
            [{ json: { choices: [] } }, /question q0: malformed answer: no "choices" list/],
            [{ json: [1, 2] }, /question q0: malformed answer: expected a JSON object, got a list/],
            [{ raw: '{"choices": [' }, /question q0: the answer is not JSON/],
        ];
        for (const [reply, message] of cases) {
            const s = await startScriptedServer(() => reply as never);
            try {
                await expect(gen(s.url, { retries: 0 }).generate(items.slice(0, 1), dec)).rejects.toThrow(message);
            } finally {
                await s.close();
            }
        }
    });

    it('a dead server with the default settings fails within seconds, not minutes', async () => {
        const s = await startScriptedServer(() => ({ hang: true }));
        const url = s.url;
        await s.close(); // the port is closed now: connection refused
        const t0 = Date.now();
        await expect(gen(url).generate(items.slice(0, 4), dec)).rejects.toThrow(/ECONNREFUSED|connect/);
        expect(Date.now() - t0).toBeLessThan(5000);
        // A server that accepts and never answers costs one timeout, not one per attempt.
        const mute = await startScriptedServer(() => ({ hang: true }));
        try {
            const t1 = Date.now();
            await expect(gen(mute.url, { timeoutMs: 400, concurrency: 2 }).generate(items.slice(0, 4), dec)).rejects.toThrow(/question q\d: no answer within 400 ms \(not retried/);
            expect(Date.now() - t1).toBeLessThan(3000);
            expect(mute.requests.length).toBe(2); // one per lane, none retried, no new ones after the failure
        } finally {
            await mute.close();
        }
    });

    it('honours Retry-After, and retry sleeps leave no abort listeners behind', async () => {
        const s = await startScriptedServer((n) => (n === 0 ? { status: 503, headers: { 'retry-after': '1' }, json: { error: { message: 'busy' } } } : completion('ok')));
        try {
            await gen(s.url, { backoffMs: 1 }).generate(items.slice(0, 1), dec);
            expect(s.requests[1].at - s.requests[0].at).toBeGreaterThanOrEqual(950);
        } finally {
            await s.close();
        }
        const warnings: string[] = [];
        const onWarning = (w: Error) => warnings.push(w.name);
        process.on('warning', onWarning);
        const flaky = await startScriptedServer((n) => (n % 2 === 0 ? { status: 503, json: {} } : completion('ok')));
        try {
            const controller = new AbortController();
            const many = Array.from({ length: 15 }, (_, i) => ({ id: `m${i}`, question: `Q${i}?` }));
            const r = await gen(flaky.url, { backoffMs: 1 }).generate(many, dec, { signal: controller.signal });
            expect(r).toHaveLength(15);
            expect(flaky.requests.length).toBe(30);
            expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
            await new Promise((r) => setImmediate(r));
            expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([]);
        } finally {
            process.off('warning', onWarning);
            await flaky.close();
        }
    });
});

async function waitFor(ok: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
        if (Date.now() > end) throw new Error('condition not met in time');
        await new Promise((r) => setTimeout(r, 10));
    }
}
