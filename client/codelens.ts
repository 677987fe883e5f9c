// CodeLens above every step: "▶ Run · ▶ Run to here", and "■ Cancel" while the spec runs.
import * as vscode from 'vscode';
import type { Runner } from './run.js';
import type { Specs } from './specs.js';
import { stepLenses } from './run-state.js';

export class StepCodeLens implements vscode.CodeLensProvider, vscode.Disposable {
    private readonly emitter = new vscode.EventEmitter<void>();
    readonly onDidChangeCodeLenses = this.emitter.event;
    private readonly disposables: vscode.Disposable[];
    private again: NodeJS.Timeout | undefined;

    constructor(
        private readonly specs: Specs,
        private readonly runner: Runner,
    ) {
        this.disposables = [specs.onDidChange(() => this.emitter.fire()), runner.onDidChange(() => this.runStateChanged()), this.emitter, { dispose: () => clearTimeout(this.again) }];
    }

    /**
     * A run started or ended: refresh now, and once more a second later. VS Code's CodeLens controller
     * debounces a provider's refresh and cancels the pending one when the editor loses focus
     * (`onDidBlurEditorText` → `scheduler.cancel()`), so a refresh asked for just before a blur (a
     * notification, the palette, another view) is dropped and "■ Cancel" would stay until the next
     * edit or focus.
     */
    private runStateChanged(): void {
        this.emitter.fire();
        clearTimeout(this.again);
        this.again = setTimeout(() => this.emitter.fire(), 1000);
    }

    /** Asks the editor for the lenses again (a "■ Cancel" clicked when nothing runs any more). */
    refresh(): void {
        this.emitter.fire();
    }

    provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
        const state = this.specs.get(doc.uri);
        if (!state?.plan) return [];
        const running = this.runner.isRunning(doc.uri);
        const lenses: vscode.CodeLens[] = [];
        for (const step of state.plan.steps) {
            if (step.range.file !== doc.uri.fsPath) continue;
            const line = step.range.start.line;
            if (line >= doc.lineCount) continue;
            const range = new vscode.Range(line, 0, line, 0);
            for (const l of stepLenses(step, running)) {
                lenses.push(new vscode.CodeLens(range, { title: l.title, command: l.command, arguments: l.step === undefined ? [doc.uri] : [doc.uri, l.step], tooltip: l.tooltip }));
            }
        }
        return lenses;
    }

    dispose(): void {
        for (const d of this.disposables) d.dispose();
    }
}
