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
 *   filehashes.json               content hashes, cached by path + device + inode + size + mtime + ctime
 *   .mismatch-store               the marker: only a directory holding it is a store (`clean` and
 *                                 runs refuse any other non-empty directory)
 *   lock                          held by the run or clean writing the store (see lock.ts)
 *
 * Entries are checked when read (`verify`): the manifest must parse and name its key, and every
 * file's sha256 must match the manifest's; a damaged entry is reported and recomputed. Paths inside
 * an entry (model.json) are relative to the entry, so a copied or moved store reads its own files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, promises as fs, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Provenance, StepResult } from '../results-types.js';
import { StoreLock, type LockHolder } from './lock.js';

export { StoreLock, StoreLockedError, describeHolder, type LockHolder } from './lock.js';

/** The marker file that makes a directory a run store. */
export const STORE_MARKER = '.mismatch-store';
/** What a store directory may hold besides the marker (a directory holding only these is a store made before the marker existed). */
const STORE_NAMES = new Set(['steps', 'tmp', 'checkpoints', 'latest', 'filehashes.json', 'lock', 'lock.takeover', STORE_MARKER]);
const KEY_RE = /^[0-9a-f]{64}$/;
/** tmp/ names: `<key>.<pid>.<n>.<hex>` (a step being written) and `<key>.damaged.<pid>.<hex>` (an entry being discarded). */
const TMP_RE = /^[0-9a-f]{64}\.(\d+\.\d+|damaged\.\d+)\.[0-9a-f]{6}$/;

/** Where a result was computed (defined with the results it describes). */
export type { Provenance } from '../results-types.js';

/**
 * Bumped when the layout or the meaning of outputs changes: every key changes with it.
 * 2: fine-tunes train on the prompt builder's text (chat template included, no trailing space),
 * answers carry the `empty` outcome, SliCK follows Gekhman et al.'s prompts: results of format 1
 * would be reused under unchanged step parameters otherwise.
 */
export const ENGINE_FORMAT_VERSION = 2;

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
    /** sha256 of result.json (entries written before this field have none). */
    resultChecksum?: string;
    provenance?: Provenance;
}

/** Keys of the file-hash cache entry: a stat that matches all of them proves the content unchanged (see fileHash). */
interface FileStamp {
    dev: string;
    ino: string;
    size: string;
    mtimeNs: string;
    ctimeNs: string;
    hash: string;
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
    private fileHashes: Record<string, FileStamp> | undefined;
    /** Keys verified in this process's lifetime of this Store object (a run hashes each entry once). */
    private verified = new Set<string>();

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

