// Measures how long the extension host's main thread is held by a single task during a run. A
// 10 ms timer ticks; a timer cannot fire in the middle of a task, so what the main thread did
// between two ticks bounds the longest task. Two measures of it:
//  - the event loop's active time between ticks (perf_hooks' event-loop utilization), which on a
//    loaded machine also counts time the thread waited for a CPU while runnable;
//  - on Linux, the CPU time the main thread itself used between ticks (/proc/self/task/<pid>/stat,
//    10 ms resolution), which is what a task of ours costs. The reported task length is the smaller
//    of the two (the CPU figure rounded up by its resolution), so a busy machine does not count as
//    a slow extension; timer lateness is reported too.
import { readFileSync } from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface LagStats {
    /** Longest task estimate between two ticks, in ms. */
    maxMs: number;
    p99Ms: number;
    samples: number;
    /** Ticks over 50 ms (the budget: no extension-host task over 50 ms). */
    over50: number;
    /** Longest event-loop active time between ticks (includes waiting for a CPU). */
    maxActiveMs: number;
    /** Longest timer lateness in ms. */
    maxLateMs: number;
    /** Whether the main thread's CPU time was available (Linux). */
    cpuMeasured: boolean;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux
const statPath = `/proc/self/task/${process.pid}/stat`;

function mainThreadCpuMs(): number | undefined {
    try {
        const s = readFileSync(statPath, 'utf8');
        const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
        // fields after the command: state(3) ... utime(14) stime(15), i.e. indexes 11 and 12 here
        return (Number(f[11]) + Number(f[12])) * TICK_MS;
    } catch {
        return undefined;
    }
}

export class LagMonitor {
    private timer: NodeJS.Timeout | undefined;
    private last = 0;
    private elu: EventLoopUtilization | undefined;
    private cpu: number | undefined;
    private readonly tasks: number[] = [];
    private maxActive = 0;
    private maxLate = 0;
    private cpuMeasured = false;
    private readonly interval = 10;

    start(): void {
        this.last = performance.now();
        this.elu = performance.eventLoopUtilization();
        this.cpu = mainThreadCpuMs();
        this.cpuMeasured = this.cpu !== undefined;
        this.timer = setInterval(() => {
            const now = performance.now();
            const elu = performance.eventLoopUtilization();
            const active = performance.eventLoopUtilization(elu, this.elu).active;
            this.elu = elu;
            const cpu = this.cpuMeasured ? mainThreadCpuMs() : undefined;
            const cpuDelta = cpu !== undefined && this.cpu !== undefined ? cpu - this.cpu : undefined;
            this.cpu = cpu;
            this.tasks.push(cpuDelta === undefined ? active : Math.min(active, cpuDelta + TICK_MS));
            this.maxActive = Math.max(this.maxActive, active);
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
        const sorted = [...this.tasks].sort((a, b) => a - b);
        const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0);
        return {
            maxMs: sorted.length ? sorted[sorted.length - 1]! : 0,
            p99Ms: at(0.99),
            samples: sorted.length,
            over50: sorted.filter((x) => x > 50).length,
            maxActiveMs: this.maxActive,
            maxLateMs: Math.max(0, this.maxLate),
            cpuMeasured: this.cpuMeasured,
        };
    }
}
