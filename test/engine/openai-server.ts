// A small OpenAI-compatible HTTP server for the tests, on 127.0.0.1: it answers /v1/completions and
// /v1/chat/completions from a real tiny GGUF model through node-llama-cpp (the engine's own local
// generator, in its child process). Options inject failures (503s, delays) and require an API key.
// `GET /v1/models` lists `models` (a server without the route answers 404 when it is not given).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalGenerator } from '../../engine/models/local.js';

export interface TestServer {
    url: string;
    requests: { path: string; auth?: string; body: Record<string, unknown> }[];
    close(): Promise<void>;
}

export async function startOpenAiServer(modelPath: string, options: { apiKey?: string; failFirst?: number; delayMs?: number; models?: string[] } = {}): Promise<TestServer> {
    const gen = await LocalGenerator.start({ modelPath, gpu: false, threads: 1, sequences: 4, contextSize: 128 });
    const requests: TestServer['requests'] = [];
    let failures = options.failFirst ?? 0;
    let n = 0;
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test server: a handler that throws fails the test loudly
    const server: Server = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const send = (status: number, body: unknown) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(body));
        };
        if (req.method === 'GET' && req.url === '/v1/models') return modelList(res, options.models);
        let body: Record<string, any>;
        try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
            return send(400, { error: { message: 'bad json' } });
        }
        requests.push({ path: req.url ?? '', auth: req.headers.authorization, body });
        if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) return send(401, { error: { message: 'invalid api key' } });
        if (failures > 0) {
            failures--;
            return send(503, { error: { message: 'busy, try again' } });
        }
        if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
        const decoding = {
            temperature: Number(body.temperature ?? 0),
            maxTokens: Number(body.max_tokens ?? 16),
            stop: (body.stop as string[]) ?? [],
            template: 'raw',
            fewShot: 0,
            seed: body.seed as number | undefined,
        };
        try {
            if (req.url === '/v1/completions') {
                const [r] = await gen.generate([{ id: `r${n++}`, question: String(body.prompt) }], decoding);
                return send(200, {
                    object: 'text_completion',
                    choices: [{ index: 0, text: r.text, finish_reason: r.finish === 'length' ? 'length' : 'stop', logprobs: body.logprobs ? { token_logprobs: r.logprobs, tokens: [] } : null }],
                });
            }
            if (req.url === '/v1/chat/completions') {
                const msgs = body.messages as { role: string; content: string }[];
                const fewShot = [];
                for (let i = 0; i + 1 < msgs.length - 1; i += 2) fewShot.push({ question: msgs[i].content, answer: msgs[i + 1].content });
                const [r] = await gen.generate([{ id: `r${n++}`, question: msgs[msgs.length - 1].content }], { ...decoding, template: 'chat' }, { fewShot });
                return send(200, {
                    object: 'chat.completion',
                    choices: [
                        {
                            index: 0,
                            message: { role: 'assistant', content: r.text },
                            finish_reason: r.finish === 'length' ? 'length' : 'stop',
                            logprobs: body.logprobs ? { content: (r.logprobs ?? []).map((lp) => ({ token: '', logprob: lp })) } : null,
                        },
                    ],
                });
            }
            return send(404, { error: { message: `no route ${req.url}` } });
        } catch (e) {
            return send(500, { error: { message: (e as Error).message } });
        }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}/v1`,
        requests,
        close: async () => {
            await new Promise<void>((r) => server.close(() => r()));
            await gen.close();
        },
    };
}

function modelList(res: import('node:http').ServerResponse, models: string[] | undefined): void {
    res.writeHead(models ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(models ? { object: 'list', data: models.map((id) => ({ id, object: 'model', owned_by: 'test' })) } : { error: { message: 'no route /v1/models' } }));
}

/**
 * What a scripted server does with one request: a reply (after `delayMs`, the server's own time to
 * answer), hold the connection open without answering, or close the connection without a reply.
 */
export type ScriptedReply =
    | { status?: number; headers?: Record<string, string>; json?: unknown; raw?: string; delayMs?: number; onSent?: () => void }
    | { stream: { bytes: number; chunk?: number } }
    | { hang: true }
    | { destroy: true };

export interface ScriptedServer {
    url: string;
    /** The POSTed requests (`GET /v1/models` is answered apart and counted in `modelChecks`). */
    requests: { path: string; body: Record<string, unknown>; at: number }[];
    modelChecks: number;
    /** Most requests this server held at once (answered or not yet). */
    maxInFlight: number;
    /** Per streamed body, once its connection closed: the bytes the server managed to write. */
    streamed: number[];
    close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1 whose replies the test scripts (request number → reply): for the
 * client's handling of replies no real server gives on demand (oversized, malformed, Retry-After,
 * never answering). `stream` writes a JSON body of about `bytes` bytes chunk by chunk, honouring
 * backpressure, and records how much it wrote before the client closed the connection.
 */
export async function startScriptedServer(reply: (n: number, body: Record<string, unknown>) => ScriptedReply, options: { models?: string[]; port?: number } = {}): Promise<ScriptedServer> {
    const requests: ScriptedServer['requests'] = [];
    let modelChecks = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const streamed: number[] = [];
    const hanging = new Set<import('node:http').ServerResponse>();
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test server: a handler that throws fails the test loudly
    const server: Server = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        if (req.method === 'GET' && req.url === '/v1/models') {
            modelChecks++;
            return modelList(res, options.models);
        }
        let body: Record<string, unknown> = {};
        try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
            /* recorded as {} */
        }
        const n = requests.length;
        requests.push({ path: req.url ?? '', body, at: Date.now() });
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        res.on('close', () => inFlight--);
        const r = reply(n, body);
        if ('destroy' in r) {
            req.socket.destroy();
            return;
        }
        if ('hang' in r) {
            hanging.add(res);
            return;
        }
        if ('stream' in r) {
            res.writeHead(200, { 'content-type': 'application/json' });
            const chunk = Buffer.alloc(r.stream.chunk ?? 65536, 'a');
            let written = 0;
            res.write('{"choices":[{"text":"');
            res.on('close', () => streamed.push(written));
            const pump = () => {
                while (written < r.stream.bytes && !res.destroyed) {
                    written += chunk.length;
                    if (!res.write(chunk)) return void res.once('drain', pump);
                }
                if (!res.destroyed) res.end('","finish_reason":"length"}]}');
            };
            pump();
            return;
        }
        if (r.delayMs) await new Promise((done) => setTimeout(done, r.delayMs));
        if (res.destroyed) return;
        res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...(r.headers ?? {}) });
        // 'finish': the whole reply went to the operating system, before any close of the server.
        if (r.onSent) res.once('finish', r.onSent);
        res.end(r.raw ?? JSON.stringify(r.json ?? {}));
    });
    await new Promise<void>((r) => server.listen(options.port ?? 0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}/v1`,
        requests,
        get modelChecks() {
            return modelChecks;
        },
        get maxInFlight() {
            return maxInFlight;
        },
        streamed,
        close: async () => {
            for (const res of hanging) res.destroy();
            server.closeAllConnections();
            await new Promise<void>((r) => server.close(() => r()));
        },
    };
}
