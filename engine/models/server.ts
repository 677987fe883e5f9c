/**
 * Generation through any OpenAI-compatible server (llama-server, vLLM, Ollama): `/v1/completions`
 * (raw prompt) or `/v1/chat/completions` (messages; the server applies the chat template), with
 * token log-probabilities when the server offers them, bounded concurrency, per-request timeouts,
 * retries with exponential backoff on network errors / 429 / 5xx, and an API key read from the
 * environment variable the spec names. The key is never stored, logged or put in an error message.
 */
import type { Decoding } from '../../language/plan-types.js';
import { abortError } from './local.js';
import { applyStops, buildPrompt, itemSeed, type FewShotExample, type GenerateOptions, type GenerationItem, type GenerationResult, type Generator } from './types.js';

export interface ServerOptions {
    url: string;
    name: string;
    api: 'completions' | 'chat';
    apiKeyEnv?: string;
    logprobs: boolean;
    concurrency: number;
    timeoutMs: number;
    retries?: number;
    /** Base delay of the exponential backoff (ms). */
    backoffMs?: number;
}

export class ServerError extends Error {
    constructor(message: string, readonly status?: number) {
        super(message);
        this.name = 'ServerError';
    }
}

function endpoint(url: string, api: 'completions' | 'chat'): string {
    const base = url.replace(/\/+$/, '');
    const path = api === 'chat' ? '/chat/completions' : '/completions';
    if (base.endsWith(path)) return base;
    return base + path;
}

const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(abortError());
        }, { once: true });
    });

export class ServerGenerator implements Generator {
    readonly description: string;
    readonly logprobs: boolean;
    private readonly apiKey: string | undefined;

    constructor(readonly options: ServerOptions) {
        this.description = `server ${options.url} (${options.name})`;
        this.logprobs = options.logprobs;
        if (options.apiKeyEnv) {
            const key = process.env[options.apiKeyEnv];
            if (!key) throw new ServerError(`the environment variable ${options.apiKeyEnv} (the API key for ${options.url}) is not set`);
            this.apiKey = key;
        }
        try {
            new URL(options.url);
        } catch {
            throw new ServerError(`not a valid server URL: ${options.url}`);
        }
    }

    private body(item: GenerationItem, sample: number, decoding: Decoding, fewShot: FewShotExample[]): Record<string, unknown> {
        const greedy = decoding.temperature <= 0;
        const common: Record<string, unknown> = {
            model: this.options.name,
            max_tokens: decoding.maxTokens,
            temperature: greedy ? 0 : decoding.temperature,
            ...(decoding.topP !== undefined ? { top_p: decoding.topP } : {}),
            ...(decoding.topK !== undefined ? { top_k: decoding.topK } : {}),
            seed: itemSeed(decoding.seed, item.id, sample),
            ...(decoding.stop.length ? { stop: decoding.stop.slice(0, 4) } : {}),
            n: 1,
            stream: false,
        };
        if (this.options.api === 'chat') {
            const messages: { role: string; content: string }[] = [];
            for (const e of fewShot) messages.push({ role: 'user', content: e.question }, { role: 'assistant', content: e.answer });
            const content = decoding.template === 'chat' || decoding.template === 'raw' ? item.question : buildPrompt(decoding.template, item.question);
            messages.push({ role: 'user', content });
            return { ...common, messages, ...(this.logprobs ? { logprobs: true } : {}) };
        }
        const prompt = buildPrompt(decoding.template === 'chat' ? 'raw' : decoding.template, item.question, fewShot);
        return { ...common, prompt, ...(this.logprobs ? { logprobs: 1 } : {}) };
    }

    private async post(body: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
        const url = endpoint(this.options.url, this.options.api);
        const retries = this.options.retries ?? 4;
        const backoff = this.options.backoffMs ?? 500;
        let lastError: Error | undefined;
        for (let attempt = 0; attempt <= retries; attempt++) {
            if (signal?.aborted) throw abortError();
            if (attempt > 0) await sleep(backoff * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5), signal);
            const timeout = AbortSignal.timeout(this.options.timeoutMs);
            const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
            let res: Response;
            try {
                res = await fetch(url, {
                    method: 'POST',
                    headers: { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) },
                    body: JSON.stringify(body),
                    signal: combined,
                });
            } catch (e) {
                if (signal?.aborted) throw abortError();
                lastError = new ServerError(timeout.aborted ? `${url}: no answer within ${this.options.timeoutMs} ms` : `${url}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`);
                continue;
            }
            if (res.ok) {
                try {
                    return await res.json();
                } catch (e) {
                    lastError = new ServerError(`${url}: the answer is not JSON (${(e as Error).message})`);
                    continue;
                }
            }
            const text = (await res.text().catch(() => '')).slice(0, 300);
            const err = new ServerError(`${url}: HTTP ${res.status}${text ? `: ${text}` : ''}`, res.status);
            if (res.status === 429 || res.status >= 500) {
                lastError = err;
                continue;
            }
            throw err; // 4xx other than 429: retrying will not help (bad model name, bad key, bad request)
        }
        throw new ServerError(`${lastError?.message ?? 'request failed'} (after ${retries + 1} attempts)`);
    }

    private parse(json: unknown, item: GenerationItem, sample: number, decoding: Decoding): GenerationResult {
        const choice = (json as { choices?: unknown[] })?.choices?.[0] as Record<string, any> | undefined;
        if (!choice) throw new ServerError(`${this.options.url}: the answer has no choices`);
        let text: string;
        let logprobs: number[] | null = null;
        if (this.options.api === 'chat') {
            text = String(choice.message?.content ?? '');
            const content = choice.logprobs?.content;
            if (Array.isArray(content)) logprobs = content.map((t: { logprob: number }) => Number(t.logprob));
        } else {
            text = String(choice.text ?? '');
            const tl = choice.logprobs?.token_logprobs;
            if (Array.isArray(tl)) logprobs = tl.map(Number);
        }
        if (logprobs && logprobs.some((x) => !Number.isFinite(x))) logprobs = null;
        const stopped = applyStops(text, decoding.stop);
        const reason = String(choice.finish_reason ?? '');
        const finish: GenerationResult['finish'] = stopped.stopped || reason === 'stop' ? (reason === 'stop' && !stopped.stopped ? 'eos' : 'stop') : reason === 'length' ? 'length' : 'eos';
        return { id: item.id, sample, text: stopped.text.trim(), tokens: logprobs?.length ?? 0, logprobs: this.logprobs ? logprobs : null, finish };
    }

    async generate(items: GenerationItem[], decoding: Decoding, options: GenerateOptions = {}): Promise<GenerationResult[]> {
        const samples = options.samples ?? 1;
        const work: { item: GenerationItem; sample: number }[] = [];
        for (const item of items) for (let s = 0; s < samples; s++) work.push({ item, sample: s });
        const results: GenerationResult[] = [];
        let next = 0;
        let failure: unknown;
        const lane = async () => {
            while (next < work.length && !failure) {
                const w = work[next++];
                try {
                    const json = await this.post(this.body(w.item, w.sample, decoding, options.fewShot ?? []), options.signal);
                    const r = this.parse(json, w.item, w.sample, decoding);
                    results.push(r);
                    await options.onResult?.(r);
                } catch (e) {
                    failure ??= e;
                }
            }
        };
        await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.concurrency, work.length)) }, lane));
        if (failure) throw failure;
        return results;
    }

    async close(): Promise<void> {}
}
