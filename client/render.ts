// Renders annotations: after-line decorations (one decoration type per tone), cut to a width with
// the whole text and the full tables in a hover on annotated lines, and failed steps as diagnostics.
// Nothing is decided here: the texts come from annotate().
//
// The hover is a HoverProvider over the step's lines rather than a decoration's hoverMessage: a
// statement spans several lines and a hover should answer wherever the pointer is on it (the
// decoration's range is the empty point at the line's end, reached only over the after-text), and
// one provider gives one hover where a decoration's message would come beside it a second time.
import * as vscode from 'vscode';
import { afterLineText, hoverFor, type Annotation, type Tone } from './annotate.js';
import type { SpecState, Specs } from './specs.js';

const TONE_COLORS: Record<Tone, vscode.ThemeColor> = {
    neutral: new vscode.ThemeColor('editorCodeLens.foreground'),
    holds: new vscode.ThemeColor('testing.iconPassed'),
    'does-not-hold': new vscode.ThemeColor('testing.iconFailed'),
    inconclusive: new vscode.ThemeColor('editorWarning.foreground'),
    stale: new vscode.ThemeColor('disabledForeground'),
    error: new vscode.ThemeColor('editorError.foreground'),
    running: new vscode.ThemeColor('progressBar.background'),
};

export class Renderer implements vscode.Disposable {
    private readonly types = new Map<Tone, vscode.TextEditorDecorationType>();
    private readonly diagnostics = vscode.languages.createDiagnosticCollection('mismatch-run');
    private readonly disposables: vscode.Disposable[] = [];

    constructor(private readonly specs: Specs) {
        for (const [tone, color] of Object.entries(TONE_COLORS) as [Tone, vscode.ThemeColor][]) {
            this.types.set(
                tone,
                vscode.window.createTextEditorDecorationType({
                    after: { color, margin: '0 0 0 2.5em', fontStyle: tone === 'stale' ? 'italic' : 'normal' },
                    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
                }),
            );
        }
        this.disposables.push(
            this.diagnostics,
            specs.onDidChange((s) => this.render(s)),
            vscode.window.onDidChangeVisibleTextEditors(() => {
                for (const s of specs.all()) this.render(s);
            }),
            vscode.languages.registerHoverProvider({ language: 'mismatch', scheme: 'file' }, { provideHover: (doc, pos) => this.hover(doc, pos) }),
        );
    }

    private annotationsFor(state: SpecState, file: string): Annotation[] {
        return state.annotations.filter((a) => a.file === file);
    }

    render(state: SpecState): void {
        // A spec's annotations may land in imported files too: render into every visible editor.
        for (const editor of vscode.window.visibleTextEditors) {
            if (editor.document.languageId !== 'mismatch') continue;
            const file = editor.document.uri.fsPath;
            const own = this.annotationsFor(state, file);
            if (editor.document.uri.toString() !== state.uri.toString() && !own.length) continue;
            const byTone = new Map<Tone, vscode.DecorationOptions[]>();
            for (const a of own) {
                if (a.line >= editor.document.lineCount) continue;
                const line = editor.document.lineAt(a.line);
                const end = line.range.end;
                const list = byTone.get(a.tone) ?? [];
                list.push({ range: new vscode.Range(end, end), renderOptions: { after: { contentText: afterLineText(a.text, line.text.length) } } });
                byTone.set(a.tone, list);
            }
            for (const [tone, type] of this.types) editor.setDecorations(type, byTone.get(tone) ?? []);
        }
        const byFile = new Map<string, vscode.Diagnostic[]>();
        for (const a of state.annotations) {
            if (!a.diagnostic) continue;
            const r = a.diagnostic.range;
            const d = new vscode.Diagnostic(new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character), a.diagnostic.message, vscode.DiagnosticSeverity.Error);
            d.source = 'mismatch run';
            d.code = 'step-failed';
            const list = byFile.get(r.file) ?? [];
            list.push(d);
            byFile.set(r.file, list);
        }
        this.diagnostics.set(state.uri, byFile.get(state.uri.fsPath) ?? []);
        for (const [file, list] of byFile) if (file !== state.uri.fsPath) this.diagnostics.set(vscode.Uri.file(file), list);
    }

    private hover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
        for (const state of this.specs.all()) {
            for (const a of this.annotationsFor(state, doc.uri.fsPath)) {
                const step = state.plan?.steps.find((s) => s.id === a.step);
                const first = step?.range.start.line ?? a.line;
                if (pos.line < first || pos.line > a.line) continue;
                const lineLength = a.line < doc.lineCount ? doc.lineAt(a.line).text.length : 0;
                const md = new vscode.MarkdownString(hoverFor(a, lineLength));
                md.supportHtml = false;
                md.isTrusted = false;
                return new vscode.Hover(md);
            }
        }
        return undefined;
    }

    dispose(): void {
        for (const t of this.types.values()) t.dispose();
        for (const d of this.disposables) d.dispose();
    }
}
