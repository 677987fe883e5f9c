/**
 * Model references between steps (`model.json` in a model or finetune entry) and the per-run pool
 * of generators: one child process and one model load per base GGUF per run, LoRA adapters
 * switched on it; one client per server.
 */
import { existsSync, promises as fs } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Decoding } from '../../language/plan-types.js';
import { LocalGenerator } from '../models/local.js';
import { ServerGenerator, serverUrls, type ServerOptions } from '../models/server.js';
import type { GenerateOptions, GenerationItem, GenerationResult } from '../models/types.js';

export type ModelRef =
    | {
          kind: 'local';
          /** GGUF path (absolute, or relative to the entry that holds this model.json). */
          path: string;
          lora: string[];
          /** Fact ids the base model was taught (embedded world), file relative or absolute. */
          taught?: string;
          /** Id of the model step this derives from (for messages). */
          base: string;
          /** The model step's prompt template (overrides the decoding's). */
          template?: string;
          /** Files outside the store (the user's GGUF): their absolute paths when written, keyed by
           * the relative form in `path`/`lora`/`taught`; used when the relative one is missing. */
          outside?: Record<string, string>;
      }
    | ({ kind: 'server'; base: string; template?: string } & ServerOptions);

/**
 * Writes `model.json` into an entry being made (`dir` is `<store>/tmp/<name>`, renamed later to
 * `<store>/steps/<key>`). Every path is written relative to the final entry: another entry of the
 * store as `../<key>/model.gguf`, so a copied or moved store reads its own files, never the
 * original's; a file outside the store (the user's GGUF) relative too, so a project moved with its
 * store reads its own models, with its absolute path kept beside it for a store copied alone.
 */
export async function writeModelRef(dir: string, ref: ModelRef): Promise<void> {
    let out = ref;
    if (ref.kind === 'local') {
        const entry = join(dirname(dirname(resolve(dir))), 'steps', 'entry');
        const outside: Record<string, string> = {};
        const rel = (p: string) => {
            if (!isAbsolute(p)) return p;
            const r = relative(entry, p);
            if (!r || isAbsolute(r)) return p; // another drive: only the absolute path can name it
            if (!r.startsWith(join('..', '..'))) return r; // inside the store's steps/
            outside[r] = p;
            return r;
        };
        out = { ...ref, path: rel(ref.path), lora: ref.lora.map(rel), ...(ref.taught ? { taught: rel(ref.taught) } : {}) };
        delete out.outside;
        if (Object.keys(outside).length) out.outside = outside;
    }
    await fs.writeFile(join(dir, 'model.json'), JSON.stringify(out, null, 1));
}

/** Reads an entry's model.json with its paths made absolute. */
export async function readModelRef(dir: string): Promise<ModelRef> {
    const ref = JSON.parse(await fs.readFile(join(dir, 'model.json'), 'utf8')) as ModelRef;
    if (ref.kind === 'local') {
        const abs = (p: string) => {
            if (isAbsolute(p)) return p;
            const here = join(dir, p);
            const then = ref.outside?.[p];
            return then && !existsSync(here) ? then : here;
        };
        const { outside: _outside, ...rest } = ref;
        return { ...rest, path: abs(ref.path), lora: ref.lora.map(abs), taught: ref.taught ? abs(ref.taught) : undefined };
    }
    return ref;
}

export async function readTaught(ref: ModelRef): Promise<Set<string> | undefined> {
    if (ref.kind !== 'local' || !ref.taught) return undefined;
    const t = JSON.parse(await fs.readFile(ref.taught, 'utf8')) as string[] | { taught: string[] };
    return new Set(Array.isArray(t) ? t : t.taught);
}

export class ModelPool {
    private locals = new Map<string, Promise<LocalGenerator>>();
    private servers = new Map<string, ServerGenerator>();
    /** Backends generated with since the last `resetUsage` (a step's provenance). */
    private used = new Map<string, { backend: string; gpu?: string; sequences?: number }>();
    /** `sequences`: parallel sequences of each local model; unset, the backend's default (8 on a GPU, 1 on the CPU: engine/models/sequences.ts). */
    constructor(readonly options: { threads: number; gpu: 'auto' | 'cuda' | 'vulkan' | 'metal' | false; sequences?: number }) {}

    resetUsage(): void {
        this.used.clear();
    }

    usage(): { backend: string; gpu?: string; sequences?: number }[] {
        return [...this.used.values()];
    }

    async generate(ref: ModelRef, items: GenerationItem[], decoding: Decoding, options: GenerateOptions): Promise<GenerationResult[]> {
        if (ref.kind === 'server') {
            // One client per set of servers and settings: its rate-limit windows and health last across steps.
            const k = JSON.stringify([serverUrls(ref), ref.name, ref.api, ref.logprobs, ref.apiKeyEnv, ref.concurrency, ref.timeoutMs, ref.rateLimit, ref.ratePer]);
            let g = this.servers.get(k);
            if (!g) {
                g = new ServerGenerator(ref);
                this.servers.set(k, g);
            }
            this.used.set(`server ${serverUrls(ref).join(', ')}`, { backend: 'server' });
            return g.generate(items, decoding, options);
        }
        let p = this.locals.get(ref.path);
        if (!p) {
            p = LocalGenerator.start({ modelPath: ref.path, gpu: this.options.gpu, threads: this.options.threads, sequences: this.options.sequences ?? 'auto', lora: ref.lora });
            this.locals.set(ref.path, p);
            p.catch(() => this.locals.delete(ref.path));
        }
        const g = await p;
        const backend = g.info?.gpu || 'cpu';
        const gpuName = g.info?.gpuDevices?.length ? g.info.gpuDevices.join(' + ') : undefined;
        this.used.set(`${backend} ${gpuName ?? ''}`, { backend, ...(gpuName && backend !== 'cpu' ? { gpu: gpuName } : {}), ...(g.info ? { sequences: g.info.sequences } : {}) });
        await g.setLora(ref.lora);
        return g.generate(items, decoding, options);
    }

    logprobs(ref: ModelRef): boolean {
        return ref.kind === 'local' ? true : ref.logprobs;
    }

    /** Base model paths with a running inference process. */
    loadedPaths(): string[] {
        return [...this.locals.keys()];
    }

    /** Closes the generator of one base model (when no later step needs it). */
    async release(path: string): Promise<void> {
        const p = this.locals.get(path);
        this.locals.delete(path);
        if (p) await (await p.catch(() => undefined))?.close();
    }

    async close(): Promise<void> {
        const all = [...this.locals.values()];
        this.locals.clear();
        await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
    }
}
