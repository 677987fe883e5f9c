/**
 * Generation through any OpenAI-compatible server (llama-server, vLLM, Ollama): `/v1/completions`
 * (raw prompt) or `/v1/chat/completions` (messages; the server applies the chat template), with
 * token log-probabilities when the server offers them, bounded concurrency, per-request timeouts,
 * bounded retries (backoff with jitter, Retry-After honoured, a total sleep budget) on network errors /
 * 429 / 5xx, and an API key read from the environment variable the spec names. The key is never
 * stored, logged or put in an error message.
 *
 * A model may name several servers (replicas of one model). Each request goes to the least-loaded
 * server that may take one, equals in turn: up to `concurrency` in flight per server and, with
 * `rateLimit`, at most that many request starts per second or minute per server (a sliding window,
 * 5% longer than that for the network's delays).
 * A failed request goes to another free server at once and back to the failing one only after a
 * jittered exponential backoff. `Retry-After` pauses that server only. A server that fails
 * `ejectAfter` requests in a row leaves the rotation for `ejectMs` (a warning says so), then takes one
 * probe request; a failed probe doubles its time out. The last server in the rotation is never taken
 * out: it is retried request by request as a single server is, and a request whose retries run out
 * there fails the call with the last error of every server. Before its first request, each server's
 * `GET /models` must list the model the spec names.
 *
 * Answers are bounded: a reply body is read up to a byte cap that follows the decoding's maxTokens
 * (reading stops there), the text is cut to maxTokens tokens, and a reply of the wrong shape is an
 * error naming the question.
 */
import type { Decoding } from '../../language/plan-types.js';
import { abortError } from './local.js';
import { applyStops, buildPrompt, itemSeed, type FewShotExample, type GenerateOptions, type GenerationItem, type GenerationResult, type Generator } from './types.js';

