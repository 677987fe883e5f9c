// Measures how long the extension host's event loop is held by a single task during a run. A 10 ms
// timer ticks; between two ticks, the event loop's *active* time (perf_hooks' event-loop
// utilization) is at least the longest task that ran in between, since a timer cannot fire in the
// middle of a task. Timer lateness alone would also count the time the OS kept the process off the
// CPU while idle (a busy machine), which is not a task of ours; both are reported.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface LagStats {
    /** Longest event-loop active time between two ticks, in ms (bounds the longest task). */
    maxMs: number;
    p99Ms: number;
    samples: number;
    /** Ticks whose active time exceeded 50 ms (the budget: no extension-host task over 50 ms). */
    over50: number;
    /** Longest timer lateness in ms (includes time the OS did not schedule the process). */
    maxLateMs: number;
}

export class LagMonitor {
    private timer: NodeJS.Timeout | undefined;
    private last = 0;
    private elu: EventLoopUtilization | undefined;
    private readonly active: number[] = [];
    private maxLate = 0;
    private readonly interval = 10;

    start(): void {
        this.last = performance.now();
        this.elu = performance.eventLoopUtilization();
        this.timer = setInterval(() => {
            const now = performance.now();
            const elu = performance.eventLoopUtilization();
            const delta = performance.eventLoopUtilization(elu, this.elu);
            this.elu = elu;
            this.active.push(delta.active);
            this.maxLate = Math.max(this.maxLate, now - this.last - this.interval);
            this.last = now;
        }, this.interval);
        this.timer.unref?.();
    }

    stop(): void {
        clearInterval(this.timer);
        this.timer = undefined;
    }

    stats(): LagStats {
        const sorted = [...this.active].sort((a, b) => a - b);
        const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0);
        return {
            maxMs: sorted.length ? sorted[sorted.length - 1]! : 0,
            p99Ms: at(0.99),
            samples: sorted.length,
            over50: sorted.filter((x) => x > 50).length,
            maxLateMs: Math.max(0, this.maxLate),
        };
    }
}
