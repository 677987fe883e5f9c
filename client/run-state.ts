/**
 * Which specs are running, as a small state machine without `vscode`, so that every path through a
 * run (refused, failed before the engine started, failed, cancelled, finished from the cache in a
 * few milliseconds, two specs at once) is unit-tested (test/client/run-state.test.ts), and the
 * CodeLens and the `mismatch.running` context read one answer.
 *
 * A run first *claims* its spec, synchronously, before anything it awaits (saving, the GPU check,
 * the plan): a second request for the same spec in that window is refused instead of racing it.
 * `start` marks the engine as started (CodeLens "■ Cancel"); `release` ends the claim whatever
 * happened. Tickets carry an id: releasing an old ticket never clears a newer run of the spec.
 */

export type RunPhase = 'preparing' | 'running';

export interface RunTicket {
    readonly key: string;
    readonly id: number;
    readonly controller: AbortController;
}

interface Entry {
    ticket: RunTicket;
    phase: RunPhase;
    started: number;
}

export class RunRegistry {
    private readonly runs = new Map<string, Entry>();
    private readonly listeners = new Set<() => void>();
    private nextId = 1;

    /** Called after every change of a spec's phase (claim, start, release). Returns an unsubscribe function. */
    onDidChange(listener: () => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    private fire(): void {
        for (const l of [...this.listeners]) l();
    }

    /** Claims `key` for a run; undefined when a run of it is already claimed. */
    claim(key: string, now = Date.now()): RunTicket | undefined {
        if (this.runs.has(key)) return undefined;
        const ticket: RunTicket = { key, id: this.nextId++, controller: new AbortController() };
        this.runs.set(key, { ticket, phase: 'preparing', started: now });
        this.fire();
        return ticket;
    }

    /** The engine was given the plan: the spec shows as running. False when the ticket is not the spec's current one. */
    start(ticket: RunTicket): boolean {
        const e = this.current(ticket);
        if (!e) return false;
        if (e.phase !== 'running') {
            e.phase = 'running';
            this.fire();
        }
        return true;
    }

    /** Ends the claim of `ticket` (any phase, any outcome). An old ticket leaves a newer run alone. */
    release(ticket: RunTicket): boolean {
        if (!this.current(ticket)) return false;
        this.runs.delete(ticket.key);
        this.fire();
        return true;
    }

    private current(ticket: RunTicket): Entry | undefined {
        const e = this.runs.get(ticket.key);
        return e && e.ticket.id === ticket.id ? e : undefined;
    }

    phase(key: string): RunPhase | undefined {
        return this.runs.get(key)?.phase;
    }

    /** A run of `key` is claimed (preparing or running). */
    isClaimed(key: string): boolean {
        return this.runs.has(key);
    }

    /** The engine runs `key` (what the CodeLens and the Cancel command show). */
    isRunning(key: string): boolean {
        return this.runs.get(key)?.phase === 'running';
    }

    anyRunning(): boolean {
        return [...this.runs.values()].some((e) => e.phase === 'running');
    }

    /** Asks the runs of `key` (all runs when undefined) to stop; the keys whose run was asked. */
    cancel(key?: string): string[] {
        const asked: string[] = [];
        for (const [k, e] of this.runs) {
            if (key !== undefined && k !== key) continue;
            if (e.ticket.controller.signal.aborted) continue;
            e.ticket.controller.abort();
            asked.push(k);
        }
        return asked;
    }
}

/** What the CodeLens shows above one step: its title, command and the command's arguments after the spec's URI. */
export interface LensModel {
    title: string;
    command: 'mismatch.runStep' | 'mismatch.runToHere' | 'mismatch.cancelRun';
    step?: string;
    tooltip: string;
}

/** "▶ Run · ▶ Run to here" on every step, "■ Cancel" while the spec runs. */
export function stepLenses(step: { id: string; kind: string }, running: boolean): LensModel[] {
    if (running) return [{ title: '■ Cancel', command: 'mismatch.cancelRun', tooltip: 'Cancel the run of this spec' }];
    return [
        { title: '▶ Run', command: 'mismatch.runStep', step: step.id, tooltip: `Run ${step.kind} ${step.id} (and the steps it needs)` },
        { title: '▶ Run to here', command: 'mismatch.runToHere', step: step.id, tooltip: `Run every step up to ${step.id}` },
    ];
}
