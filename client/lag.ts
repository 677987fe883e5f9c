// Measures how long the extension host's event loop is blocked during a run: a 10 ms timer whose
// lateness is the length of the task that held the loop. (perf_hooks' monitorEventLoopDelay gives
// the same histogram, but only at its own resolution and without the samples we report.)
export interface LagStats {
    /** Longest observed block, in ms. */
    maxMs: number;
    p99Ms: number;
    samples: number;
    /** Samples over 50 ms (the budget: "no extension-host task over 50 ms during a run"). */
    over50: number;
}

export class LagMonitor {
    private timer: NodeJS.Timeout | undefined;
    private last = 0;
    private readonly lags: number[] = [];
    private readonly interval = 10;

    start(): void {
        this.last = performance.now();
        this.timer = setInterval(() => {
            const now = performance.now();
            this.lags.push(Math.max(0, now - this.last - this.interval));
            this.last = now;
        }, this.interval);
        this.timer.unref?.();
    }

    stop(): void {
        clearInterval(this.timer);
        this.timer = undefined;
    }

    stats(): LagStats {
        const sorted = [...this.lags].sort((a, b) => a - b);
        const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0);
        return { maxMs: sorted.length ? sorted[sorted.length - 1]! : 0, p99Ms: at(0.99), samples: sorted.length, over50: sorted.filter((x) => x > 50).length };
    }
}
