/**
 * Batched generation: how many parallel sequences a local model gets, and how a step's answers are
 * cut into fixed groups so that batching never makes an answer depend on timing, on which answers a
 * resumed step already had, or on the order in which work arrived.
 *
 * What varies under batching (measured on node-llama-cpp 3.21.1's CPU backend, random and
 * pretrained models, bench/embedded/seqcheck.ts, bench/generate/sequences.ts): a sequence's
 * log-probabilities depend on the shape of each decode batch (how many tokens it holds, which also
 * decides how llama.cpp splits it: a question decoded alone and in a batch of 8 differ by up to ~2e-3
 * in a token's log-probability), not on which questions of the same lengths fill it, nor on which
 * sequence slot or KV cells it gets (node-llama-cpp gives each sequence its own KV stream, reset when
 * its history is cleared). The engine's earlier free-running lanes took the next question whenever
 * one finished, so a batch's shape depended on timing and on which questions a resumed step still
 * had (a resumed run differed from an uninterrupted one in 20 of 35 answers' log-probabilities). On a
 * GPU the matrix kernels themselves change with the batch's size. So the engine fixes every batch's
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
 * when the run leaves it open. On a GPU a decode step of the models this lab runs (≤ 8B) is bound by
 * reading the weights, so 8 sequences cost little more per step than 1 while 8 answers advance;
 * beyond 8, a lockstep group waits longer for its longest answer and the KV cache grows (8 × the
 * context per model). bench/gpu.sh prints the measured speed-up for 1, 4 and 8.
 * On the CPU 4 and 8 sequences also measured faster (bench/generate/README.md: 1.7-2.1× less CPU
 * time per answer on 2 cores), but the CPU keeps 1: its answers stay exactly those of every run and
 * stored result made before batching was deterministic (batched ones differ by up to ~2e-3 in a
 * token's log-probability), and a question's answer never depends on which others share its
 * group. `mismatch run --sequences 8` takes the speed-up on the CPU.
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
