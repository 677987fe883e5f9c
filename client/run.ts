// Running a spec from the editor: one run at a time per spec, a cancellable progress notification
// (step and percentage), a status bar item (step, tokens/s, ETA), the engine's log in the output
// channel, results merged into the annotations as each step finishes. The engine runs in the
// extension host, in a worker thread (its native work in child processes); a lag monitor records
// the longest extension-host task during each run.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Plan } from '../language/plan-types.js';
import type { RunSummary } from '../engine/results-types.js';
import type { EngineEvent } from '../engine/events.js';
import { runInWorker, type EngineApi } from './engine-host.js';
import { formatSeconds, stepTitles } from '../engine/format.js';
import { runSettings, withDefaultServerUrl } from './settings.js';
import type { SpecState, Specs } from './specs.js';
import { LagMonitor, type LagStats } from './lag.js';
import { checkGpuBinaries } from './gpu.js';
import { RunRegistry, type RunTicket } from './run-state.js';

export interface RunRequest {
    /** Run only this step and what it needs. */
    step?: string;
    /** Run every step up to and including this one. */
    to?: string;
}

export interface RunRecord {
    spec: string;
    request: RunRequest;
    /** What the engine was given (from the settings). */
    options: { storeDir: string; threads?: number; gpu: string };
    summary?: RunSummary;
    error?: string;
    lag: LagStats;
    seconds: number;
}

export const UNTRUSTED_MESSAGE =
    'Mismatch: running experiments is disabled in Restricted Mode: a run loads models and executes native code. Trust this workspace to run; the language features keep working.';

export class Runner implements vscode.Disposable {
    /** Which specs are claimed by a run and which of them the engine runs (client/run-state.ts). */
    private readonly runs = new RunRegistry();
    private readonly unsubscribe: () => void;
    private readonly status = vscode.window.createStatusBarItem('mismatch.run', vscode.StatusBarAlignment.Left, 50);
    private readonly changed = new vscode.EventEmitter<void>();
    readonly onDidChange = this.changed.event;
    /** The last finished run per spec (read by the extension-host tests and `mismatch._lastRun`). */
    readonly lastRun = new Map<string, RunRecord>();

    constructor(
        private readonly specs: Specs,
        private readonly engine: () => Promise<EngineApi>,
        private readonly log: vscode.LogOutputChannel,
        private readonly extensionPath: string,
    ) {
        this.status.name = 'Mismatch run';
        this.status.command = 'mismatch.showLog';
        // Every change of a spec's run state, on every path, refreshes the CodeLens and the context key.
        this.unsubscribe = this.runs.onDidChange(() => {
            void vscode.commands.executeCommand('setContext', 'mismatch.running', this.runs.anyRunning());
            this.changed.fire();
        });
    }

    isRunning(uri: vscode.Uri): boolean {
        return this.runs.isRunning(uri.toString());
    }

    anyRunning(): boolean {
        return this.runs.anyRunning();
    }

    cancel(uri?: vscode.Uri): boolean {
        const asked = this.runs.cancel(uri?.toString());
        for (const key of asked) this.log.info(`cancelling the run of ${vscode.Uri.parse(key).fsPath}`);
        return asked.length > 0;
    }

    async run(doc: vscode.TextDocument, request: RunRequest = {}): Promise<RunRecord | undefined> {
        if (!vscode.workspace.isTrusted) {
            const choice = await vscode.window.showWarningMessage(UNTRUSTED_MESSAGE, 'Manage Workspace Trust');
            if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
            return undefined;
        }
        // Claimed before the first await (saving, the GPU check, the plan), released on every path.
        const ticket = this.runs.claim(doc.uri.toString());
        if (!ticket) {
            void vscode.window.showInformationMessage(`Mismatch: ${path.basename(doc.uri.fsPath)} is already running. Cancel it first ("Mismatch: Cancel Run").`);
            return undefined;
        }
        try {
            return await this.runClaimed(doc, request, ticket);
        } finally {
            this.runs.release(ticket);
        }
    }

