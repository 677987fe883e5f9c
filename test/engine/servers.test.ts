// One model on several OpenAI-compatible servers: requests spread over them, Retry-After and rate
// limits per server, failover, a failing server out of the rotation, the served-model check on every
// URL, and the error when every server is down. Scripted servers stand in for the replicas (their
// replies are scripted per request; their clocks time what the client did).
import { afterEach, describe, expect, it } from 'vitest';
import { ServerGenerator, servesModel, type ServerOptions } from '../../engine/models/server.js';
import { startScriptedServer, type ScriptedReply, type ScriptedServer } from './openai-server.js';
import { greedy } from './plan-helpers.js';

const dec = { ...greedy, maxTokens: 8 };
const answer = (body: Record<string, unknown>, delayMs = 0): ScriptedReply => ({ json: { choices: [{ index: 0, text: `A:${String(body.prompt)}`, finish_reason: 'stop' }] }, delayMs });
const questions = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `q${i}`, question: `Question ${i}?` }));
const open: ScriptedServer[] = [];
async function serve(reply: (n: number, body: Record<string, unknown>) => ScriptedReply, models: string[] | null = ['m']): Promise<ScriptedServer> {
    const s = await startScriptedServer(reply, { models: models ?? undefined });
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
        const r = await gen(servers.map((s) => s.url), { concurrency: 2 }).generate(items, dec);
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
        const r = await gen(servers.map((s) => s.url), { concurrency: 8, rateLimit: 4 }).generate(questions(20), dec);
        expect(r).toHaveLength(20);
        expect(servers[0].requests.length + servers[1].requests.length).toBe(20);
        for (const s of servers) {
            const at = s.requests.map((x) => x.at).sort((x, y) => x - y);
            // Any 900 ms of this server's clock holds at most 4 arrivals (the window is 1 s; 100 ms for network jitter).
            for (let i = 0; i < at.length; i++) expect(at.filter((t) => t >= at[i] && t < at[i] + 900).length).toBeLessThanOrEqual(4);
        }
        // 20 requests at 4 per second on each of 2 servers: the last ones start in the third second.
        expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    });

    it('fails over: servers that fail (500s, closed connections) leave the rotation with a warning; the rest answer everything', async () => {
        const err = await serve(() => ({ status: 500, json: { error: { message: 'internal error' } } }));
        const closing = await serve(() => ({ destroy: true }));
        const good = await serve((_, b) => answer(b, 5));
        const logs: string[] = [];
        const g = gen([err.url, closing.url, good.url], { concurrency: 2, ejectMs: 60_000 });
        const r = await g.generate(questions(40), dec, { onLog: (level, m) => logs.push(`${level}: ${m}`) });
        expect(r.map((x) => x.id).sort()).toEqual(questions(40).map((x) => x.id).sort());
        expect(good.requests.length).toBe(40);
        // Out after 3 failures in a row; the requests already sent to it when it went out fail too.
        expect(err.requests.length).toBeLessThanOrEqual(4);
        expect(closing.requests.length).toBeLessThanOrEqual(4);
        expect(logs.some((l) => l.startsWith(`warn: server ${err.url} is out of the rotation for 60 s after 3 failed requests in a row (last: `) && l.includes('HTTP 500'))).toBe(true);
        expect(logs.some((l) => l.startsWith(`warn: server ${closing.url} is out of the rotation for 60 s`))).toBe(true);
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
        const err = await gen([ua, ub]).generate(questions(6), dec).then(() => undefined, (e: Error) => e);
        expect(err?.message).toMatch(/^every server of 'm' failed question q\d \(after \d+ attempts\); the last error of each: /);
        for (const u of [ua, ub]) expect(err?.message).toMatch(new RegExp(`${u.replace(/[./]/g, '\\$&')}: [^;]*ECONNREFUSED`));
    });

    it('every URL must serve the model the spec names (GET /models)', async () => {
        const a = await serve((_, b) => answer(b), ['m']);
        const b = await serve((_, body) => answer(body), ['other-model']);
        await expect(gen([a.url, b.url]).generate(questions(4), dec)).rejects.toThrow(`${b.url} serves 'other-model', not 'm' (GET /models): every server of a model must serve the model the spec names`);
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