export interface ServerOptions {
    /** The server's URL; with several servers, the first. */
    url: string;
    /** Every server URL (replicas serving the same model), `url` first; absent for a single server. */
    urls?: string[];
    name: string;
    api: 'completions' | 'chat';
    apiKeyEnv?: string;
    logprobs: boolean;
    /** Requests in flight at once, per server. */
    concurrency: number;
    timeoutMs: number;
    retries?: number;
    /** Base delay of the exponential backoff (ms). */
    backoffMs?: number;
    /** Most time spent sleeping between the attempts of one request (ms); default 60 s. */
    retryBudgetMs?: number;
    /** At most this many requests start per `ratePer` (a sliding window), per server. */
    rateLimit?: number;
    ratePer?: 'second' | 'minute';
    /** Failed requests in a row after which a server leaves the rotation (default 3). */
    ejectAfter?: number;
    /** How long a server first stays out of the rotation (ms, default 30 s); doubles after each failed probe, up to 5 min. */
    ejectMs?: number;
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
    constructor(
        message: string,
        readonly status?: number,
    ) {
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

/** Every server URL of a model (the first is `url`). */
export function serverUrls(o: { url: string; urls?: string[] }): string[] {
    return o.urls && o.urls.length ? o.urls : [o.url];
}

type Connection = Pick<ServerOptions, 'url' | 'urls' | 'apiKeyEnv' | 'concurrency' | 'timeoutMs' | 'rateLimit' | 'ratePer'>;

/**
 * How to reach a server model: its URLs, key variable and throughput settings. The store key holds
 * the set of URLs but not their order, the key variable or the throughput settings, so a stored
 * model step may have been made with other ones: generation takes them from the spec as it is now.
 */
export function serverConnection(src: Connection): Connection {
    return {
        url: src.url,
        ...(src.urls && src.urls.length > 1 ? { urls: src.urls } : {}),
        ...(src.apiKeyEnv ? { apiKeyEnv: src.apiKeyEnv } : {}),
        concurrency: src.concurrency,
        timeoutMs: src.timeoutMs,
        ...(src.rateLimit !== undefined ? { rateLimit: src.rateLimit, ratePer: src.ratePer ?? 'second' } : {}),
    };
}

/** A ref with the connection settings of the spec as it is now (`urls` and `rateLimit` replaced, not merged). */
export function withConnection<T extends ServerOptions>(ref: T, src: Connection): T {
    const { urls: _urls, rateLimit: _rate, ratePer: _per, apiKeyEnv: _key, ...rest } = ref;
    return { ...rest, ...serverConnection(src) } as T;
}

/** A server's first time out of the rotation doubles on each failed probe, up to this. */
const MAX_EJECT_MS = 300_000;

const seconds = (ms: number) => (ms < 10_000 ? String(Math.round(ms / 100) / 10) : String(Math.round(ms / 1000)));

/** One server of a model and what the client knows of its health. */
interface Endpoint {
    url: string;
    inFlight: number;
    /** Requests sent and answered during the current generate() call. */
    sent: number;
    answered: number;
    failuresInRow: number;
    /** Connections refused (or not resolved) in a row: past CONNECT_RETRIES the server is down. */
    refusedInRow: number;
    /** Retry-After: no request before this time. */
    pausedUntil: number;
    /** Out of the rotation; from `outUntil` on it takes one probe request at a time until one succeeds. */
    ejected: boolean;
    outUntil: number;
    ejectMs: number;
    /** Start times of the requests inside the rate-limit window. */
    starts: number[];
    lastError?: string;
    /** The served-model check (GET /models), run once before the first request. */
    check?: Promise<void>;
}

/** One question × sample and its attempts so far. */
interface Work {
    item: GenerationItem;
    sample: number;
    attempts: number;
    connectFailures: number;
    /** Backoff slept on behalf of this request (counted against the retry budget). */
    slept: number;
    /** Per server: not before this time (backoff after it failed this request); Infinity: never (it timed out). */
    avoid: Map<Endpoint, number>;
    /** Per server: the failures of this request there (the backoff's exponent). */
    failed: Map<Endpoint, number>;
    lastError?: ServerError;
}

/** What one attempt came to. */
type Outcome =
    | { kind: 'ok'; json: unknown }
    /** Retrying cannot help (bad request, bad key, malformed or oversized reply, wrong model). */
    | { kind: 'fatal'; error: ServerError }
    /** No answer within the timeout: not sent to this server again. */
    | { kind: 'timeout'; error: ServerError }
    | { kind: 'retry'; error: ServerError; retryAfter?: number; connect?: boolean };

/** Whether a served model id names the model the spec names (llama-server lists its file path unless given an alias). */
export function servesModel(ids: string[], name: string): boolean {
    if (!name) return true;
    return ids.some((id) => {
        const base = id.split(/[\\/]/).pop() ?? id;
        return id === name || base === name || base.replace(/\.gguf$/i, '') === name;
    });
}

export class ServerGenerator implements Generator {
    readonly description: string;
    readonly logprobs: boolean;
    readonly urls: string[];
    private readonly apiKey: string | undefined;
    private readonly endpoints: Endpoint[];
    private rr = 0;

    constructor(readonly options: ServerOptions) {
        this.urls = serverUrls(options);
        this.description = `server ${this.urls.join(', ')} (${options.name})`;
        this.logprobs = options.logprobs;
        if (options.apiKeyEnv) {
            const key = process.env[options.apiKeyEnv];
            if (!key) throw new ServerError(`the environment variable ${options.apiKeyEnv} (the API key for ${this.urls.join(', ')}) is not set`);
            this.apiKey = key;
        }
        for (const url of this.urls) {
            try {
                new URL(url);
            } catch {
                throw new ServerError(`not a valid server URL: ${url}`);
            }
        }
        const dup = this.urls.find((u, i) => this.urls.indexOf(u) !== i);
        if (dup) throw new ServerError(`the server URL ${dup} is named twice`);
        if (options.rateLimit !== undefined && !(options.rateLimit > 0)) throw new ServerError(`rateLimit must be above 0, not ${options.rateLimit}`);
        this.endpoints = this.urls.map((url) => ({
            url,
            inFlight: 0,
            sent: 0,
            answered: 0,
            failuresInRow: 0,
            pausedUntil: 0,
            ejected: false,
            outUntil: 0,
            ejectMs: options.ejectMs ?? 30_000,
            starts: [],
            refusedInRow: 0,
        }));
    }

    /** Requests sent to and answered by each server during the last generate() call. */
    stats(): { url: string; sent: number; answered: number; inRotation: boolean }[] {
        return this.endpoints.map((e) => ({ url: e.url, sent: e.sent, answered: e.answered, inRotation: !e.ejected }));
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

    private headers(): Record<string, string> {
        return { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) };
    }

    /**
     * Checks once per server that `GET <url>/models` lists the model the spec names: replicas that
     * serve different models would mix two models' answers in one result. A server without the
     * route (404/405/501) is taken at its word, with a warning. A network failure is a failure of the
     * server (retried, like a request), a wrong model an error naming the URL.
     */
    private ensureChecked(e: Endpoint, signal: AbortSignal, log: (level: 'info' | 'warn', message: string) => void): Promise<void> {
        if (!e.check) {
            e.check = (async () => {
                const url = e.url.replace(/\/+$/, '').replace(/\/(chat\/)?completions$/, '') + '/models';
                const timeout = AbortSignal.timeout(Math.min(this.options.timeoutMs, 30_000));
                let res: Response;
                try {
                    res = await fetch(url, { headers: this.headers(), signal: AbortSignal.any([signal, timeout]) });
                } catch (err) {
                    if (signal.aborted) throw abortError();
                    const cause = (err as { cause?: Error & { code?: string } }).cause;
                    throw Object.assign(
                        new ServerError(
                            `${e.url}: GET /models: ${timeout.aborted ? `no answer within ${Math.min(this.options.timeoutMs, 30_000)} ms` : (err as Error).message}${cause ? ` (${cause.message})` : ''}`,
                        ),
                        { connect: true },
                    );
                }
                const read = await readCapped(res, 4 * 1024 * 1024).catch(() => ({ text: '', over: false }));
                if (res.status === 404 || res.status === 405 || res.status === 501) {
                    log('warn', `${e.url} does not list its models (GET /models: HTTP ${res.status}); it is assumed to serve '${this.options.name}'`);
                    return;
                }
                if (res.status === 401 || res.status === 403) throw new ServerError(`${e.url}: GET /models: HTTP ${res.status}${read.text ? `: ${read.text.slice(0, 300)}` : ''}`, res.status);
                if (!res.ok) throw Object.assign(new ServerError(`${e.url}: GET /models: HTTP ${res.status}`, res.status), { retry: true });
                let ids: string[] | undefined;
                try {
                    const data = (JSON.parse(read.text) as { data?: { id?: unknown }[] }).data;
                    if (Array.isArray(data)) ids = data.map((m) => m?.id).filter((x): x is string => typeof x === 'string');
                } catch {
                    ids = undefined;
                }
                if (!ids) throw new ServerError(`${e.url}: GET /models: the answer is not a model list ({"data": [{"id": …}]})`);
                if (!servesModel(ids, this.options.name)) {
                    const served = ids.length
                        ? ids
                              .slice(0, 5)
                              .map((i) => `'${i}'`)
                              .join(', ') + (ids.length > 5 ? ', …' : '')
                        : 'no model';
                    throw new ServerError(`${e.url} serves ${served}, not '${this.options.name}' (GET /models): every server of a model must serve the model the spec names`);
                }
            })();
            // A server that could not be reached is checked again before its next request.
            e.check.catch(() => (e.check = undefined));
        }
        return e.check;
    }

    /** One attempt of one request on one server. */
    private async attempt(
        e: Endpoint,
        body: Record<string, unknown>,
        cap: number,
        where: string,
        signal: AbortSignal,
        log: (level: 'info' | 'warn', message: string) => void,
        reserved?: number,
    ): Promise<Outcome> {
        try {
            await this.ensureChecked(e, signal, log);
        } catch (err) {
            if ((err as Error).name === 'AbortError') throw err;
            const x = err as ServerError & { connect?: boolean; retry?: boolean };
            return x.connect || x.retry ? { kind: 'retry', error: x, connect: x.connect } : { kind: 'fatal', error: x };
        }
        if (reserved !== undefined) {
            // The rate limit counts this request from when it is sent (the check may have taken a while).
            const i = e.starts.indexOf(reserved);
            if (i >= 0) e.starts.splice(i, 1);
            e.starts.push(Date.now());
        }
        const url = endpoint(e.url, this.options.api);
        const timeout = AbortSignal.timeout(this.options.timeoutMs);
        const combined = AbortSignal.any([signal, timeout]);
        let res: Response;
        try {
            res = await fetch(url, { method: 'POST', headers: this.headers(), body: JSON.stringify(body), signal: combined });
        } catch (err) {
            if (signal.aborted) throw abortError();
            if (timeout.aborted) return { kind: 'timeout', error: new ServerError(`${url}: ${where}: no answer within ${this.options.timeoutMs} ms`) };
            const cause = (err as { cause?: Error & { code?: string } }).cause;
            const connect = cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND' || cause?.code === 'EAI_AGAIN' || cause?.code === 'EHOSTUNREACH';
            return { kind: 'retry', error: new ServerError(`${url}: ${where}: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`), connect };
        }
        if (res.ok) {
            let read: { text: string; over: boolean };
            try {
                read = await readCapped(res, cap);
            } catch (err) {
                if (signal.aborted) throw abortError();
                if (timeout.aborted) return { kind: 'timeout', error: new ServerError(`${url}: ${where}: the answer did not arrive within ${this.options.timeoutMs} ms`) };
                return { kind: 'retry', error: new ServerError(`${url}: ${where}: the answer broke off (${(err as Error).message})`) };
            }
            if (read.over)
                return {
                    kind: 'fatal',
                    error: new ServerError(
                        `${url}: ${where}: the answer is larger than ${cap} bytes (the decoding's maxTokens is ${body.max_tokens}); reading stopped there. Does the server ignore max_tokens?`,
                    ),
                };
            try {
                return { kind: 'ok', json: JSON.parse(read.text) };
            } catch (err) {
                return { kind: 'fatal', error: new ServerError(`${url}: ${where}: the answer is not JSON (${(err as Error).message})`) };
            }
        }
        const text = (await readCapped(res, 4096).catch(() => ({ text: '', over: false }))).text.slice(0, 300);
        const error = new ServerError(`${url}: ${where}: HTTP ${res.status}${text ? `: ${text}` : ''}`, res.status);
        if (res.status === 429 || res.status >= 500) return { kind: 'retry', error, retryAfter: retryAfterMs(res.headers.get('retry-after')) };
        return { kind: 'fatal', error }; // 4xx other than 429: retrying will not help (bad model name, bad key, bad request)
    }

    /**
     * Answers every item × sample over the model's servers. The first error that retrying cannot
     * help, or a request whose retries ran out on every server, fails the call and stops the
     * requests in flight; answers already given have gone to `onResult`.
     */
    async generate(items: GenerationItem[], decoding: Decoding, options: GenerateOptions = {}): Promise<GenerationResult[]> {
        const samples = options.samples ?? 1;
        // Requests are made as they are sent (a million-question step holds no million pending objects).
        const count = items.length * samples;
        const work = (k: number): Work => ({ item: items[Math.floor(k / samples)], sample: k % samples, attempts: 0, connectFailures: 0, slept: 0, avoid: new Map(), failed: new Map() });
        const eps = this.endpoints;
        const n = eps.length;
        const concurrency = Math.max(1, this.options.concurrency);
        const retries = this.options.retries ?? 4;
        const backoff = this.options.backoffMs ?? 500;
        const budget = this.options.retryBudgetMs ?? 60_000;
        const ejectAfter = Math.max(1, this.options.ejectAfter ?? 3);
        // The window with a 5% margin: requests reach the server a varying few ms after they leave
        // here, and a quota counted where they arrive must not see two windows' worth in one.
        const windowMs = (this.options.ratePer === 'minute' ? 60_000 : 1000) * 1.05;
        const rateLimit = this.options.rateLimit;
        const log = options.onLog ?? (() => undefined);
        // A new call starts with every server's counts at 0; a server out of the rotation gets its probe at once.
        for (const e of eps) {
            e.sent = 0;
            e.answered = 0;
            e.failuresInRow = 0;
            e.refusedInRow = 0;
            e.outUntil = 0;
        }
        const results: GenerationResult[] = [];
        let failure: unknown;
        const stop = new AbortController();
        const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
        const cap = replyByteCap(decoding.maxTokens);
        const retry: Work[] = [];
        const running = new Set<Promise<void>>();
        let next = 0;
        let wake: (() => void) | undefined;
        const poke = () => {
            const w = wake;
            wake = undefined;
            w?.();
        };
        const fail = (e: unknown) => {
            if (!failure) {
                failure = e;
                stop.abort();
            }
            poke();
        };
        const up = (e: Endpoint, now: number) => !(e.ejected && now < e.outUntil) && e.pausedUntil - now <= MAX_RETRY_AFTER_MS;
        const inRotation = (now: number) => eps.filter((e) => up(e, now));
        const rateOk = (e: Endpoint, now: number) => {
            if (rateLimit === undefined) return true;
            while (e.starts.length && e.starts[0] <= now - windowMs) e.starts.shift();
            return e.starts.length < rateLimit;
        };
        const free = (e: Endpoint, now: number) => up(e, now) && now >= e.pausedUntil && e.inFlight < (e.ejected ? 1 : concurrency) && rateOk(e, now);
        /** The least-loaded free server this request may go to; equals in turn (round-robin). */
        const pick = (w: Work | undefined, now: number): Endpoint | undefined => {
            let best: Endpoint | undefined;
            let bestAt = 0;
            for (let k = 0; k < n; k++) {
                const i = (this.rr + k) % n;
                const e = eps[i];
                if (!free(e, now) || (w && (w.avoid.get(e) ?? 0) > now)) continue;
                if (!best || e.inFlight < best.inFlight) {
                    best = e;
                    bestAt = i;
                }
            }
            if (best) this.rr = (bestAt + 1) % n;
            return best;
        };
        const everyLastError = () => eps.map((e) => `${e.url}: ${e.lastError ?? 'no error'}`).join('; ');
        const giveUp = (w: Work) => {
            const last = w.lastError?.message ?? 'request failed';
            const tries = `after ${w.attempts} attempt${w.attempts === 1 ? '' : 's'}`;
            if (n === 1) return fail(new ServerError(`${last} (${tries})`, w.lastError?.status));
            const where = `question ${w.item.id}${w.sample ? ` (sample ${w.sample})` : ''}`;
            fail(new ServerError(`every server of '${this.options.name}' failed ${where} (${tries}); the last error of each: ${everyLastError()}`, w.lastError?.status));
        };
        /**
         * A failed request counts against its server: after `ejectAfter` in a row (or a failed probe)
         * it leaves the rotation, unless it is the last one in it. Requests sent before it left that
         * fail afterwards change nothing more.
         */
        const serverFailed = (e: Endpoint, message: string, probe: boolean) => {
            e.lastError = message;
            if (e.ejected && !probe) return;
            e.failuresInRow++;
            const now = Date.now();
            if (n === 1 || !(probe || e.failuresInRow >= ejectAfter)) return;
            const others = eps.filter((x) => x !== e && up(x, now));
            if (!others.length) return; // the last server in the rotation is retried request by request
            const wasOut = probe;
            e.ejected = true;
            e.outUntil = now + e.ejectMs;
            log(
                'warn',
                `server ${e.url} is out of the rotation for ${seconds(e.ejectMs)} s after ${wasOut ? 'its probe failed' : `${e.failuresInRow} failed requests in a row`} (last: ${message}); ${others.length} of ${n} servers go on`,
            );
            e.ejectMs = Math.min(MAX_EJECT_MS, e.ejectMs * 2);
            e.failuresInRow = 0;
        };
        const requeue = (w: Work, e: Endpoint, delay: number) => {
            w.avoid.set(e, Date.now() + delay);
            retry.push(w);
        };
        /** `probe`: the request was sent to a server out of the rotation, to see whether it is back. */
        const settle = async (w: Work, e: Endpoint, outcome: Outcome, where: string, probe: boolean) => {
            if (outcome.kind === 'ok') {
                const r = this.parse(outcome.json, w.item, w.sample, decoding, e.url);
                e.failuresInRow = 0;
                e.refusedInRow = 0;
                e.answered++;
                if (e.ejected && probe) {
                    e.ejected = false;
                    e.ejectMs = this.options.ejectMs ?? 30_000;
                    log('info', `server ${e.url} is back in the rotation`);
                }
                results.push(r);
                await options.onResult?.(r);
                return;
            }
            w.lastError = outcome.error;
            if (outcome.kind === 'fatal') return fail(outcome.error);
            const message = outcome.error.message.startsWith(e.url) ? outcome.error.message.slice(e.url.length).replace(/^(\/\S*)?: /, '') : outcome.error.message;
            if (outcome.kind === 'timeout') {
                // A server that did not answer within the timeout once will most likely not the next
                // time: this request is not sent to it again, so a dead server costs one timeout, not one per attempt.
                serverFailed(e, message, probe);
                w.avoid.set(e, Infinity);
                if (eps.every((x) => w.avoid.get(x) === Infinity)) {
                    return fail(
                        new ServerError(
                            n === 1
                                ? `${outcome.error.message} (not retried; raise timeoutMs if the server is slow)`
                                : `no server answered ${where} within ${this.options.timeoutMs} ms (raise timeoutMs if the servers are slow); the last error of each: ${everyLastError()}`,
                        ),
                    );
                }
                retry.push(w);
                return;
            }
            const now = Date.now();
            if (outcome.retryAfter !== undefined) {
                // Retry-After pauses that server only; the others go on.
                e.lastError = message;
                e.pausedUntil = Math.max(e.pausedUntil, now + outcome.retryAfter);
                if (outcome.retryAfter > MAX_RETRY_AFTER_MS) {
                    if (!inRotation(now).length)
                        return fail(
                            new ServerError(
                                n === 1
                                    ? `${outcome.error.message} (the server asks to retry after ${Math.round(outcome.retryAfter / 1000)} s)`
                                    : `every server of '${this.options.name}' is out: ${everyLastError()} (${e.url} asks to retry after ${Math.round(outcome.retryAfter / 1000)} s)`,
                                outcome.error.status,
                            ),
                        );
                    log('warn', `server ${e.url} asks to retry after ${Math.round(outcome.retryAfter / 1000)} s: out of the rotation until then`);
                }
            } else serverFailed(e, message, probe);
            if (outcome.connect) w.connectFailures++;
            e.refusedInRow = outcome.connect ? e.refusedInRow + 1 : 0;
            // Every server out of the rotation or refusing connections: the step fails now, not after each request's retries.
            if (n > 1 && eps.every((x) => (x.ejected && x.outUntil > now) || x.refusedInRow > CONNECT_RETRIES)) {
                return fail(new ServerError(`every server of '${this.options.name}' is down; the last error of each: ${everyLastError()}`, outcome.error.status));
            }
            const fails = (w.failed.get(e) ?? 0) + 1;
            w.failed.set(e, fails);
            if (w.attempts > (retries + 1) * n - 1 || w.connectFailures > (CONNECT_RETRIES + 1) * n - 1) return giveUp(w);
            if (outcome.retryAfter !== undefined) return requeue(w, e, 0); // the server's pause holds it back
            // Full jitter around an exponential step. A free server takes this request at once (back to
            // this one only after the wait); with none free it waits holding its slot here, as a lane
            // of a single server does, so a request being retried is not overtaken by new ones.
            const wait = Math.round(backoff * 2 ** (fails - 1) * (0.5 + Math.random()));
            if (eps.some((x) => x !== e && free(x, now) && (w.avoid.get(x) ?? 0) <= now)) return requeue(w, e, wait);
            if (w.slept + wait > budget) return giveUp(w);
            w.slept += wait;
            await sleep(wait, signal);
            retry.push(w);
        };
        const launch = (w: Work, e: Endpoint) => {
            const now = Date.now();
            e.inFlight++;
            e.sent++;
            if (rateLimit !== undefined) e.starts.push(now);
            const reserved = rateLimit !== undefined ? now : undefined;
            w.attempts++;
            const probe = e.ejected;
            const where = `question ${w.item.id}${w.sample ? ` (sample ${w.sample})` : ''}`;
            const p = (async () => {
                try {
                    const outcome = await this.attempt(e, this.body(w.item, w.sample, decoding, w.item.fewShot ?? options.fewShot ?? []), cap, where, signal, log, reserved);
                    if (failure) return;
                    await settle(w, e, outcome, where, probe);
                } catch (err) {
                    if (!(stop.signal.aborted && (err as Error).name === 'AbortError')) fail(err);
                } finally {
                    e.inFlight--;
                }
            })();
            running.add(p);
            void p.then(() => {
                running.delete(p);
                poke();
            });
        };
        const onAbort = () => poke();
        signal.addEventListener('abort', onAbort);
        try {
            while (!failure && !signal.aborted) {
                let now = Date.now();
                for (let launched = true; launched && !failure;) {
                    launched = false;
                    for (let i = 0; i < retry.length && !failure; i++) {
                        const e = pick(retry[i], now);
                        if (!e) continue;
                        launch(retry.splice(i--, 1)[0], e);
                        launched = true;
                    }
                    while (next < count && !failure) {
                        const e = pick(undefined, now);
                        if (!e) break;
                        launch(work(next++), e);
                        launched = true;
                    }
                    now = Date.now();
                }
                if (failure || (next >= count && !retry.length && !running.size)) break;
                // Sleep until a request ends or the next time a server or request may go again.
                let at = Infinity;
                for (const e of eps) {
                    if (e.pausedUntil > now) at = Math.min(at, e.pausedUntil);
                    if (e.ejected && e.outUntil > now) at = Math.min(at, e.outUntil);
                    if (rateLimit !== undefined && e.starts.length >= rateLimit) at = Math.min(at, e.starts[0] + windowMs);
                }
                for (const w of retry) for (const t of w.avoid.values()) if (t > now && t !== Infinity) at = Math.min(at, t);
                if (!running.size && at === Infinity) {
                    fail(new ServerError(`every server of '${this.options.name}' is out: ${everyLastError()}`));
                    break;
                }
                await new Promise<void>((resolve) => {
                    const timer = at === Infinity ? undefined : setTimeout(resolve, Math.max(1, at - now));
                    wake = () => {
                        if (timer) clearTimeout(timer);
                        resolve();
                    };
                });
                wake = undefined;
            }
            await Promise.allSettled([...running]);
        } finally {
            signal.removeEventListener('abort', onAbort);
        }
        if (options.signal?.aborted) throw abortError();
        if (failure) throw failure;
        return results;
    }

    /** The result of one reply; a reply of the wrong shape is an error naming the question. */
    parse(json: unknown, item: GenerationItem, sample: number, decoding: Decoding, url = this.urls[0]): GenerationResult {
        const where = `question ${item.id}${sample ? ` (sample ${sample})` : ''}`;
        const bad = (what: string) => new ServerError(`${url}: ${where}: malformed answer: ${what}`);
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
            // llama-server answers /v1/completions in the chat form: {"content": [{"token", "logprob"}, …]}
            else if (Array.isArray(choice.logprobs?.content)) lp = choice.logprobs.content.map((t: { logprob?: unknown; token?: unknown } | null) => ({ logprob: t?.logprob, token: t?.token }));
        }
        // null (some servers for an empty answer or a refusal) and objects are not answers: saying
        // so beats counting null as an abstention and an object as the wrong answer "[object Object]".
        if (typeof text !== 'string') throw bad(`${field} is ${describe(text)}, not a string`);
        // llama-server also lists the end-of-text token that stopped the answer (token "", no bytes):
        // an answer's log-probabilities are those of its own tokens, as local generation gives them.
        if (lp && choice.finish_reason === 'stop') while (lp.length && lp[lp.length - 1].token === '') lp.pop();
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

    async close(): Promise<void> {}
}
