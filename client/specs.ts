// Per open spec: its Plan (asked from the language server), its results (read from the run store
// by the engine) and the annotations `annotate()` derives from both. Everything the editor shows
// (decorations, hovers, CodeLens, results view) reads from here.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node.js';
import type { Plan } from '../language/plan-types.js';
import type { StepResult } from '../engine/results-types.js';
import { annotate, type Annotation, type LiveState } from './annotate.js';
import { PlanRequest, type PlanResponse } from '../language/protocol.js';
import { runSettings, withDefaultServerUrl } from './settings.js';
import type { EngineApi } from './engine-host.js';

export interface SpecState {
    uri: vscode.Uri;
    plan?: Plan;
    /** Error count when the plan could not be built. */
    errors: number;
    results: StepResult[];
    live: LiveState;
    annotations: Annotation[];
    /** Why results could not be read, if they could not. */
    problem?: string;
}

export class Specs implements vscode.Disposable {
    private readonly states = new Map<string, SpecState>();
    private readonly timers = new Map<string, NodeJS.Timeout>();
    private readonly emitter = new vscode.EventEmitter<SpecState>();
    readonly onDidChange = this.emitter.event;
    private readonly disposables: vscode.Disposable[] = [];

    constructor(
        private readonly client: LanguageClient,
        private readonly engine: () => Promise<EngineApi>,
        private readonly log: vscode.LogOutputChannel,
    ) {
        const isSpec = (d: vscode.TextDocument) => d.languageId === 'mismatch' && d.uri.scheme === 'file';
        this.disposables.push(
            vscode.workspace.onDidOpenTextDocument((d) => isSpec(d) && this.schedule(d.uri, 0)),
            vscode.workspace.onDidSaveTextDocument((d) => isSpec(d) && this.schedule(d.uri, 0)),
            vscode.workspace.onDidChangeTextDocument((e) => isSpec(e.document) && e.contentChanges.length > 0 && this.schedule(e.document.uri, 400)),
            vscode.workspace.onDidCloseTextDocument((d) => {
                if (isSpec(d) && !this.isBusy(d.uri)) this.states.delete(d.uri.toString());
            }),
            vscode.workspace.onDidChangeConfiguration((e) => {
                if (e.affectsConfiguration('mismatch')) for (const s of this.states.values()) this.schedule(s.uri, 0);
            }),
            this.emitter,
        );
        for (const d of vscode.workspace.textDocuments) if (isSpec(d)) this.schedule(d.uri, 0);
    }

    /** Steps currently queued or running for a spec are "busy": keep its state. */
    private busy = new Set<string>();
    setBusy(uri: vscode.Uri, busy: boolean): void {
        if (busy) this.busy.add(uri.toString());
        else this.busy.delete(uri.toString());
    }
    isBusy(uri: vscode.Uri): boolean {
        return this.busy.has(uri.toString());
    }

    get(uri: vscode.Uri): SpecState | undefined {
        return this.states.get(uri.toString());
    }

    all(): SpecState[] {
        return [...this.states.values()];
    }

    private stateFor(uri: vscode.Uri): SpecState {
        let s = this.states.get(uri.toString());
        if (!s) {
            s = { uri, errors: 0, results: [], live: {}, annotations: [] };
            this.states.set(uri.toString(), s);
        }
        return s;
    }

    /** Refreshes plan and results after `delay` ms (edits are debounced). */
    schedule(uri: vscode.Uri, delay: number): void {
        const key = uri.toString();
        clearTimeout(this.timers.get(key));
        this.timers.set(
            key,
            setTimeout(() => {
                this.timers.delete(key);
                this.refresh(uri).catch((e: unknown) => this.log.error(`refreshing ${uri.fsPath}: ${String(e)}`));
            }, delay),
        );
    }

    /** The plan of the document as the server has it now (unsaved edits included). */
    async requestPlan(uri: vscode.Uri): Promise<PlanResponse> {
        await this.client.start().catch(() => undefined);
        return this.client.sendRequest(PlanRequest, { uri: this.client.code2ProtocolConverter.asUri(uri) });
    }

    async refresh(uri: vscode.Uri): Promise<SpecState> {
        const state = this.stateFor(uri);
        let response: PlanResponse;
        try {
            response = await this.requestPlan(uri);
        } catch (e) {
            state.problem = `the language server gave no plan: ${e instanceof Error ? e.message : String(e)}`;
            this.log.warn(state.problem);
            this.retry(uri);
            return state;
        }
        if (!response.plan && response.errors === 0 && response.version === undefined) {
            // The server did not have the document yet (its first workspace build was still
            // running): ask again rather than show a spec without CodeLens until the next edit.
            this.retry(uri);
            return state;
        }
        this.retries.delete(uri.toString());
        state.errors = response.errors;
        if (response.plan) state.plan = response.plan;
        else if (response.errors > 0) state.plan = undefined;
        await this.reloadResults(state);
        return state;
    }

    private readonly retries = new Map<string, number>();
    /** Asks for the plan again later (at most 10 times, backing off from 0.5 s to 5 s). */
    private retry(uri: vscode.Uri): void {
        const key = uri.toString();
        const n = (this.retries.get(key) ?? 0) + 1;
        this.retries.set(key, n);
        if (n <= 10) this.schedule(uri, Math.min(5000, 500 * n));
        else this.log.warn(`gave up asking the language server for the plan of ${uri.fsPath} after ${n - 1} tries`);
    }

    /** Re-reads the store for the current plan (after a step finishes, or a refresh). */
    async reloadResults(state: SpecState): Promise<void> {
        if (state.plan) {
            try {
                const engine = await this.engine();
                const settings = runSettings(state.uri);
                state.results = await engine.readResults(withDefaultServerUrl(state.plan, settings.serverUrl), settings.storeDir);
                state.problem = undefined;
            } catch (e) {
                state.problem = `could not read results: ${e instanceof Error ? e.message : String(e)}`;
                this.log.warn(state.problem);
            }
        }
        this.recompute(state);
    }

    /** Recomputes annotations from plan + results + live state and notifies the views. */
    recompute(state: SpecState): void {
        state.annotations = state.plan && runSettings(state.uri).annotations ? annotate(state.plan, state.results, state.live) : [];
        this.emitter.fire(state);
    }

    /** Merges results that arrive during a run (one per finished step instance). */
    mergeResult(state: SpecState, result: StepResult): void {
        const same = (r: StepResult) => r.step === result.step && (r.seedIndex ?? -1) === (result.seedIndex ?? -1);
        state.results = [...state.results.filter((r) => !same(r)), { ...result, stale: false }];
    }

    dispose(): void {
        for (const t of this.timers.values()) clearTimeout(t);
        for (const d of this.disposables) d.dispose();
    }
}
