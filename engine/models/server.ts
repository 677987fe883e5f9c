/**
 * Generation through any OpenAI-compatible server (llama-server, vLLM, Ollama): `/v1/completions`
 * (raw prompt) or `/v1/chat/completions` (messages; the server applies the chat template), with
 * token log-probabilities when the server offers them, bounded concurrency, per-request timeouts,
 * bounded retries (backoff with jitter, Retry-After honoured, a total sleep budget) on network errors /
 * 429 / 5xx, and an API key read from the environment variable the spec names. The key is never
 * stored, logged or put in an error message.
 *
 * Answers are bounded: a reply body is read up to a byte cap that follows the decoding's maxTokens
 * (reading stops there), the text is cut to maxTokens tokens, and a reply of the wrong shape is an
 * error naming the question.
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
    /** Most time spent sleeping between the attempts of one request (ms); default 60 s. */
    retryBudgetMs?: number;
}

/** Retry-After values above this are not waited for (the request fails instead). */
const MAX_RETRY_AFTER_MS = 60_000;
/** Connection refused or reset: the server is not there; a few quick retries cover a restart. */
const CONNECT_RETRIES = 2;

/** Byte cap of one reply: room for maxTokens tokens with their log-probabilities, and a margin. */
export function replyByteCap(maxTokens: number): number {
    return 64 * 1024 + Math.max(1, maxTokens) * 2048;
}
/** Characters kept of a reply whose tokens are not listed (no logprobs): no token is this long. */
const CHARS_PER_TOKEN_CAP = 32;

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

/** Sleeps, or rejects when `signal` aborts; the abort listener is removed either way (no leak over retries). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(abortError());
        const onAbort = () => {
            clearTimeout(t);
            reject(abortError());
        };
        const t = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
    });
}

/** Retry-After (seconds or an HTTP date) in ms, or undefined. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
    if (!value) return undefined;
    const t = value.trim();
    if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
    const date = Date.parse(t);
    return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Reads a body up to `cap` bytes; past the cap reading stops and the body is cancelled. */