    /**
     * Checks an entry before its outputs are used: returns what is wrong with it, or undefined when
     * it is whole. With `outputs: false` only the manifest and result.json are checked (cheap: for
     * showing results); otherwise every output's sha256 too (streamed; once per key per Store).
     */
    async verify(key: string, options: { outputs?: boolean } = {}): Promise<string | undefined> {
        const full = options.outputs !== false;
        if (full && this.verified.has(key)) return undefined;
        const dir = this.entryDir(key);
        let m: Manifest;
        try {
            m = JSON.parse(await fs.readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
        } catch (e) {
            return `manifest.json ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : 'is not valid JSON'}`;
        }
        if (!m || typeof m !== 'object' || Array.isArray(m)) return 'manifest.json is not an object';
        if (m.key !== key) return `manifest.json names key ${String(m.key).slice(0, 12)}…, not this entry's`;
        if (!m.checksums || typeof m.checksums !== 'object' || Object.values(m.checksums).some((v) => typeof v !== 'string')) return 'manifest.json has no checksums';
        let resultText: Buffer;
        try {
            resultText = await fs.readFile(join(dir, 'result.json'));
        } catch {
            return 'result.json is missing';
        }
        if (m.resultChecksum !== undefined && sha256(resultText) !== m.resultChecksum) return 'result.json does not match its checksum';
        try {
            const r = JSON.parse(resultText.toString('utf8')) as StepResult;
            if (!r || typeof r !== 'object' || typeof r.status !== 'string') return 'result.json is not a step result';
            for (const o of r.outputs ?? []) if (!(o in m.checksums)) return `${o} has no checksum in manifest.json`;
        } catch {
            return 'result.json is not valid JSON';
        }
        if (!full) return undefined;
        for (const [name, want] of Object.entries(m.checksums)) {
            const p = join(dir, name);
            if (name.includes('/') || name.includes('\\') || name === '..') return `manifest.json lists an odd file name ${JSON.stringify(name)}`;
            let st;
            try {
                st = await fs.lstat(p);
            } catch {
                return `${name} is missing`;
            }
            if (!st.isFile()) return `${name} is not a regular file`;
            if ((await hashFile(p)) !== want) return `${name} does not match its checksum (changed or truncated)`;
        }
        this.verified.add(key);
        return undefined;
    }

    /** Removes a damaged entry (moved into tmp/ first, so a reader never sees half of it). */
    async discard(key: string): Promise<void> {
        this.verified.delete(key);
        const dir = this.entryDir(key);
        const aside = join(this.dir, 'tmp', `${key}.damaged.${process.pid}.${randomBytes(3).toString('hex')}`);
        await fs.mkdir(join(this.dir, 'tmp'), { recursive: true });
        try {
            await fs.rename(dir, aside);
        } catch {
            return;
        }
        await fs.rm(aside, { recursive: true, force: true });
    }

    /** True when the directory holds the store marker. */
    isStore(): boolean {
        return existsSync(join(this.dir, STORE_MARKER));
    }

    /**
     * Makes sure the directory is a store before writing to it: creates it (with the marker) when it
     * does not exist or is empty, and marks a store made before the marker existed (it holds only
     * store names). Any other directory is refused: a run never writes into someone else's folder.
     */
    async ensure(): Promise<void> {
        if (this.isStore()) return;
        await fs.mkdir(this.dir, { recursive: true });
        const names = await fs.readdir(this.dir);
        const foreign = names.filter((n) => !STORE_NAMES.has(n) && !/^(lock|filehashes\.json)\./.test(n));
        if (foreign.length)
            throw new Error(
                `${this.dir} is not a run store (no ${STORE_MARKER} marker) and holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); choose another --store directory`,
            );
        await fs.writeFile(join(this.dir, STORE_MARKER), JSON.stringify({ store: 'mismatch-lab run store', formatVersion: ENGINE_FORMAT_VERSION, created: new Date().toISOString() }) + '\n');
    }

    /** Takes the store's lock (see lock.ts); marks the directory as a store first. */
    async lock(info: { spec: string; purpose: 'run' | 'clean' }, options: { wait?: boolean; signal?: AbortSignal; onWait?: (holder: LockHolder | undefined) => void } = {}): Promise<StoreLock> {
        await this.ensure();
        return StoreLock.acquire(this.dir, info, options);
    }

    /** A fresh temp directory for a step; `commit` moves it into place. */
    async begin(key: string): Promise<string> {
        const tmp = join(this.dir, 'tmp', `${key}.${process.pid}.${++tmpCounter}.${randomBytes(3).toString('hex')}`);
        await fs.mkdir(tmp, { recursive: true });
        await fs.mkdir(this.checkpointDir(key), { recursive: true });
        return tmp;
    }

    /** Writes result + manifest (with checksums of the outputs) into `tmp`, then renames it into place. */
    async commit(tmp: string, result: StepResult, manifest: Omit<Manifest, 'checksums' | 'formatVersion' | 'resultChecksum'>): Promise<StepResult> {
        const names = (await fs.readdir(tmp)).filter((n) => n !== 'manifest.json' && n !== 'result.json').sort();
        const checksums: Record<string, string> = {};
        for (const n of names) checksums[n] = await hashFile(join(tmp, n));
        const stored: StepResult = { ...result, outputs: names };
        delete stored.dir;
        const resultText = JSON.stringify(stored, null, 1);
        await fs.writeFile(join(tmp, 'result.json'), resultText);
        // The manifest is written last: its presence marks a complete entry.
        await fs.writeFile(join(tmp, 'manifest.json'), JSON.stringify({ formatVersion: ENGINE_FORMAT_VERSION, ...manifest, checksums, resultChecksum: sha256(resultText) }, null, 1));
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
        this.verified.add(manifest.key);
        return { ...stored, dir: target };
    }

    /**
     * Content hash of a file. The cached hash is reused only when device, inode, size, mtime and
     * ctime (nanoseconds) all match what they were when it was hashed. That is safe because ctime
     * cannot be set by a user: the kernel sets it to the current time on every write, truncate,
     * rename-over or `utimes` (the call that forges an mtime itself moves ctime), so any change to
     * the content moves ctime, and replacing the file moves the inode. The one gap is a file
     * changed twice within one ctime tick of a coarse-clock filesystem, the second change after it
     * was hashed: so a hash taken less than 2 s after the file's ctime is not cached (it is
     * recomputed next time, as git does with "racily clean" entries).
     */
    async fileHash(path: string): Promise<string> {
        const abs = resolve(path);
        const st = statSync(abs, { bigint: true });
        if (!this.fileHashes) {
            try {
                this.fileHashes = JSON.parse(readFileSync(join(this.dir, 'filehashes.json'), 'utf8'));
                if (!this.fileHashes || typeof this.fileHashes !== 'object') this.fileHashes = {};
            } catch {
                this.fileHashes = {};
            }
        }
        const stamp = { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
        const c = this.fileHashes![abs];
        if (c && c.dev === stamp.dev && c.ino === stamp.ino && c.size === stamp.size && c.mtimeNs === stamp.mtimeNs && c.ctimeNs === stamp.ctimeNs && typeof c.hash === 'string') return c.hash;
        const hashedAtNs = BigInt(Date.now()) * 1_000_000n;
        const hash = await hashFile(abs);
        if (hashedAtNs - st.ctimeNs < 2_000_000_000n) {
            delete this.fileHashes![abs];
            return hash;
        }
        this.fileHashes![abs] = { ...stamp, hash };
        if (!this.isStore()) return hash; // a cache only: never create a store (or write into a non-store) to keep it
        const tmp = join(this.dir, `filehashes.json.${process.pid}.${randomBytes(3).toString('hex')}.tmp`);
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
     * Only a directory holding the store marker is cleaned, only under the store's lock (never while
     * a run is writing), only names the store itself makes (`steps/<key>` whose manifest records
     * that key, `tmp/<key>.…`, `checkpoints/<key>`), and never through a symlink: a symlinked
     * steps/, tmp/ or checkpoints/ (or an entry that is a link) is skipped and reported.
     * `everything` (with an empty `keep`) also removes the emptied folders, `latest/` and the file-hash cache.
     * Returns the paths removed (or, with `dryRun`, that would be), the bytes, and what was skipped.
     */
    async clean(keep: Set<string>, options: { dryRun?: boolean; spec?: string; everything?: boolean } = {}): Promise<{ removed: string[]; bytes: number; skipped: string[] }> {
        if (!this.isStore()) throw new NotAStoreError(this.dir);
        const lock = await StoreLock.acquire(this.dir, { spec: options.spec ?? 'mismatch clean', purpose: 'clean' }, { wait: false });
        try {
            const removed: string[] = [];
            const skipped: string[] = [];
            let bytes = 0;
            const rm = async (p: string, label: string) => {
                bytes += await du(p);
                removed.push(label);
                if (!options.dryRun) await fs.rm(p, { recursive: true, force: true });
            };
            /** The real directories in `sub` (a symlinked `sub` itself yields nothing). */
            const entries = async (sub: string): Promise<string[]> => {
                const root = join(this.dir, sub);
                let st;
                try {
                    st = await fs.lstat(root);
                } catch {
                    return [];
                }
                if (st.isSymbolicLink()) {
                    skipped.push(`${sub}/ is a symbolic link (not followed)`);
                    return [];
                }
                if (!st.isDirectory()) return [];
                const out: string[] = [];
                for (const e of await fs.readdir(root, { withFileTypes: true })) {
                    if (e.isDirectory()) out.push(e.name);
                    else skipped.push(`${sub}/${e.name} (${e.isSymbolicLink() ? 'a symbolic link, not followed' : 'not an entry'})`);
                }
                return out;
            };
            for (const k of await entries('steps')) {
                if (keep.has(k)) continue;
                if (!KEY_RE.test(k)) {
                    skipped.push(`steps/${k} (not a store key)`);
                    continue;
                }
                const m = await this.readManifest(k);
                if (m && m.key !== k) {
                    skipped.push(`steps/${k} (its manifest records another key)`);
                    continue;
                }
                await rm(join(this.dir, 'steps', k), `steps/${k}`);
            }
            for (const t of await entries('tmp')) {
                if (TMP_RE.test(t)) await rm(join(this.dir, 'tmp', t), `tmp/${t}`);
                else skipped.push(`tmp/${t} (not a store temp name)`);
            }
            for (const k of await entries('checkpoints')) {
                if (keep.has(k)) continue;
                if (KEY_RE.test(k)) await rm(join(this.dir, 'checkpoints', k), `checkpoints/${k}`);
                else skipped.push(`checkpoints/${k} (not a store key)`);
            }
            if (options.everything && !options.dryRun) {
                // Emptied: the store's own folders go too (real, empty directories only), with the
                // latest pointers and the file-hash cache; the marker stays, so it is still a store.
                for (const sub of ['steps', 'tmp', 'checkpoints']) {
                    const p = join(this.dir, sub);
                    const st = await fs.lstat(p).catch(() => undefined);
                    if (st?.isDirectory()) await fs.rmdir(p).catch(() => {});
                }
                const latest = join(this.dir, 'latest');
                const st = await fs.lstat(latest).catch(() => undefined);
                if (st?.isDirectory()) {
                    for (const d of await fs.readdir(latest, { withFileTypes: true })) {
                        if (!d.isDirectory() || !/^[0-9a-f]{16}$/.test(d.name)) continue;
                        for (const f of await fs.readdir(join(latest, d.name), { withFileTypes: true })) if (f.isFile() && f.name.endsWith('.json')) await fs.rm(join(latest, d.name, f.name));
                        await fs.rmdir(join(latest, d.name)).catch(() => {});
                    }
                    await fs.rmdir(latest).catch(() => {});
                }
                await fs.rm(join(this.dir, 'filehashes.json'), { force: true });
                this.fileHashes = undefined;
            }
            return { removed, bytes, skipped };
        } finally {
            await lock.release();
        }
    }
}

export class NotAStoreError extends Error {
    constructor(readonly dir: string) {
        // A store made before the marker existed holds only store names: its next run marks it.
        let legacy = false;
        try {
            const names = readdirSync(dir);
            legacy = names.every((n) => STORE_NAMES.has(n)) && readdirSync(join(dir, 'steps')).some((k) => KEY_RE.test(k) && existsSync(join(dir, 'steps', k, 'manifest.json')));
        } catch {
            /* missing: not a store */
        }
        super(
            `${dir} is not a run store (it has no ${STORE_MARKER} marker)${legacy ? '; it looks like a store made by an older version: run a spec with it once to mark it' : ''}; nothing was removed`,
        );
        this.name = 'NotAStoreError';
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
    constructor(
        readonly path: string,
        readonly every = 16,
    ) {}

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
