// A small OpenAI-compatible HTTP server for the tests, on 127.0.0.1: it answers /v1/completions and
// /v1/chat/completions from a real tiny GGUF model through node-llama-cpp (the engine's own local
// generator, in its child process). Options inject failures (503s, delays) and require an API key.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalGenerator } from '../../engine/models/local.js';

export interface TestServer {
    url: string;
    requests: { path: string; auth?: string; body: Record<string, unknown> }[];
    close(): Promise<void>;
}

export async function startOpenAiServer(modelPath: string, options: { apiKey?: string; failFirst?: number; delayMs?: number } = {}): Promise<TestServer> {
    const gen = await LocalGenerator.start({ modelPath, gpu: false, threads: 1, sequences: 4, contextSize: 128 });
    const requests: TestServer['requests'] = [];
    let failures = options.failFirst ?? 0;
    let n = 0;
    const server: Server = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const send = (status: number, body: unknown) => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(body));
        };
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
        const decoding = { temperature: Number(body.temperature ?? 0), maxTokens: Number(body.max_tokens ?? 16), stop: (body.stop as string[]) ?? [], template: 'raw', fewShot: 0, seed: body.seed as number | undefined };
        try {
            if (req.url === '/v1/completions') {
                const [r] = await gen.generate([{ id: `r${n++}`, question: String(body.prompt) }], decoding);
                return send(200, { object: 'text_completion', choices: [{ index: 0, text: r.text, finish_reason: r.finish === 'length' ? 'length' : 'stop', logprobs: body.logprobs ? { token_logprobs: r.logprobs, tokens: [] } : null }] });
            }
            if (req.url === '/v1/chat/completions') {
                const msgs = body.messages as { role: string; content: string }[];
                const fewShot = [];
                for (let i = 0; i + 1 < msgs.length - 1; i += 2) fewShot.push({ question: msgs[i].content, answer: msgs[i + 1].content });
                const [r] = await gen.generate([{ id: `r${n++}`, question: msgs[msgs.length - 1].content }], { ...decoding, template: 'chat' }, { fewShot });
                return send(200, { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: r.finish === 'length' ? 'length' : 'stop', logprobs: body.logprobs ? { content: (r.logprobs ?? []).map((lp) => ({ token: '', logprob: lp })) } : null }] });
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