async function readCapped(res: Response, cap: number): Promise<{ text: string; over: boolean }> {
    if (!res.body) return { text: '', over: false };
    const reader = res.body.getReader();
    const parts: Uint8Array[] = [];
    let bytes = 0;
    try {
        for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            bytes += value.byteLength;
            if (bytes > cap) {
                await reader.cancel().catch(() => undefined);
                return { text: '', over: true };
            }
            parts.push(value);
        }
    } finally {
        reader.releaseLock();
    }
    return { text: Buffer.concat(parts).toString('utf8'), over: false };
}

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v);

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

    /** POSTs one request; `where` names the question in errors. Returns the parsed JSON reply. */
    private async post(body: Record<string, unknown>, cap: number, where: string, signal?: AbortSignal): Promise<unknown> {
        const url = endpoint(this.options.url, this.options.api);
        const retries = this.options.retries ?? 4;
        const backoff = this.options.backoffMs ?? 500;
        let budget = this.options.retryBudgetMs ?? 60_000;
        let lastError: Error | undefined;
        let attempts = 0;
        let connectFailures = 0;
        let wait = 0;
        for (let attempt = 0; attempt <= retries; attempt++) {
            if (signal?.aborted) throw abortError();
            if (attempt > 0) {
                if (wait > budget) break;
                budget -= wait;
                await sleep(wait, signal);
            }
            attempts++;
            // Full jitter around an exponential step, unless the server said when to come back.
            const nextWait = () => Math.round(backoff * 2 ** attempt * (0.5 + Math.random()));
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
                if (timeout.aborted) {
                    // A server that did not answer within the timeout once will most likely not the next time:
                    // not retried, so a dead server costs one timeout, not one per attempt.
                    throw new ServerError(`${url}: ${where}: no answer within ${this.options.timeoutMs} ms (not retried; raise timeoutMs if the server is slow)`);
                }
                const cause = (e as { cause?: Error & { code?: string } }).cause;
                lastError = new ServerError(`${url}: ${where}: ${(e as Error).message}${cause ? ` (${cause.message})` : ''}`);
                if (cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND' || cause?.code === 'EAI_AGAIN' || cause?.code === 'EHOSTUNREACH') {
                    if (++connectFailures > CONNECT_RETRIES) break;
                }
                wait = nextWait();
                continue;
            }
            if (res.ok) {
                let read: { text: string; over: boolean };
                try {
                    read = await readCapped(res, cap);
                } catch (e) {
                    if (signal?.aborted) throw abortError();
                    if (timeout.aborted) throw new ServerError(`${url}: ${where}: the answer did not arrive within ${this.options.timeoutMs} ms`);
                    lastError = new ServerError(`${url}: ${where}: the answer broke off (${(e as Error).message})`);
                    wait = nextWait();
                    continue;
                }
                if (read.over) throw new ServerError(`${url}: ${where}: the answer is larger than ${cap} bytes (the decoding's maxTokens is ${body.max_tokens}); reading stopped there. Does the server ignore max_tokens?`);
                try {
                    return JSON.parse(read.text);
                } catch (e) {
                    throw new ServerError(`${url}: ${where}: the answer is not JSON (${(e as Error).message})`);
                }
            }
            const text = (await readCapped(res, 4096).catch(() => ({ text: '', over: false }))).text.slice(0, 300);
            const err = new ServerError(`${url}: ${where}: HTTP ${res.status}${text ? `: ${text}` : ''}`, res.status);
            if (res.status === 429 || res.status >= 500) {
                lastError = err;
                const after = retryAfterMs(res.headers.get('retry-after'));
                if (after !== undefined && after > MAX_RETRY_AFTER_MS) throw new ServerError(`${err.message} (the server asks to retry after ${Math.round(after / 1000)} s)`, res.status);
                wait = after ?? nextWait();
                continue;
            }
            throw err; // 4xx other than 429: retrying will not help (bad model name, bad key, bad request)
        }
        throw new ServerError(`${lastError?.message ?? 'request failed'} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`, (lastError as ServerError | undefined)?.status);
    }

    /** The result of one reply; a reply of the wrong shape is an error naming the question. */
    parse(json: unknown, item: GenerationItem, sample: number, decoding: Decoding): GenerationResult {
        const where = `question ${item.id}${sample ? ` (sample ${sample})` : ''}`;
        const bad = (what: string) => new ServerError(`${this.options.url}: ${where}: malformed answer: ${what}`);
        if (json === null || typeof json !== 'object' || Array.isArray(json)) throw bad(`expected a JSON object, got ${describe(json)}`);
        const choices = (json as { choices?: unknown }).choices;
        if (!Array.isArray(choices) || choices.length === 0) {
            const error = (json as { error?: { message?: unknown } }).error;
            throw bad(typeof error?.message === 'string' ? `no choices; the server says: ${error.message.slice(0, 300)}` : 'no "choices" list');
        }
        const choice = choices[0] as Record<string, any> | null;
        if (choice === null || typeof choice !== 'object' || Array.isArray(choice)) throw bad(`choices[0] is ${describe(choice)}`);
        let text: unknown;
        let field: string;
        let lp: { logprob: unknown; token?: unknown }[] | undefined;
        if (this.options.api === 'chat') {
            field = 'choices[0].message.content';
            const message = choice.message;
            if (message === null || typeof message !== 'object') throw bad(`choices[0].message is ${describe(message)}`);
            text = message.content;
            const content = choice.logprobs?.content;
            if (Array.isArray(content)) lp = content.map((t: { logprob?: unknown; token?: unknown } | null) => ({ logprob: t?.logprob, token: t?.token }));
        } else {
            field = 'choices[0].text';
            text = choice.text;
            const tl = choice.logprobs?.token_logprobs;
            const tokens = choice.logprobs?.tokens;
            if (Array.isArray(tl)) lp = tl.map((x: unknown, i: number) => ({ logprob: x, token: Array.isArray(tokens) ? tokens[i] : undefined }));
        }
        // null (some servers for an empty answer or a refusal) and objects are not answers: saying
        // so beats counting null as an abstention and an object as the wrong answer "[object Object]".
        if (typeof text !== 'string') throw bad(`${field} is ${describe(text)}, not a string`);
        let logprobs: number[] | null = lp ? lp.map((t) => (typeof t.logprob === 'number' ? t.logprob : NaN)) : null;
        if (logprobs && logprobs.some((x) => !Number.isFinite(x))) logprobs = null;
        let finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : '';
        // At most maxTokens tokens: cut by the listed tokens when their strings spell the text, else by characters.
        const max = Math.max(1, decoding.maxTokens);
        if (lp && lp.length > max) {
            const tokens = lp.map((t) => t.token);
            if (tokens.every((t) => typeof t === 'string') && (tokens as string[]).join('') === text) text = (tokens as string[]).slice(0, max).join('');
            else text = (text as string).slice(0, max * CHARS_PER_TOKEN_CAP);
            if (logprobs) logprobs = logprobs.slice(0, max);
            finishReason = 'length';
        } else if ((text as string).length > max * CHARS_PER_TOKEN_CAP) {
            text = (text as string).slice(0, max * CHARS_PER_TOKEN_CAP);
            finishReason = 'length';
        }
        const stopped = applyStops(text as string, decoding.stop);
        const reason = finishReason;
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
        // The first failure stops the requests still in flight (a dead server fails the step once, not per lane).
        const stop = new AbortController();
        const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
        const cap = replyByteCap(decoding.maxTokens);
        const lane = async () => {
            while (next < work.length && !failure) {
                const w = work[next++];
                try {
                    const where = `question ${w.item.id}${w.sample ? ` (sample ${w.sample})` : ''}`;
                    const json = await this.post(this.body(w.item, w.sample, decoding, w.item.fewShot ?? options.fewShot ?? []), cap, where, signal);
                    const r = this.parse(json, w.item, w.sample, decoding);
                    results.push(r);
                    await options.onResult?.(r);
                } catch (e) {
                    if (!failure && !(stop.signal.aborted && (e as Error).name === 'AbortError')) {
                        failure = e;
                        stop.abort();
                    }
                }
            }
        };
        await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.concurrency, work.length)) }, lane));
        if (options.signal?.aborted) throw abortError();
        if (failure) throw failure;
        return results;
    }

    async close(): Promise<void> {}
}
