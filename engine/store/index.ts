/**
 * The content-addressed run store (`.mismatch/`):
 *
 *   steps/<key>/manifest.json     key, step, inputs, files, status, timings, versions, checksums
 *   steps/<key>/result.json       the StepResult (metrics)
 *   steps/<key>/<outputs>         answers.jsonl, labels.jsonl, adapter.gguf, loss.csv, …
 *   tmp/<key>.<pid>.<n>/          a step being written; renamed into steps/ when complete, so a
 *                                 crash never leaves a half step that looks done
 *   checkpoints/<key>/            in-step checkpoints (generation every N questions, training
 *                                 every epoch), kept across kills, removed once the step commits
 *   latest/<spec-hash>/<step>[@<seed>].json   the key last computed for a step of a spec (for
 *                                 stale results in the editor and for `clean`)
 *   filehashes.json               content hashes cached by path + mtime + size
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, promises as fs, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StepResult } from '../results-types.js';

/** Bumped when the layout or the meaning of outputs changes: every key changes with it. */
export const ENGINE_FORMAT_VERSION = 1;

export interface Manifest {
    formatVersion: number;
    key: string;
    step: string;
    kind: string;
    seedIndex?: number;
    experiment: string;
    spec: string;
    inputs: Record<string, string>;
    files: Record<string, string>;
    status: 'done';
    startedAt: string;
    finishedAt: string;
    seconds: number;
    versions: Record<string, string>;
    /** sha256 of every output file in the entry. */
    checksums: Record<string, string>;
}

export function sha256(s: string | Buffer): string {
    return createHash('sha256').update(s).digest('hex');
}

export async function hashFile(path: string): Promise<string> {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
    return h.digest('hex');
}

let tmpCounter = 0;

export class Store {
    readonly dir: string;
    private fileHashes: Record<string, { mtimeMs: number; size: number; hash: string }> | undefined;

    constructor(dir: string) {
        this.dir = resolve(dir);
    }

    entryDir(key: string): string {
        return join(this.dir, 'steps', key);
    }

    checkpointDir(key: string): string {
        return join(this.dir, 'checkpoints', key);
    }

    has(key: string): boolean {
        return existsSync(join(this.entryDir(key), 'manifest.json'));
    }

    async readResult(key: string): Promise<StepResult | undefined> {
        try {
            const r = JSON.parse(await fs.readFile(join(this.entryDir(key), 'result.json'), 'utf8')) as StepResult;
            return { ...r, dir: this.entryDir(key) };
        } catch {
            return undefined;
        }
    }

    async readManifest(key: string): Promise<Manifest | undefined> {
        try {
            return JSON.parse(await fs.readFile(join(this.entryDir(key), 'manifest.json'), 'utf8')) as Manifest;
        } catch {
            return undefined;
        }
    }

    /** A fresh temp directory for a step; `commit` moves it into place. */
    async begin(key: string): Promise<string> {
        const tmp = join(this.dir, 'tmp', `${key}.${process.pid}.${++tmpCounter}.${randomBytes(3).toString('hex')}`);
        await fs.mkdir(tmp, { recursive: true });
        await fs.mkdir(this.checkpointDir(key), { recursive: true });
        return tmp;
    }

    /** Writes result + manifest (with checksums of the outputs) into `tmp`, then renames it into place. */
    async commit(tmp: string, result: StepResult, manifest: Omit<Manifest, 'checksums' | 'formatVersion'>): Promise<StepResult> {
        const names = (await fs.readdir(tmp)).filter((n) => n !== 'manifest.json' && n !== 'result.json').sort();
        const checksums: Record<string, string> = {};
        for (const n of names) checksums[n] = await hashFile(join(tmp, n));
        const stored: StepResult = { ...result, outputs: names };
        delete stored.dir;
        await fs.writeFile(join(tmp, 'result.json'), JSON.stringify(stored, null, 1));
        // The manifest is written last: its presence marks a complete entry.
        await fs.writeFile(join(tmp, 'manifest.json'), JSON.stringify({ formatVersion: ENGINE_FORMAT_VERSION, ...manifest, checksums }, null, 1));
        const target = this.entryDir(manifest.key);
        await fs.mkdir(join(this.dir, 'steps'), { recursive: true });
        try {
            await fs.rename(tmp, target);
        } catch (e) {
            // Another run committed the same key first (same content by construction): keep theirs.
            if (!this.has(manifest.key)) throw e;
            await fs.rm(tmp, { recursive: true, force: true });
        }
        await fs.rm(this.checkpointDir(manifest.key), { recursive: true, force: true });
        return { ...stored, dir: target };
    }

    /** Content hash of a file, cached by absolute path + mtime + size. */
    async fileHash(path: string): Promise<string> {
        const abs = resolve(path);
        const st = statSync(abs);
        if (!this.fileHashes) {
            try {
                this.fileHashes = JSON.parse(readFileSync(join(this.dir, 'filehashes.json'), 'utf8'));
            } catch {
                this.fileHashes = {};
            }
        }
        const c = this.fileHashes![abs];
        if (c && c.mtimeMs === st.mtimeMs && c.size === st.size) return c.hash;
        const hash = await hashFile(abs);
        this.fileHashes![abs] = { mtimeMs: st.mtimeMs, size: st.size, hash };
        await fs.mkdir(this.dir, { recursive: true });
        const tmp = join(this.dir, `filehashes.json.${process.pid}.tmp`);
        await fs.writeFile(tmp, JSON.stringify(this.fileHashes));
        await fs.rename(tmp, join(this.dir, 'filehashes.json'));
        return hash;
    }

