/**
 * `mismatch clean [files...] [--store DIR] [--dry-run]`: removes run-store entries no spec refers
 * to. With spec files: keeps exactly what those specs reference now (their current keys). Without:
 * keeps every entry that is the latest result of a step of any spec that ran in this store.
 * Abandoned temp directories always go; checkpoints of entries not kept go too.
 *
 * Only a run store (a directory with the store marker) is cleaned, never while a run holds its lock,
 * only entries by their keys, never through symbolic links (see Store.clean). `--dry-run` lists
 * every path it would remove. Exit codes: 0 done, 1 an error (not a store, in use, spec errors).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { openStore, planKeys } from '../engine/run.js';
import { NotAStoreError, StoreLockedError } from '../engine/store/index.js';
import { defaultStore, EXIT, loadPlanOrReport } from './run.js';

export async function cleanCommand(
    files: string[],
    opts: { store?: string; dryRun?: boolean },
    io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream } = { out: process.stdout, err: process.stderr },
): Promise<number> {
    const storeDir = opts.store ? resolve(opts.store) : files.length ? defaultStore(files[0]) : resolve('.mismatch');
    const store = openStore(storeDir);
    if (!store.isStore()) {
        io.err.write(`mismatch clean: ${new NotAStoreError(storeDir).message}\n`);
        return EXIT.error;
    }
    let keep: Set<string>;
    if (files.length) {
        keep = new Set();
        for (const f of files) {
            const plan = await loadPlanOrReport(f, (s) => io.err.write(s + '\n'));
            if (!plan) {
                io.err.write(`mismatch clean: ${f} has errors; nothing was removed\n`);
                return EXIT.error;
            }
            for (const k of await planKeys(plan, storeDir)) keep.add(k);
        }
    } else keep = await store.latestKeys();
    let result: Awaited<ReturnType<typeof store.clean>>;
    try {
        result = await store.clean(keep, { dryRun: opts.dryRun, spec: `mismatch clean${files.length ? ' ' + files.join(' ') : ''}` });
    } catch (e) {
        if (e instanceof StoreLockedError || e instanceof NotAStoreError) {
            io.err.write(`mismatch clean: ${e.message}${e instanceof StoreLockedError ? '; nothing was removed' : ''}\n`);
            return EXIT.error;
        }
        throw e;
    }
    const { removed, bytes, skipped } = result;
    if (opts.dryRun) for (const p of removed) io.out.write(`would remove ${p}\n`);
    for (const s of skipped) io.err.write(`mismatch clean: skipped ${s}\n`);
    const mb = (bytes / 1048576).toFixed(1);
    io.out.write(`${opts.dryRun ? 'would remove' : 'removed'} ${removed.length} entr${removed.length === 1 ? 'y' : 'ies'} (${mb} MB) from ${storeDir}; kept ${keep.size}\n`);
    return EXIT.ok;
}

export function registerClean(program: Command): void {
    program
        .command('clean')
        .description('remove run-store entries that no spec refers to')
        .argument('[files...]', 'specs whose current results to keep (default: the latest results of every spec)')
        .option('--store <dir>', 'run store directory')
        .option('--dry-run', 'list what would be removed, remove nothing')
        .action(async (files: string[], opts: { store?: string; dryRun?: boolean }) => {
            process.exitCode = await cleanCommand(files, opts);
        });
}
