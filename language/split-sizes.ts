/**
 * How many records each split of a dataset takes: one function for `mismatch check` (the static
 * check that the splits fit the file) and for the engine (the actual cut), so that both agree.
 * Counts are taken as written; shares are of the whole dataset and rounded, and when the shares add
 * up to 100% the last split takes the rounding remainder (50% + 50% of 89 records is 45 + 44).
 */
export interface SplitShape {
    /** Share in (0, 1], or undefined when `count` is given. */
    share?: number;
    count?: number;
}

export function splitSizes(splits: readonly SplitShape[], records: number): number[] {
    const sizes = splits.map((s) => (s.count !== undefined ? s.count : Math.round((s.share ?? 0) * records)));
    const shareSum = splits.reduce((sum, s) => sum + (s.share ?? 0), 0);
    if (sizes.length > 0 && Math.abs(shareSum - 1) < 1e-9 && splits.every((s) => s.count === undefined)) {
        const total = sizes.reduce((a, b) => a + b, 0);
        sizes[sizes.length - 1] += records - total;
    }
    return sizes;
}
