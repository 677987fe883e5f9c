// The VS Code glue: starts the language server, wires commands, CodeLens, annotations, the results
// view and runs. Nothing here interprets the spec: plans come from the server, results from the
// engine's store, texts from annotate().
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node.js';
import { StepCodeLens } from './codelens.js';
import { TrustNotification } from '../language/protocol.js';
import { loadEngine } from './engine-host.js';
import { Renderer } from './render.js';
import { ResultsView } from './results-view.js';
import { Runner, UNTRUSTED_MESSAGE } from './run.js';
import { runSettings } from './settings.js';
import { Specs } from './specs.js';

let client: LanguageClient | undefined;

/** What the extension-host tests reach through `activate()`'s return value. */
export interface MismatchApi {
    specs: Specs;
    runner: Runner;
    results: ResultsView;
}

export async function activate(context: vscode.ExtensionContext): Promise<MismatchApi> {
    const log = vscode.window.createOutputChannel('Mismatch', { log: true });
    context.subscriptions.push(log);
    const serverModule = context.asAbsolutePath(path.join('dist', 'server', 'main.cjs'));
    const serverOptions: ServerOptions = {
        // A smaller young generation keeps the server's memory down (bench/lsp/rss.ts on a
        // 2,000-line spec: 118 → 105 MB open, ~158 → 146 MB after 15 edits, same CPU per edit; 2 MB cost 20% CPU).
        run: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--max-semi-space-size=8'] } },
        debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
    };
    const clientOptions: LanguageClientOptions = {
        documentSelector: [
            { language: 'mismatch', scheme: 'file' },
            { language: 'mismatch', scheme: 'untitled' },
        ],
        outputChannel: log,
        // Workspace trust: in an untrusted workspace a path leaving the workspace is an error (language/validation/path-policy.ts).
        initializationOptions: { trusted: vscode.workspace.isTrusted },
    };
    client = new LanguageClient('mismatch', 'Mismatch Language Server', serverOptions, clientOptions);
    const started = client.start();
    context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void started.then(() => client?.sendNotification(TrustNotification, { trusted: true }))));

    const engine = () => loadEngine(context.extensionPath);
    const specs = new Specs(client, engine, log);
    const runner = new Runner(specs, engine, log, context.extensionPath);
    const renderer = new Renderer(specs);
    const codeLens = new StepCodeLens(specs, runner);
    const results = new ResultsView(context, specs, engine);
    context.subscriptions.push(specs, runner, renderer, codeLens, results);
    context.subscriptions.push(vscode.languages.registerCodeLensProvider({ language: 'mismatch', scheme: 'file' }, codeLens));

    /** The spec a command applies to: an explicit URI (CodeLens, menus) or the active editor's. */
    async function specDocument(arg?: unknown): Promise<vscode.TextDocument | undefined> {
        const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
        if (!uri) {
            void vscode.window.showErrorMessage('Mismatch: open a .mismatch spec first.');
            return undefined;
        }
        const doc = await vscode.workspace.openTextDocument(uri);
        if (doc.languageId !== 'mismatch') {
            void vscode.window.showErrorMessage('Mismatch: the active editor is not a .mismatch spec.');
            return undefined;
        }
        return doc;
    }

    /** The step at the cursor (for "Run Step"/"Run to Here" from the palette). */
    async function stepAtCursor(doc: vscode.TextDocument): Promise<string | undefined> {
        const editor = vscode.window.activeTextEditor;
        const state = specs.get(doc.uri) ?? (await specs.refresh(doc.uri));
        const steps = state.plan?.steps.filter((s) => s.range.file === doc.uri.fsPath) ?? [];
        if (editor && editor.document.uri.toString() === doc.uri.toString()) {
            const line = editor.selection.active.line;
            const here = steps.find((s) => s.range.start.line <= line && line <= s.range.end.line);
            if (here) return here.id;
        }
        const pick = await vscode.window.showQuickPick(
            steps.map((s) => ({ label: s.id, description: s.kind, detail: `line ${s.range.start.line + 1}` })),
            { placeHolder: 'Which step?' },
        );
        return pick?.label;
    }

    const command = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));

    command('mismatch.runExperiment', async (uri?: unknown) => {
        const doc = await specDocument(uri);
        if (doc) return runner.run(doc);
    });
    command('mismatch.runStep', async (uri?: unknown, step?: unknown) => {
        const doc = await specDocument(uri);
        if (!doc) return;
        if (!vscode.workspace.isTrusted) return runner.run(doc, {});
        const id = typeof step === 'string' ? step : await stepAtCursor(doc);
        if (id) return runner.run(doc, { step: id });
    });
    command('mismatch.runToHere', async (uri?: unknown, step?: unknown) => {
        const doc = await specDocument(uri);
        if (!doc) return;
        if (!vscode.workspace.isTrusted) return runner.run(doc, {});
        const id = typeof step === 'string' ? step : await stepAtCursor(doc);
        if (id) return runner.run(doc, { to: id });
    });
    command('mismatch.cancelRun', (uri?: unknown) => {
        const target = uri instanceof vscode.Uri ? uri : undefined;
        if (runner.cancel(target)) return;
        codeLens.refresh(); // a stale "■ Cancel" was clicked: show what is true now
        void vscode.window.showInformationMessage('Mismatch: nothing is running.');
    });
    command('mismatch.openResults', async (uri?: unknown) => {
        const doc = await specDocument(uri);
        if (doc) await results.show(doc.uri);
    });
    command('mismatch.showLog', () => log.show(true));
    command('mismatch.cleanStore', async (uri?: unknown) => {
        if (!vscode.workspace.isTrusted) return void vscode.window.showWarningMessage(UNTRUSTED_MESSAGE);
        const doc = await specDocument(uri);
        if (!doc) return;
        if (runner.isRunning(doc.uri)) return void vscode.window.showWarningMessage('Mismatch: cancel the run before cleaning its store.');
        const storeDir = runSettings(doc.uri).storeDir;
        const choice = await vscode.window.showWarningMessage(
            `Clean the run store ${storeDir}?`,
            { modal: true, detail: '"Unused results" keeps the latest result of every step of every spec; "Everything" deletes the whole store.' },
            'Unused Results',
            'Everything',
        );
        if (!choice) return;
        // Through the store only: it refuses a directory that is not a store and a store a run holds,
        // removes entries by their keys and never follows symbolic links.
        const store = (await engine()).openStore(storeDir);
        try {
            const all = choice === 'Everything';
            const { removed, bytes } = await store.clean(all ? new Set() : await store.latestKeys(), { spec: doc.uri.fsPath, everything: all });
            log.info(`removed ${removed.length} entries (${(bytes / 2 ** 20).toFixed(1)} MiB) from ${storeDir}`);
        } catch (e) {
            return void vscode.window.showWarningMessage(`Mismatch: ${e instanceof Error ? e.message : String(e)}`);
        }
        for (const s of specs.all()) await specs.reloadResults(s);
        void vscode.window.showInformationMessage(`Mismatch: store cleaned (${choice === 'Everything' ? 'everything' : 'unused results'}).`);
    });
    // Internal, for tests and diagnostics: the last run's record (summary, lag, time) of a spec.
    command('mismatch._lastRun', (uri?: unknown) => {
        const p = uri instanceof vscode.Uri ? uri.fsPath : vscode.window.activeTextEditor?.document.uri.fsPath;
        return p ? runner.lastRun.get(p) : undefined;
    });
    command('mismatch._annotations', (uri?: unknown) => {
        const u = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
        return u ? specs.get(u)?.annotations : undefined;
    });

    context.subscriptions.push(
        vscode.workspace.onDidGrantWorkspaceTrust(() => {
            for (const s of specs.all()) specs.schedule(s.uri, 0);
        }),
    );
    await started.catch((e: unknown) => log.error(`the language server did not start: ${String(e)}`));
    return { specs, runner, results };
}

export async function deactivate(): Promise<void> {
    await client?.stop();
    client = undefined;
}
