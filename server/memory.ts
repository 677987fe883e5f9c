/**
 * The server's heap between collections. Every edit rebuilds the document (a 2,000-line spec
 * allocates several MB of AST and CST per build) while what stays alive is ~30 MB; V8 lets the old
 * generation grow to up to 4× the live heap before its next full collection, so the resident memory
 * swung between ~105 and 220+ MB after edits (bench/lsp/heap.ts: heap used after a full GC stays at
 * 31 MB from the first edit to the sixtieth, so nothing is retained: it is collection slack). A heap
 * growing factor of 1.5 keeps it near 125 MB at the same CPU per edit (bench/lsp/rss.ts);
 * --optimize-for-size did as well on memory but cost 2.5× the CPU per edit.
 */
import { setFlagsFromString } from 'node:v8';

/** The factor (1 + percent/100) by which V8 lets the old generation grow over its live size. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Sets V8's heap growing factor for this process. The flag is read at each full collection, so
 * setting it at start-up takes effect without a command-line flag (the server is started by VS Code,
 * the tests and the benchmarks alike); an explicit `--heap-growing-percent` on the command line wins.
 */
export function limitHeapGrowth(): void {
    if (process.execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return;
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
