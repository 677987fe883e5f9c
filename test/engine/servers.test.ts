// One model on several OpenAI-compatible servers: requests spread over them, Retry-After and rate
// limits per server, failover, a failing server out of the rotation, the served-model check on every
// URL, and the error when every server is down. Scripted servers stand in for the replicas (their
// replies are scripted per request; their clocks time what the client did).
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../engine/events.js';
import { duration, RateMeter } from '../../engine/models/rate.js';
import { ServerGenerator, servesModel, type ServerOptions } from '../../engine/models/server.js';
import type { EvaluateMetrics } from '../../engine/results-types.js';
import { runExperiment } from '../../engine/run.js';
import { QUESTIONS, tempDir, writeQuestionsJsonl } from './fixtures.js';
import { startScriptedServer, type ScriptedReply, type ScriptedServer } from './openai-server.js';
import { greedy, makePlan } from './plan-helpers.js';

const dec = { ...greedy, maxTokens: 8 };
const answer = (body: Record<string, unknown>, delayMs = 0): ScriptedReply => ({ json: { choices: [{ index: 0, text: `A:${String(body.prompt)}`, finish_reason: 'stop' }] }, delayMs });
const questions = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `q${i}`, question: `Question ${i}?` }));
const open: ScriptedServer[] = [];
async function serve(reply: (n: number, body: Record<string, unknown>) => ScriptedReply, models: string[] | null = ['m'], port?: number): Promise<ScriptedServer> {
    const s = await startScriptedServer(reply, { models: models ?? undefined, port });
    open.push(s);
    return s;
}
const gen = (urls: string[], more: Partial<ServerOptions> = {}) =>
    new ServerGenerator({ url: urls[0], urls, name: 'm', api: 'completions', logprobs: false, concurrency: 2, timeoutMs: 20_000, backoffMs: 5, ...more });

afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
});

