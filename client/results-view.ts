// "Open Results": a webview per spec with the step table, the hypotheses, Vega-Lite plots (specs
// from the engine's report module, shared with the HTML report) and per-question records that can
// be filtered. Strict CSP with a nonce; the only script is the bundled dist/webview/main.js.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HypothesisMetrics, StepResult } from '../engine/results-types.js';
import type { EngineApi } from './engine-host.js';
import { runSettings } from './settings.js';
import type { SpecState, Specs } from './specs.js';
import type { FromWebview, RecordSet, StepRow, ToWebview, ViewData } from './webview/protocol.js';
import { stepTitles } from '../engine/format.js';

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 16px 24px; }
h1 { font-size: 1.4em; margin: 12px 0 2px; } h2 { font-size: 1.15em; margin: 22px 0 6px; border-bottom: 1px solid var(--vscode-panel-border); padding-bottom: 3px; }
.muted { color: var(--vscode-descriptionForeground); }
table { border-collapse: collapse; margin: 4px 0; } th, td { padding: 3px 10px 3px 0; text-align: left; vertical-align: top; border-bottom: 1px solid var(--vscode-editorWidget-border, transparent); }
th { color: var(--vscode-descriptionForeground); font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.stale td { color: var(--vscode-disabledForeground); font-style: italic; }
.verdict-holds { color: var(--vscode-testing-iconPassed); font-weight: 600; } .verdict-does-not-hold { color: var(--vscode-testing-iconFailed); font-weight: 600; } .verdict-inconclusive { color: var(--vscode-editorWarning-foreground); font-weight: 600; }
.outcome-correct { color: var(--vscode-testing-iconPassed); } .outcome-wrong { color: var(--vscode-testing-iconFailed); } .outcome-abstained { color: var(--vscode-descriptionForeground); }
a.step { color: var(--vscode-textLink-foreground); cursor: pointer; text-decoration: none; } a.step:hover { text-decoration: underline; }
.plots { display: flex; flex-wrap: wrap; gap: 18px; } .plot { min-width: 320px; } .plot h3 { font-size: 1em; margin: 6px 0; font-weight: 600; }
.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 6px 0; }
select, input { background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, var(--vscode-panel-border)); padding: 2px 4px; font-family: inherit; font-size: inherit; }
button { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: none; padding: 3px 8px; cursor: pointer; }
.error { color: var(--vscode-errorForeground); }
#vg-tooltip-element { background: var(--vscode-editorHoverWidget-background); color: var(--vscode-editorHoverWidget-foreground); border: 1px solid var(--vscode-editorHoverWidget-border); padding: 4px 6px; position: fixed; z-index: 1000; font-size: 12px; pointer-events: none; }
#vg-tooltip-element.visible { display: block; } #vg-tooltip-element:not(.visible) { display: none; }
#vg-tooltip-element table td, #vg-tooltip-element table th { border: none; padding: 0 6px 0 0; }
`;

/** At most this many answer rows per evaluate instance go to the webview. */
const MAX_ROWS = 20_000;

export class ResultsView implements vscode.Disposable {
    private readonly panels = new Map<string, vscode.WebviewPanel>();
    private readonly pending = new Map<string, NodeJS.Timeout>();
    /** Last message from each panel's webview (the extension-host tests read it). */
    readonly lastRendered = new Map<string, { plots: number; errors: string[] }>();
    private readonly disposables: vscode.Disposable[] = [];

    constructor(
        private readonly context: vscode.ExtensionContext,
        private readonly specs: Specs,
        private readonly engine: () => Promise<EngineApi>,
    ) {
        this.disposables.push(
            specs.onDidChange((s) => {
                if (!this.panels.has(s.uri.toString()) || s.live.running) return;
                clearTimeout(this.pending.get(s.uri.toString()));
                this.pending.set(
                    s.uri.toString(),
                    setTimeout(() => void this.post(s), 300),
                );
            }),
        );
    }

    async show(uri: vscode.Uri): Promise<vscode.WebviewPanel> {
        const key = uri.toString();
        let panel = this.panels.get(key);
        if (panel) {
            panel.reveal(vscode.ViewColumn.Beside);
        } else {
            panel = vscode.window.createWebviewPanel('mismatch.results', `Results: ${path.basename(uri.fsPath)}`, vscode.ViewColumn.Beside, {
                enableScripts: true,
                retainContextWhenHidden: true,
                localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview')],
            });
            this.panels.set(key, panel);
            panel.webview.html = this.html(panel.webview);
            panel.webview.onDidReceiveMessage(async (m: FromWebview) => {
                const state = this.specs.get(uri) ?? (await this.specs.refresh(uri));
                if (m.type === 'ready') await this.post(state);
                else if (m.type === 'rendered') this.lastRendered.set(key, { plots: m.plots, errors: m.errors });
                else if (m.type === 'reveal') {
                    const step = state.plan?.steps.find((s) => s.id === m.step);
                    if (step) {
                        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(step.range.file));
                        const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
                        const pos = new vscode.Position(step.range.start.line, step.range.start.character);
                        editor.selection = new vscode.Selection(pos, pos);
                        editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenter);
                    }
                }
            });
            panel.onDidDispose(() => {
                this.panels.delete(key);
                this.lastRendered.delete(key);
            });
        }
        const state = this.specs.get(uri) ?? (await this.specs.refresh(uri));
        if (!state.plan) await this.specs.refresh(uri);
        return panel;
    }

    private html(webview: vscode.Webview): string {
        const nonce = randomBytes(16).toString('base64');
        const script = webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview', 'main.js'));
        // Vega runs with its AST interpreter (no eval, so no 'unsafe-eval') and draws on canvas;
        // the only stylesheet is the nonce'd one below.
        const csp = [
            "default-src 'none'",
            `img-src ${webview.cspSource} data:`,
            `style-src ${webview.cspSource} 'nonce-${nonce}'`,
            `script-src 'nonce-${nonce}'`,
            `font-src ${webview.cspSource}`,
        ].join('; ');
        return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Mismatch results</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<div id="app"><p class="muted">Loading results…</p></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
    }

    /** Builds the view's data for a spec and sends it. */
    async post(state: SpecState): Promise<void> {
        const panel = this.panels.get(state.uri.toString());
        if (!panel) return;
        const data = await this.data(state);
        await panel.webview.postMessage({ type: 'data', data } satisfies ToWebview);
    }

    async data(state: SpecState): Promise<ViewData> {
        const plan = state.plan;
        const storeDir = runSettings(state.uri).storeDir;
        const base: ViewData = { experiment: plan?.experiment ?? path.basename(state.uri.fsPath), file: state.uri.fsPath, storeDir, steps: [], hypotheses: [], plots: [], records: [] };
        if (!plan) return { ...base, empty: state.errors ? `The spec has ${state.errors} error(s): fix them to see its results.` : 'No plan yet.' };
        const results = state.results;
        if (!results.length) return { ...base, empty: 'No results yet: run the experiment ("Mismatch: Run Experiment").' };
        const title = stepTitles(plan.steps);
        const steps: StepRow[] = plan.steps.map((s) => {
            const rs = results.filter((r) => r.step === s.id);
            const ann = state.annotations.find((a) => a.step === s.id);
            const status = rs.length ? (rs.some((r) => r.status === 'failed') ? 'failed' : rs.every((r) => r.status === 'done') ? 'done' : rs[0]!.status) : 'not run';
            return {
                step: s.id,
                title: title(s.id),
                kind: s.kind,
                line: s.range.start.line + 1,
                status,
                seconds: rs.reduce((a, r) => a + (r.seconds || 0), 0),
                summary: ann?.text ?? '',
                stale: rs.some((r) => r.stale),
                instances: rs.length,
            };
        });
        const hypotheses = results
            .filter((r) => r.kind === 'hypothesis' && r.status === 'done' && r.metrics && 'verdict' in r.metrics)
            .map((r) => ({ ...(r.metrics as HypothesisMetrics), step: r.step, title: title(r.step), stale: !!r.stale }));
        const records = await this.records(results);
        let plots: ViewData['plots'] = [];
        let plotError: string | undefined;
        try {
            const engine = await this.engine();
            plots = engine.allPlots(results).map((p) => ({ id: p.id, title: p.title, spec: p.spec }));
        } catch (e) {
            plotError = e instanceof Error ? e.message : String(e);
        }
        return { ...base, steps, hypotheses, records, plots, plotError };
    }

    private async records(results: StepResult[]): Promise<RecordSet[]> {
        const sets: RecordSet[] = [];
        for (const r of results) {
            if (r.kind !== 'evaluate' || r.status !== 'done' || !r.dir) continue;
            let text: string;
            try {
                text = await fs.readFile(path.join(r.dir, 'answers.jsonl'), 'utf8');
            } catch {
                continue;
            }
            const lines = text.split('\n').filter((l) => l.trim());
            const rows: RecordSet['rows'] = [];
            for (const l of lines.slice(0, MAX_ROWS)) {
                try {
                    rows.push(JSON.parse(l));
                } catch {
                    /* a torn line: skip it */
                }
            }
            sets.push({ evaluation: r.step, seedIndex: r.seedIndex, arms: [...new Set(rows.map((x) => x.arm))], rows, truncated: Math.max(0, lines.length - MAX_ROWS) });
        }
        return sets;
    }

    dispose(): void {
        for (const p of this.panels.values()) p.dispose();
        for (const t of this.pending.values()) clearTimeout(t);
        for (const d of this.disposables) d.dispose();
    }
}