    private async runClaimed(doc: vscode.TextDocument, request: RunRequest, ticket: RunTicket): Promise<RunRecord | undefined> {
        if (doc.isDirty && !(await doc.save())) {
            void vscode.window.showErrorMessage('Mismatch: save the spec before running it.');
            return undefined;
        }
        // First: the GPU check may switch the setting to the CPU for this workspace.
        if (!(await checkGpuBinaries(runSettings(doc.uri).gpu, this.extensionPath, this.log))) return undefined;
        const settings = runSettings(doc.uri);
        const state = await this.specs.refresh(doc.uri);
        if (!state.plan || state.errors > 0) {
            const n = state.errors;
            void vscode.window.showErrorMessage(
                n > 0
                    ? `Mismatch: ${path.basename(doc.uri.fsPath)} has ${n} error${n > 1 ? 's' : ''}; fix ${n > 1 ? 'them' : 'it'} before running (see Problems).`
                    : `Mismatch: no plan for ${path.basename(doc.uri.fsPath)}${state.problem ? `: ${state.problem}` : ''}.`,
            );
            return undefined;
        }
        const plan = withDefaultServerUrl(state.plan, settings.serverUrl);
        if (request.step && !plan.steps.some((s) => s.id === request.step)) {
            void vscode.window.showErrorMessage(`Mismatch: no step named ${request.step}.`);
            return undefined;
        }

        const controller = ticket.controller;
        if (controller.signal.aborted) return undefined; // cancelled while preparing
        this.specs.setBusy(doc.uri, true);
        this.runs.start(ticket);
        const lag = new LagMonitor();
        const started = Date.now();
        const what = request.step ? `step ${request.step}` : request.to ? `up to ${request.to}` : 'experiment';
        this.log.info(`run ${plan.experiment} (${what}) from ${doc.uri.fsPath}; store ${settings.storeDir}; threads ${settings.threads ?? 'auto'}; gpu ${settings.gpu}`);

        const record: RunRecord = { spec: doc.uri.fsPath, request, options: { storeDir: settings.storeDir, threads: settings.threads, gpu: settings.gpu }, lag: lag.stats(), seconds: 0 };
        try {
            await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Mismatch: ${plan.experiment}`, cancellable: true }, async (progress, token) => {
                token.onCancellationRequested(() => controller.abort());
                const tracker = new ProgressTracker(plan, state, progress, this.status, this.specs, this.log);
                lag.start();
                try {
                    record.summary = await runInWorker(
                        this.extensionPath,
                        plan,
                        { storeDir: settings.storeDir, threads: settings.threads, gpu: settings.gpu, step: request.step, to: request.to },
                        (e) => tracker.onEvent(e),
                        controller.signal,
                    );
                } finally {
                    lag.stop();
                    tracker.dispose();
                }
            });
        } catch (e) {
            record.error = e instanceof Error ? e.message : String(e);
            this.log.error(`run failed: ${record.error}${e instanceof Error && e.stack ? `\n${e.stack}` : ''}`);
        } finally {
            // First: the run is over for the CodeLens whatever the cleanup below does.
            this.runs.release(ticket);
            this.specs.setBusy(doc.uri, false);
            this.status.hide();
            state.live = {};
            record.lag = lag.stats();
            record.seconds = (Date.now() - started) / 1000;
            this.lastRun.set(doc.uri.fsPath, record);
            await this.specs.reloadResults(state);
        }
        this.log.info(
            `run ${record.summary?.status ?? 'failed'} in ${formatSeconds(record.seconds)}; longest extension-host task ${record.lag.maxMs.toFixed(0)} ms (p99 ${record.lag.p99Ms.toFixed(0)} ms, ${record.lag.samples} samples; event-loop active ${record.lag.maxActiveMs.toFixed(0)} ms, timer lateness ${record.lag.maxLateMs.toFixed(0)} ms)`,
        );
        const summary = record.summary;
        if (summary?.status === 'done') {
            const title = stepTitles(plan.steps);
            const verdicts = summary.hypotheses.map((h) => `${title(h.step)}: ${h.verdict}`).join('; ');
            void vscode.window
                .showInformationMessage(`Mismatch: ${plan.experiment} done in ${formatSeconds(summary.seconds)}${verdicts ? `. ${verdicts}` : ''}`, 'Open Results')
                .then((c) => c && vscode.commands.executeCommand('mismatch.openResults', doc.uri));
        } else if (summary?.status === 'cancelled') {
            void vscode.window.showInformationMessage(`Mismatch: run cancelled; finished steps are kept and the next run resumes from them.`);
        } else {
            // A run whose steps failed has no run-level error: name the first step that failed.
            const failed = summary?.steps.find((x) => x.status === 'failed' && x.error);
            const title = stepTitles(plan.steps);
            const message = summary?.error?.message ?? (failed ? `${title(failed.step)}: ${failed.error!.message.split('\n')[0]}` : undefined) ?? record.error ?? 'unknown error';
            void vscode.window.showErrorMessage(`Mismatch: run failed: ${message}`, 'Show Log').then((c) => c && this.log.show(true));
        }
        return record;
    }

    dispose(): void {
        this.cancel();
        this.unsubscribe();
        this.status.dispose();
        this.changed.dispose();
    }
}

/** Turns engine events into progress reports, the status bar, the log and live annotations. */
class ProgressTracker {
    private instances = 1;
    private completed = 0;
    private reported = 0;
    private stepStarted = Date.now();
    private tokensPerSecond: number | undefined;
    private label = '';
    private lastRender = 0;
    private renderTimer: NodeJS.Timeout | undefined;

    constructor(
        private readonly plan: Plan,
        private readonly state: SpecState,
        private readonly progress: vscode.Progress<{ message?: string; increment?: number }>,
        private readonly status: vscode.StatusBarItem,
        private readonly specs: Specs,
        private readonly log: vscode.LogOutputChannel,
    ) {
        state.live = {};
        this.title = stepTitles(plan.steps);
    }

    /** Display names (unnamed steps by their text); events and the store keep the ids. */
    private readonly title: (id: string) => string;

    private seedText(seedIndex?: number): string {
        return seedIndex !== undefined && this.plan.seeds > 1 ? ` (seed ${seedIndex + 1}/${this.plan.seeds})` : '';
    }

    private report(fractionOfStep: number, message: string): void {
        const total = Math.min(100, ((this.completed + Math.max(0, Math.min(1, fractionOfStep))) / Math.max(1, this.instances)) * 100);
        const increment = total - this.reported;
        this.reported = Math.max(this.reported, total);
        this.progress.report({ message: `${message} · ${Math.floor(total)}%`, increment: increment > 0 ? increment : undefined });
    }

    private updateStatus(done?: number, total?: number): void {
        const parts = [`$(sync~spin) ${this.label}`];
        if (total) parts.push(`${Math.floor((100 * (done ?? 0)) / total)}%`);
        if (this.tokensPerSecond) parts.push(`${this.tokensPerSecond >= 1000 ? `${(this.tokensPerSecond / 1000).toFixed(1)}k` : Math.round(this.tokensPerSecond)} tok/s`);
        if (total && done && done < total) {
            const elapsed = (Date.now() - this.stepStarted) / 1000;
            parts.push(`ETA ${formatSeconds((elapsed / done) * (total - done))}`);
        }
        this.status.text = parts.join(' · ');
        this.status.tooltip = 'Mismatch run: current step, throughput, time left in this step. Click for the log.';
        this.status.show();
    }

    /** Live annotations are re-rendered at most every 250 ms (progress events can be frequent). */
    private renderLive(): void {
        const now = Date.now();
        if (now - this.lastRender >= 250) {
            this.lastRender = now;
            this.specs.recompute(this.state);
        } else if (!this.renderTimer) {
            this.renderTimer = setTimeout(() => {
                this.renderTimer = undefined;
                this.lastRender = Date.now();
                this.specs.recompute(this.state);
            }, 250);
        }
    }

    onEvent(e: EngineEvent): void {
        switch (e.type) {
            case 'run-started':
                this.instances = Math.max(1, e.instances.length);
                this.state.live = { queued: [...new Set(e.instances.map((i) => i.step))] };
                this.log.info(`${e.instances.length} step instances; store ${e.storeDir}`);
                this.renderLive();
                break;
            case 'step-started':
                this.stepStarted = Date.now();
                this.tokensPerSecond = undefined;
                this.label = `${e.kind} ${this.title(e.step)}${this.seedText(e.seedIndex)}`;
                this.state.live = { ...this.state.live, running: { step: e.step, seedIndex: e.seedIndex } };
                this.log.info(`▶ ${this.label}`);
                this.report(0, this.label);
                this.updateStatus();
                this.renderLive();
                break;
            case 'step-progress':
                this.state.live = { ...this.state.live, running: { step: e.step, seedIndex: e.seedIndex, done: e.done, total: e.total, unit: e.unit, ...(e.message ? { message: e.message } : {}) } };
                this.report(e.total ? e.done / e.total : 0, `${this.label}: ${e.done}/${e.total} ${e.unit}`);
                this.updateStatus(e.done, e.total);
                if (e.message) this.log.debug(e.message);
                this.renderLive();
                break;
            case 'metrics': {
                const tps = e.values.tokensPerSecond ?? e.values.tokens_per_second ?? e.values['tokens/s'];
                if (typeof tps === 'number' && Number.isFinite(tps)) this.tokensPerSecond = tps;
                this.log.trace(`${e.step}: ${JSON.stringify(e.values)}`);
                break;
            }
            case 'step-cached':
            case 'step-finished':
                this.completed++;
                this.log.info(
                    `${e.type === 'step-cached' ? '↺ cached' : '✓ done'} ${e.kind} ${this.title(e.step)}${this.seedText(e.seedIndex)}${e.type === 'step-finished' ? ` in ${formatSeconds(e.result.seconds)}` : ''}`,
                );
                this.specs.mergeResult(this.state, e.result);
                this.finishInstance(e.step);
                this.report(0, `${this.title(e.step)} done`);
                break;
            case 'step-failed':
                this.completed++;
                this.log.error(`✗ ${e.kind} ${e.step}${this.seedText(e.seedIndex)} failed: ${e.error.message}${e.error.detail ? `\n${e.error.detail}` : ''}`);
                this.specs.mergeResult(this.state, e.result);
                this.finishInstance(e.step);
                break;
            case 'log': {
                const where = e.location ? ` (${e.location.file}${e.location.line ? `:${e.location.line}` : ''}${e.location.field ? ` ${e.location.field}` : ''})` : '';
                const text = `${e.step ? `${e.step}: ` : ''}${e.message}${where}`;
                if (e.level === 'error') this.log.error(text);
                else if (e.level === 'warn') this.log.warn(text);
                else this.log.info(text);
                break;
            }
            case 'run-finished':
                this.log.info(`run ${e.summary.status} in ${formatSeconds(e.summary.seconds)}`);
                break;
        }
    }

    private finishInstance(step: string): void {
        const live = this.state.live;
        const remaining = (live.queued ?? []).filter((s) => s !== step || this.stillQueued(step));
        this.state.live = { queued: remaining };
        this.renderLive();
    }

    /** A per-seed step stays queued until its last seed has a result. */
    private stillQueued(step: string): boolean {
        const s = this.plan.steps.find((x) => x.id === step);
        if (!s || !(s.stochastic && this.plan.seeds > 1)) return false;
        return this.state.results.filter((r) => r.step === step).length < this.plan.seeds;
    }

    dispose(): void {
        clearTimeout(this.renderTimer);
    }
}