describe('several servers for one model', () => {
    it('spreads the requests over every server, at most `concurrency` in flight on each', async () => {
        const servers = await Promise.all([0, 1, 2].map(() => serve((_, b) => answer(b, 15))));
        const items = questions(60);
        const r = await gen(
            servers.map((s) => s.url),
            { concurrency: 2 },
        ).generate(items, dec);
        expect(r.map((x) => x.id).sort()).toEqual(items.map((x) => x.id).sort());
        for (const x of r) expect(x.text).toBe(`A:Question ${x.id.slice(1)}?`);
        const counts = servers.map((s) => s.requests.length);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
        // Equal servers share the work: each gets at least a third of an even share (20).
        for (const c of counts) expect(c).toBeGreaterThanOrEqual(7);
        for (const s of servers) expect(s.maxInFlight).toBeLessThanOrEqual(2);
        expect(servers.every((s) => s.modelChecks === 1)).toBe(true);
    });

    it('Retry-After pauses only the server that sent it; the others go on', async () => {
        const a = await serve((n, b) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' }, json: { error: { message: 'slow down' } } } : answer(b, 5)));
        const b = await serve((_, body) => answer(body, 20));
        const r = await gen([a.url, b.url], { concurrency: 1 }).generate(questions(80), dec);
        expect(r).toHaveLength(80);
        const paused = a.requests[0].at;
        // a's next request waited for its Retry-After (1 s; 50 ms of clock slack) ...
        expect(a.requests.length).toBeGreaterThanOrEqual(2);
        expect(a.requests[1].at - paused).toBeGreaterThanOrEqual(950);
        // ... while b kept answering (20 ms each, one at a time: about 45 in that second).
        const duringPause = b.requests.filter((x) => x.at > paused && x.at < paused + 950).length;
        expect(duringPause).toBeGreaterThanOrEqual(15);
    });

    it('a rate limit holds each server to that many request starts per second', async () => {
        const servers = await Promise.all([0, 1].map(() => serve((_, b) => answer(b))));
        const t0 = Date.now();
        const r = await gen(
            servers.map((s) => s.url),
            { concurrency: 8, rateLimit: 2 },
        ).generate(questions(12), dec);
        expect(r).toHaveLength(12);
        expect(servers[0].requests.length + servers[1].requests.length).toBe(12);
        for (const s of servers) {
            const at = s.requests.map((x) => x.at).sort((x, y) => x - y);
            // Any 600 ms of this server's clock holds at most 2 arrivals (the window is 1 s; 400 ms for a busy machine's delays).
            for (let i = 0; i < at.length; i++) expect(at.filter((t) => t >= at[i] && t < at[i] + 600).length).toBeLessThanOrEqual(2);
        }
        // 12 requests at 2 per second on each of 2 servers: the last ones start in the third second.
        expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    });

    it('fails over: servers that fail (500s, closed connections) leave the rotation with a warning; the rest answer everything', async () => {
        const err = await serve(() => ({ status: 500, json: { error: { message: 'internal error' } } }));
        const closing = await serve(() => ({ destroy: true }));
        const good = await serve((_, b) => answer(b, 5));
        const logs: string[] = [];
        const g = gen([err.url, closing.url, good.url], { concurrency: 2, ejectMs: 60_000 });
        const r = await g.generate(questions(40), dec, { onLog: (level, m) => logs.push(`${level}: ${m}`) });
        expect(r.map((x) => x.id).sort()).toEqual(
            questions(40)
                .map((x) => x.id)
                .sort(),
        );
        expect(good.requests.length).toBe(40);
        // Out after 3 failures in a row; the requests already sent to it when it went out fail too.
        expect(err.requests.length).toBeLessThanOrEqual(4);
        expect(closing.requests.length).toBeLessThanOrEqual(4);
        expect(logs.some((l) => l.startsWith(`warn: server ${err.url} is out of the rotation for 60 s after 3 failed requests in a row (last: `) && l.includes('HTTP 500'))).toBe(true);
        expect(logs.some((l) => l.startsWith(`warn: server ${closing.url} is out of the rotation for 60 s`))).toBe(true);
        // One warning per server: requests already sent when it left that fail afterwards are no failed probe.
        expect(logs.filter((l) => l.includes(err.url))).toHaveLength(1);
        expect(logs.filter((l) => l.includes(closing.url))).toHaveLength(1);
        expect(g.stats().map((s) => s.inRotation)).toEqual([false, false, true]);
    });

    it('a server back after its time out takes a probe and rejoins', async () => {
        let down = true;
        const flaky = await serve((_, b) => (down ? { destroy: true } : answer(b, 5)));
        const steady = await serve((_, b) => answer(b, 25));
        const logs: string[] = [];
        const g = gen([flaky.url, steady.url], { concurrency: 1, ejectMs: 200 });
        const done = g.generate(questions(60), dec, {
            onLog: (level, m) => logs.push(`${level}: ${m}`),
            onResult: () => {
                if (logs.length) down = false;
            },
        });
        const r = await done;
        expect(r).toHaveLength(60);
        expect(logs[0]).toMatch(/^warn: server .* is out of the rotation for 0.2 s after 3 failed requests in a row/);
        expect(logs).toContain(`info: server ${flaky.url} is back in the rotation`);
        expect(g.stats()[0].answered).toBeGreaterThan(0);
    });

    it('when every server is down, the error names each URL and its last error', async () => {
        const a = await serve(() => ({ hang: true }));
        const b = await serve(() => ({ hang: true }));
        const [ua, ub] = [a.url, b.url];
        await Promise.all(open.splice(0).map((s) => s.close())); // both ports closed: connection refused
        const err = await gen([ua, ub])
            .generate(questions(6), dec)
            .then(
                () => undefined,
                (e: Error) => e,
            );
        expect(err?.message).toMatch(/^every server of 'm' is down; the last error of each: /);
        // Each server's last error once, after its URL (the served-model check is the first request a server gets).
        for (const u of [ua, ub]) expect(err?.message).toMatch(new RegExp(`${u.replace(/[./]/g, '\\$&')}: GET /models: fetch failed \\(connect ECONNREFUSED [\\d.:]+\\)(;|$)`));
    });

    it('every URL must serve the model the spec names (GET /models)', async () => {
        const a = await serve((_, b) => answer(b), ['m']);
        const b = await serve((_, body) => answer(body), ['other-model']);
        await expect(gen([a.url, b.url]).generate(questions(4), dec)).rejects.toThrow(
            `${b.url} serves 'other-model', not 'm' (GET /models): every server of a model must serve the model the spec names`,
        );
        expect(b.requests).toHaveLength(0);
        // llama-server lists its model file unless given an alias; the file's name is the model's name.
        const c = await serve((_, body) => answer(body), ['/srv/models/m.gguf']);
        expect(await gen([c.url]).generate(questions(2), dec)).toHaveLength(2);
        expect(servesModel(['/srv/models/m.gguf'], 'm')).toBe(true);
        expect(servesModel(['m-instruct'], 'm')).toBe(false);
        // A server without the route is taken at its word, with a warning.
        const d = await serve((_, body) => answer(body), null);
        const logs: string[] = [];
        expect(await gen([d.url]).generate(questions(2), dec, { onLog: (_, m) => logs.push(m) })).toHaveLength(2);
        expect(logs).toEqual([`${d.url} does not list its models (GET /models: HTTP 404); it is assumed to serve 'm'`]);
    });

    it('bad server lists are refused before any request: a duplicate URL, a rate limit of 0', () => {
        expect(() => gen(['http://127.0.0.1:1/v1', 'http://127.0.0.1:1/v1'])).toThrow('the server URL http://127.0.0.1:1/v1 is named twice');
        expect(() => gen(['http://127.0.0.1:1/v1'], { rateLimit: 0 })).toThrow('rateLimit must be above 0, not 0');
        expect(() => gen(['http://127.0.0.1:1/v1', 'not a url'])).toThrow('not a valid server URL: not a url');
    });
});

describe('an evaluation on several servers in a run', () => {
    // The fixture's 24 questions (Land i has capital City{i mod 5}); the servers answer City0 to each,
    // right for q0, q5, q10, q15 and q20.
    const capital = (body: Record<string, unknown>) => /Land(\d+)/.exec(String(body.prompt))?.[1] ?? '';
    const reply = (_body: Record<string, unknown>, delayMs = 0): ScriptedReply => ({ json: { choices: [{ index: 0, text: ' City0', finish_reason: 'stop' }] }, delayMs });
    const planFor = (dir: string, urls: string[], more: Record<string, unknown> = {}) => {
        const data = writeQuestionsJsonl(dir);
        return makePlan(join(dir, 's.mismatch'), [
            {
                id: 'qa',
                kind: 'dataset',
                inputs: [],
                files: [data],
                params: {
                    source: { kind: 'file', path: data, format: 'jsonl', fields: { question: 'question', answers: 'answer', id: 'id' } },
                    splits: [{ name: 'test', count: 24 }],
                    seed: 1,
                    dedupe: true,
                },
            },
            {
                id: 'remote',
                kind: 'model',
                inputs: [],
                params: { source: { kind: 'server', url: urls[0], urls, name: 'm', api: 'completions', logprobs: false, concurrency: 2, timeoutMs: 20_000, ...more } },
            },
            {
                id: 'ev',
                kind: 'evaluate',
                inputs: ['remote', 'qa'],
                params: { arms: [{ model: 'remote' }], dataset: 'qa', split: 'test', decoding: greedy, abstain: ["I don't know"], match: 'exact' },
            },
        ] as never);
    };
    const asked = (s: ScriptedServer, ok: (n: number) => boolean = () => true) => s.requests.filter((_, n) => ok(n)).map((r) => `q${capital(r.body)}`);

    it('a server lost mid-step: the step completes on the other with every answer, and says the server left', async () => {
        const dir = tempDir('mm-servers-');
        // a answers 4 questions, then drops the connections of the next and closes.
        const a: ScriptedServer = await serve((n, b) => {
            if (n < 4) return reply(b, 10);
            if (n === 4) void a.close();
            return { hang: true };
        });
        const b = await serve((_, body) => reply(body, 20));
        const events: EngineEvent[] = [];
        const s = await runExperiment(planFor(dir, [a.url, b.url]), { storeDir: join(dir, 'store'), threads: 1, gpu: 'off', onEvent: (e) => events.push(e) });
        expect(s.status, JSON.stringify(s.steps.map((x) => x.error))).toBe('done');
        const ev = s.steps.find((x) => x.step === 'ev')!;
        const arm = (ev.metrics as EvaluateMetrics).arms[0];
        expect(arm.total).toBe(24);
        // Every fifth capital is right (q0, q5, ..., q20): 5 of 24, whichever server answered.
        expect(arm.correct).toBe(5);
        expect(arm.wrong).toBe(19);
        const answered = new Set([...asked(a, (n) => n < 4), ...asked(b)]);
        expect([...answered].sort()).toEqual(QUESTIONS.map((q) => q.id).sort());
        expect(ev.warnings?.some((w) => w.startsWith(`server ${a.url} is out of the rotation`))).toBe(true);
        expect(events.some((e) => e.type === 'log' && e.level === 'warn' && e.step === 'ev' && e.message.includes(`server ${a.url} is out of the rotation`))).toBe(true);
    });

    it('every server lost: the step fails naming each URL; a rerun asks only the questions not yet answered', async () => {
        const dir = tempDir('mm-servers-');
        const plan = (urls: string[]) => planFor(dir, urls, { concurrency: 1 });
        const servers: ScriptedServer[] = [];
        // Together they set out to answer 9 questions, then both go away (connections dropped, ports
        // closed): a reply still on its way then is lost, so what counts is what was sent.
        let promised = 0;
        const answered: string[] = [];
        const dying = (_: number, body: Record<string, unknown>): ScriptedReply => {
            if (promised < 9) {
                promised++;
                return { ...reply(body, 10), onSent: () => answered.push(`q${capital(body)}`) };
            }
            for (const s of servers) void s.close();
            return { hang: true };
        };
        servers.push(await serve(dying), await serve(dying));
        const [ua, ub] = servers.map((s) => s.url);
        const first = await runExperiment(plan([ua, ub]), { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(first.status).toBe('failed');
        const error = first.steps.find((x) => x.step === 'ev')!.error!.message;
        expect(error).toMatch(/^every server of 'm' (is down|failed question q\d+ \(after \d+ attempts\)); the last error of each: /);
        for (const u of [ua, ub]) expect(error).toMatch(new RegExp(`${u.replace(/[./]/g, '\\$&')}: [^;]*(ECONNREFUSED|closed|socket|terminated)`));
        // Both servers come back on the same addresses: only the questions without an answer are asked.
        const portOf = (u: string) => Number(new URL(u).port);
        const back = [await serve((_, body) => reply(body), ['m'], portOf(ua)), await serve((_, body) => reply(body), ['m'], portOf(ub))];
        const second = await runExperiment(plan([ua, ub]), { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(second.status, JSON.stringify(second.steps.map((x) => x.error))).toBe('done');
        const reasked = back.flatMap((s) => asked(s));
        expect(answered.length).toBeGreaterThanOrEqual(7); // at most one reply per server (concurrency 1) was on its way
        expect(reasked).toHaveLength(24 - answered.length);
        expect([...answered, ...reasked].sort()).toEqual(QUESTIONS.map((q) => q.id).sort());
        const arm = (second.steps.find((x) => x.step === 'ev')!.metrics as EvaluateMetrics).arms[0];
        expect(arm.total).toBe(24);
        expect(arm.correct).toBe(5);
    });

    it('a model step is stored per set of servers: the same servers in another order keep it ; another set is another step', async () => {
        const dir = tempDir('mm-servers-');
        const [a, b, c] = [await serve((_, body) => reply(body)), await serve((_, body) => reply(body)), await serve((_, body) => reply(body))];
        const firstPlan = planFor(dir, [a.url, b.url]);
        const first = await runExperiment(firstPlan, { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(first.status).toBe('done');
        expect(a.requests.length + b.requests.length).toBe(24);
        // The plan keys language/plan.ts gives (test/language/servers.test.ts): the URLs' order and the concurrency are in none.
        const again = (urls: string[], more: Record<string, unknown> = {}) => {
            const plan = planFor(dir, urls, more);
            plan.steps.find((x) => x.id === 'remote')!.key = firstPlan.steps.find((x) => x.id === 'remote')!.key;
            // Another abstention phrase: a new evaluation, so the servers are asked again.
            const ev = plan.steps.find((x) => x.id === 'ev')!;
            (ev.params as { abstain: string[] }).abstain = ['No idea'];
            ev.key = `${ev.key}-other`;
            return plan;
        };
        const reordered = await runExperiment(again([b.url, a.url], { concurrency: 1 }), { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(reordered.status, JSON.stringify(reordered.steps.map((x) => x.error))).toBe('done');
        expect(reordered.steps.find((x) => x.step === 'remote')!.cached).toBe(true);
        expect(reordered.steps.find((x) => x.step === 'ev')!.cached).toBe(false);
        expect(a.requests.length + b.requests.length).toBe(48);
        const other = await runExperiment(again([a.url, c.url]), { storeDir: join(dir, 'store'), threads: 1, gpu: 'off' });
        expect(other.status, JSON.stringify(other.steps.map((x) => x.error))).toBe('done');
        expect(other.steps.find((x) => x.step === 'remote')!.cached).toBe(false);
        expect(other.steps.find((x) => x.step === 'ev')!.cached).toBe(false);
        expect(c.requests.length).toBeGreaterThan(0);
    });

    it('progress events carry the throughput and time left across the servers', async () => {
        const dir = tempDir('mm-servers-');
        const servers = await Promise.all([0, 1].map(() => serve((_, body) => reply(body, 200))));
        const events: EngineEvent[] = [];
        const s = await runExperiment(
            planFor(
                dir,
                servers.map((x) => x.url),
                { concurrency: 1 },
            ),
            { storeDir: join(dir, 'store'), threads: 1, gpu: 'off', onEvent: (e) => events.push(e) },
        );
        expect(s.status).toBe('done');
        const notes = events.flatMap((e) => (e.type === 'step-progress' && e.step === 'ev' && e.message ? [e.message] : []));
        expect(notes.length).toBeGreaterThan(0);
        // The arm's name, then (once 1 s and 2 answers have gone by) the rate and the time left.
        expect(
            notes.every((m) => /^remote( · [\d.]+\/s · ETA \d+ s)?$/.test(m)),
            notes.join('\n'),
        ).toBe(true);
        const rates = notes.filter((m) => m.includes('/s')).map((m) => Number(m.split(' · ')[1].split('/')[0]));
        expect(rates.length).toBeGreaterThanOrEqual(3);
        // 2 servers × 1 at a time × 200 ms: at most 10 answers a second (more would mean one server's rate only, or a wrong clock).
        expect(Math.max(...rates)).toBeLessThanOrEqual(10.5);
        expect(Math.min(...rates)).toBeGreaterThan(2);
    });
});

describe('throughput and time left', () => {
    it('counts the answers of this run only, over the time since it started', () => {
        let t = 1000;
        const m = new RateMeter(10, () => t);
        t = 1500;
        expect(m.note(20, 100)).toBeUndefined(); // under 1 s
        t = 5000;
        expect(m.note(11, 100)).toBeUndefined(); // 1 answer
        // 40 answers in 4 s: 10/s; 50 left: 5 s.
        expect(m.note(50, 100)).toBe('10/s · ETA 5 s');
        // 3 answers in 4 s: 0.75/s, shown 0.8/s; 87 left: 116 s.
        expect(m.note(13, 100)).toBe('0.8/s · ETA 1m 56s');
        expect(duration(7325)).toBe('2h 02m');
    });
});
