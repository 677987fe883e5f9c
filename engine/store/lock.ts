/**
 * The run store's lock (`<store>/lock`): one writer at a time. The file is created with O_EXCL and
 * names its holder (pid, host, start time, spec, purpose). A lock whose holder is a dead process on
 * this host is stale and is taken over; a lock held from another host is never assumed dead (its
 * pid means nothing here), nor is a lock file that cannot be read: the message names the file.
 *
 * Taking over a stale lock goes through a second O_EXCL file (`lock.takeover`), so two processes
 * that find the same stale lock cannot both remove it and both believe they hold the new one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface LockHolder {
    pid: number;
    host: string;
    startedAt: string;
    /** The spec being run (or the command, for `clean`). */
    spec: string;
    purpose: 'run' | 'clean';
    /** Random: tells our own lock from a later holder's when releasing. */
    token: string;
}

export class StoreLockedError extends Error {
    constructor(
        readonly storeDir: string,
        readonly holder: LockHolder | undefined,
    ) {
        const manual = !holder || holder.host !== hostname() ? `; if it is not running, remove ${join(storeDir, 'lock')}` : '';
        super(`the run store ${storeDir} is in use by ${describeHolder(holder)}${manual}`);
        this.name = 'StoreLockedError';
    }
}

export function describeHolder(h: LockHolder | undefined): string {
    if (!h) return 'another process (its lock file could not be read)';
    return `${h.purpose === 'clean' ? 'a clean' : 'a run'} of ${h.spec} (pid ${h.pid} on ${h.host}, since ${h.startedAt})`;
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        // EPERM: the process exists but belongs to someone else.
        return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
    try {
        const h = JSON.parse(await fs.readFile(path, 'utf8')) as LockHolder;
        if (typeof h?.pid !== 'number' || typeof h.host !== 'string') return undefined;
        return h;
    } catch {
        return undefined;
    }
}

/** True when the holder is provably gone: a pid on this host that no longer runs. */
function isStale(h: LockHolder | undefined): boolean {
    return !!h && h.host === hostname() && !isAlive(h.pid);
}

/** Locks held by this process, released on exit even when the process exits abruptly (a second Ctrl-C). */
const held = new Map<string, string>();
let exitHook = false;
function releaseAllSync(): void {
    for (const [path, token] of held) {
        try {
            const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
            if (h.token === token) unlinkSync(path);
        } catch {
            /* already gone */
        }
    }
    held.clear();
}

export class StoreLock {
    private constructor(
        readonly path: string,
        readonly holder: LockHolder,
    ) {}

    /**
     * Takes the lock. `wait: false` throws StoreLockedError when a live process holds it; otherwise
     * waits (told through `onWait` once, with the holder) until it is released, its holder dies, or
     * `signal` aborts (then an AbortError).
     */
    static async acquire(
        storeDir: string,
        info: { spec: string; purpose: 'run' | 'clean' },
        options: { wait?: boolean; signal?: AbortSignal; onWait?: (holder: LockHolder | undefined) => void } = {},
    ): Promise<StoreLock> {
        await fs.mkdir(storeDir, { recursive: true });
        const path = join(storeDir, 'lock');
        const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), spec: info.spec, purpose: info.purpose, token: randomBytes(8).toString('hex') };
        let told = false;
        for (;;) {
            if (await tryCreate(path, holder)) {
                held.set(path, holder.token);
                if (!exitHook) {
                    exitHook = true;
                    process.on('exit', releaseAllSync);
                }
                return new StoreLock(path, holder);
            }
            const current = await readHolder(path);
            if (current === undefined && !(await exists(path))) continue; // released meanwhile
            if (isStale(current) || (current === undefined && (await unreadableFor(path)) > 10_000)) {
                // A dead holder; or a lock nobody could read for 10 s (a holder fills it within
                // milliseconds), which would otherwise block the store for ever.
                if (!(await takeOver(path, current))) await waitForChange(storeDir, 100, options.signal); // another process is taking it over
                continue;
            }
            if (!options.wait) throw new StoreLockedError(storeDir, current);
            if (!told) {
                told = true;
                options.onWait?.(current);
            }
            await waitForChange(storeDir, 1000, options.signal);
        }
    }

    async release(): Promise<void> {
        held.delete(this.path);
        const h = await readHolder(this.path);
        if (h?.token === this.holder.token) await fs.rm(this.path, { force: true });
    }
}

/** How long (ms) the lock file has existed unchanged, 0 when it is gone. */
async function unreadableFor(p: string): Promise<number> {
    try {
        return Date.now() - (await fs.stat(p)).mtimeMs;
    } catch {
        return 0;
    }
}

async function exists(p: string): Promise<boolean> {
    try {
        await fs.lstat(p);
        return true;
    } catch {
        return false;
    }
}

async function tryCreate(path: string, holder: LockHolder): Promise<boolean> {
    // Written to a private file first, then hard-linked into place: the lock never exists half-written.
    const tmp = `${path}.${holder.pid}.${holder.token}`;
    await fs.writeFile(tmp, JSON.stringify(holder));
    try {
        await fs.link(tmp, path);
        return true;
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        // A filesystem without hard links: O_EXCL create (a reader may briefly see it empty, and waits).
        try {
            await fs.writeFile(path, JSON.stringify(holder), { flag: 'wx' });
            return true;
        } catch (e2) {
            if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
            throw e2;
        }
    } finally {
        await fs.rm(tmp, { force: true });
    }
}

/** Removes a stale lock, under `lock.takeover` so that only one process removes it. */
async function takeOver(path: string, stale: LockHolder | undefined): Promise<boolean> {
    const guard = `${path}.takeover`;
    const me: LockHolder = { spec: 'taking over a stale lock', purpose: 'run', pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
    if (!(await tryCreate(guard, me))) {
        const g = await readHolder(guard);
        if (isStale(g) || (g === undefined && (await unreadableFor(guard)) > 10_000)) {
            await fs.rm(guard, { force: true }); // a taker that died mid-takeover
            return true;
        }
        return false; // someone else is taking over: look again
    }
    try {
        const now = await readHolder(path);
        if (stale ? now?.token === stale.token : now === undefined) await fs.rm(path, { force: true });
        return true;
    } finally {
        await fs.rm(guard, { force: true });
    }
}

/** Resolves when something in the store directory changes, or after `ms` (a holder may die without any file event). */
function waitForChange(dir: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolvePromise, reject) => {
        let watcher: FSWatcher | undefined;
        const done = () => {
            clearTimeout(timer);
            watcher?.close();
            signal?.removeEventListener('abort', onAbort);
        };
        const onAbort = () => {
            done();
            const e = new Error('cancelled');
            e.name = 'AbortError';
            reject(e);
        };
        const timer = setTimeout(() => {
            done();
            resolvePromise();
        }, ms);
        try {
            watcher = watch(dir, () => {
                done();
                resolvePromise();
            });
            watcher.on('error', () => {});
        } catch {
            /* no watcher: the timer alone */
        }
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
    });
}
