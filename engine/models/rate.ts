/**
 * Throughput and time left of a long generation, for progress messages: answers per second since
 * the step (re)started, counted over every backend at once (all the servers of a model), and the
 * time the rest will take at that rate. Answers found in a checkpoint count toward `done`, not the rate.
 */
export class RateMeter {
    private readonly t0: number;

    constructor(
        private readonly doneAtStart: number,
        private readonly now: () => number = Date.now,
    ) {
        this.t0 = now();
    }

    /** E.g. "12.5/s · ETA 3m 20s"; undefined until 2 answers and 1 s have gone by. */
    note(done: number, total: number): string | undefined {
        const n = done - this.doneAtStart;
        const seconds = (this.now() - this.t0) / 1000;
        if (n < 2 || seconds < 1) return undefined;
        const rate = n / seconds;
        const left = Math.max(0, total - done) / rate;
        return `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s · ETA ${duration(left)}`;
    }
}

/** 45 s, 3m 20s, 2h 05m. */
export function duration(seconds: number): string {
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