    private latestPath(spec: string, step: string, seedIndex?: number): string {
        return join(this.dir, 'latest', sha256(resolve(spec)).slice(0, 16), `${encodeURIComponent(step)}${seedIndex === undefined ? '' : `@${seedIndex}`}.json`);
    }

    async setLatest(spec: string, step: string, seedIndex: number | undefined, key: string): Promise<void> {
        const p = this.latestPath(spec, step, seedIndex);
        await fs.mkdir(join(p, '..'), { recursive: true });
        const tmp = `${p}.${process.pid}.tmp`;
        await fs.writeFile(tmp, JSON.stringify({ spec: resolve(spec), step, seedIndex, key, time: new Date().toISOString() }));
        await fs.rename(tmp, p);
    }

    async getLatest(spec: string, step: string, seedIndex?: number): Promise<string | undefined> {
        try {
            return (JSON.parse(await fs.readFile(this.latestPath(spec, step, seedIndex), 'utf8')) as { key: string }).key;
        } catch {
            return undefined;
        }
    }

    /** Every key a `latest` pointer refers to (any spec). */
    async latestKeys(): Promise<Set<string>> {
        const out = new Set<string>();
        const root = join(this.dir, 'latest');
        if (!existsSync(root)) return out;
        for (const d of await fs.readdir(root)) {
            for (const f of await fs.readdir(join(root, d))) {
                try {
                    out.add((JSON.parse(await fs.readFile(join(root, d, f), 'utf8')) as { key: string }).key);
                } catch {
                    /* a torn pointer is simply not a reference */
                }
            }
        }
        return out;
    }

    async keys(): Promise<string[]> {
        const root = join(this.dir, 'steps');
        if (!existsSync(root)) return [];
        return (await fs.readdir(root)).filter((k) => this.has(k));
    }

    /**
     * Removes entries not in `keep`, abandoned temp dirs and checkpoints of entries not in `keep`.
     * Returns what it removed and the bytes freed.
     */
    async clean(keep: Set<string>, options: { dryRun?: boolean } = {}): Promise<{ removed: string[]; bytes: number }> {
        const removed: string[] = [];
        let bytes = 0;
        const rm = async (p: string, label: string) => {
            bytes += await du(p);
            removed.push(label);
            if (!options.dryRun) await fs.rm(p, { recursive: true, force: true });
        };
        const stepsRoot = join(this.dir, 'steps');
        if (existsSync(stepsRoot)) for (const k of await fs.readdir(stepsRoot)) if (!keep.has(k)) await rm(join(stepsRoot, k), `steps/${k}`);
        const tmpRoot = join(this.dir, 'tmp');
        if (existsSync(tmpRoot)) for (const t of await fs.readdir(tmpRoot)) await rm(join(tmpRoot, t), `tmp/${t}`);
        const ckRoot = join(this.dir, 'checkpoints');
        if (existsSync(ckRoot)) for (const k of await fs.readdir(ckRoot)) if (!keep.has(k)) await rm(join(ckRoot, k), `checkpoints/${k}`);
        return { removed, bytes };
    }
}

async function du(p: string): Promise<number> {
    const st = await fs.lstat(p);
    if (!st.isDirectory()) return st.size;
    let n = 0;
    for (const e of await fs.readdir(p)) n += await du(join(p, e));
    return n;
}

export function openStore(dir: string): Store {
    return new Store(dir);
}

// ---------------------------------------------------------------------------------------------
// JSONL helpers for outputs and checkpoints

export async function writeJsonl(path: string, rows: unknown[]): Promise<void> {
    await fs.writeFile(path, rows.map((r) => JSON.stringify(r) + '\n').join(''));
}

export async function readJsonlFile<T>(path: string): Promise<T[]> {
    const text = await fs.readFile(path, 'utf8');
    return text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as T);
}

/**
 * An append-only checkpoint of per-item results (e.g. generated answers): rows are appended as
 * they complete and fsynced every `every` rows; a torn last line after a kill is ignored.
 */
export class JsonlCheckpoint<T extends { id: string }> {
    private pending: string[] = [];
    readonly done = new Map<string, T>();
    constructor(readonly path: string, readonly every = 16) {}

    async load(): Promise<Map<string, T>> {
        if (!existsSync(this.path)) return this.done;
        const text = await fs.readFile(this.path, 'utf8');
        for (const line of text.split('\n')) {
            if (!line.trim()) continue;
            try {
                const row = JSON.parse(line) as T;
                this.done.set(row.id, row);
            } catch {
                /* torn line from a kill: that item is recomputed */
            }
        }
        // Rewrite without the torn line so appends start clean.
        await fs.writeFile(this.path, [...this.done.values()].map((r) => JSON.stringify(r) + '\n').join(''));
        return this.done;
    }

    async add(row: T): Promise<void> {
        this.done.set(row.id, row);
        this.pending.push(JSON.stringify(row) + '\n');
        if (this.pending.length >= this.every) await this.flush();
    }

    async flush(): Promise<void> {
        if (!this.pending.length) return;
        const text = this.pending.join('');
        this.pending = [];
        const fh = await fs.open(this.path, 'a');
        try {
            await fh.appendFile(text);
            await fh.sync();
        } finally {
            await fh.close();
        }
    }
}
