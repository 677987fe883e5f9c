/**
 * Batched generation: how many parallel sequences a local model gets, and how a step's answers are
 * cut into fixed groups so that batching never makes an answer depend on timing, on which answers a
 * resumed step already had, or on the order in which work arrived.
 *
 * What varies under batching (measured on node-llama-cpp 3.21.1's CPU backend, random and
 * pretrained models, bench/embedded/seqcheck.ts): a sequence's log-probabilities depend on the
 * shape of each decode batch (how many tokens it holds: 1 vs 8 tokens per batch differ by up to 1e-3
 * in a token's log-probability), not on which other questions fill it, nor on which sequence slot or
 * KV cells it gets (each sequence has its own KV stream, reset when its history is cleared). On a GPU
 * the matrix kernels themselves change with the batch's size. So the engine fixes every batch's
 * shape: the step's work (items × samples, ordered by question id) is cut into groups of N, and a
 * group's sequences are decoded in lockstep (one batch of prompts, then one token per unfinished
 * sequence per batch). Each batch then depends only on its group's questions.
 */

/** Parallel sequences on a GPU backend when the run does not say (see defaultSequences). */
export const GPU_SEQUENCES = 8;
/** Parallel sequences on the CPU when the run does not say (see defaultSequences). */
export const CPU_SEQUENCES = 1;

/**
 * The sequence count for a backend (node-llama-cpp's `llama.gpu`: 'cuda' | 'vulkan' | 'metal' | false)
 * when the run leaves it open. On a GPU one decode step of a small model is bound by reading the
 * weights, so 8 sequences cost little more per step than 1 (bench/gpu.sh prints the figure); on the
 * CPU the batch's matrix products cost in proportion to its tokens and lockstep groups wait for their
 * longest answer, so the engine keeps one (bench/generate/README.md has the measurement).
 */
export function defaultSequences(backend: string | false | undefined): number {
    return backend && backend !== 'cpu' ? GPU_SEQUENCES : CPU_SEQUENCES;
}

export interface WorkUnit<T extends { id: string }> {
    item: T;
    sample: number;
    /** Whether the caller wants this answer (false: it only fills its group, its answer is stored already). */
    report: boolean;
}

/**
 * The groups to decode: items × samples ordered by question id and sample (not by the order the
 * list came in), cut into consecutive groups of `size`; groups with nothing to report are skipped,
 * groups with anything to report are kept whole, so a resumed or reordered step decodes exactly the
 * batches an uninterrupted one would have.
 */
export function workGroups<T extends { id: string }>(items: readonly T[], samples: number, size: number, report?: readonly boolean[]): WorkUnit<T>[][] {
    if (!Number.isInteger(size) || size < 1) throw new Error(`the group size must be a positive integer (got ${size})`);
    if (report && report.length !== items.length) throw new Error(`${report.length} report flags for ${items.length} items`);
    const units: WorkUnit<T>[] = [];
    items.forEach((item, i) => {
        for (let s = 0; s < samples; s++) units.push({ item, sample: s, report: report ? report[i] : true });
    });
    // Code-unit order (not localeCompare: the same on every machine); a stable sort keeps repeated ids in list order.
    units.sort((a, b) => (a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : a.sample - b.sample));
    const groups: WorkUnit<T>[][] = [];
    for (let i = 0; i < units.length; i += size) {
        const g = units.slice(i, i + size);
        if (g.some((u) => u.report)) groups.push(g);
    }
    return groups;
}
