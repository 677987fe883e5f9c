/**
 * A small LSP client for tests, fuzzing and benchmarks: starts the bundled language server
 * (`dist/server/main.cjs --stdio`) as a child process and drives it over stdio with
 * `vscode-languageserver-protocol`. No editor involved; what it sees is what VS Code would see.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
    CompletionRequest,
    createProtocolConnection,
    DidChangeTextDocumentNotification,
    DidCloseTextDocumentNotification,
    DidOpenTextDocumentNotification,
    DocumentFormattingRequest,
    DocumentSymbolRequest,
    ExitNotification,
    HoverRequest,
    InitializedNotification,
    InitializeRequest,
    PublishDiagnosticsNotification,
    ShutdownRequest,
    StreamMessageReader,
    StreamMessageWriter,
    type CompletionItem,
    type CompletionList,
    type Diagnostic,
    type Hover,
    type InitializeResult,
    type MessageReader,
    type MessageWriter,
    type Position,
    type ProtocolConnection,
    type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol/node.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const serverBundle = resolve(repoRoot, 'dist/server/main.cjs');

/** Builds the server bundle when it is missing (fresh clone without `npm run build`). */
export async function ensureServerBuilt(): Promise<void> {
    if (existsSync(serverBundle)) return;
    await new Promise<void>((ok, fail) => {
        const p = spawn('npm', ['run', 'build'], { cwd: repoRoot, stdio: 'inherit' });
        p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`npm run build exited ${code}`))));
    });
}

export interface DiagnosticsEvent {
    uri: string;
    version?: number;
    diagnostics: Diagnostic[];
    at: number;
}

/**
 * The client side of a language server connection, wherever the server runs (a child process here,
 * or this process in test/lsp/in-process.ts): diagnostics as they arrive, document sync and
 * requests; it answers the server's own requests as VS Code would.
 */
export class LspSession {
    readonly connection: ProtocolConnection;
    /** Every publishDiagnostics notification, in order of arrival. */
    readonly published: DiagnosticsEvent[] = [];
    private waiters: Array<{ test: (e: DiagnosticsEvent) => boolean; resolve: (e: DiagnosticsEvent) => void }> = [];
    private versions = new Map<string, number>();

    constructor(reader: MessageReader, writer: MessageWriter) {
        this.connection = createProtocolConnection(reader, writer);
        this.connection.onNotification(PublishDiagnosticsNotification.type, (p: PublishDiagnosticsParams) => {
            const e: DiagnosticsEvent = { uri: p.uri, version: p.version, diagnostics: p.diagnostics, at: performance.now() };
            this.published.push(e);
            const still = [];
            for (const w of this.waiters) {
                if (w.test(e)) w.resolve(e);
                else still.push(w);
            }
            this.waiters = still;
        });
        // The server may log or ask for configuration; answer politely.
        this.connection.onRequest('workspace/configuration', (params: { items: unknown[] }) => params.items.map(() => null));
        this.connection.onRequest('client/registerCapability', () => null);
        this.connection.onRequest('window/workDoneProgress/create', () => null);
        this.connection.onNotification('window/logMessage', () => undefined);
        this.connection.listen();
    }

    /** What a wait that timed out adds to its message (the server's stderr, where there is one). */
    protected failureContext(): string {
        return '';
    }

    /** Resolves with the first diagnostics published after this call for which `test` holds (bounded). */
    private waitFor(test: (e: DiagnosticsEvent) => boolean, timeoutMs: number, what: string): Promise<DiagnosticsEvent> {
        return new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`no diagnostics ${what} within ${timeoutMs} ms (${this.published.length} published)${this.failureContext()}`)), timeoutMs);
            this.waiters.push({
                test,
                resolve: (e) => {
                    clearTimeout(timer);
                    ok(e);
                },
            });
        });
    }

    /** Resolves with the next diagnostics for `uri` (at `version` or later when given). */
    nextDiagnostics(uri: string, version?: number, timeoutMs = 10_000): Promise<DiagnosticsEvent> {
        return this.waitFor((e) => e.uri === uri && (version === undefined || e.version === undefined || e.version >= version), timeoutMs, `for ${uri} v${version}`);
    }

    /** Resolves with the first diagnostics, already published or to come, for which `test` holds (bounded). */
    diagnosticsWhere(test: (e: DiagnosticsEvent) => boolean, timeoutMs: number, what: string): Promise<DiagnosticsEvent> {
        const hit = this.published.find(test);
        return hit ? Promise.resolve(hit) : this.waitFor(test, timeoutMs, what);
    }

    async open(uri: string, text: string): Promise<number> {
        this.versions.set(uri, 1);
        await this.connection.sendNotification(DidOpenTextDocumentNotification.type, {
            textDocument: { uri, languageId: 'mismatch', version: 1, text },
        });
        return 1;
    }

    /** Replaces the whole text (full sync) and returns the new version. */
    async change(uri: string, text: string): Promise<number> {
        const version = (this.versions.get(uri) ?? 0) + 1;
        this.versions.set(uri, version);
        await this.connection.sendNotification(DidChangeTextDocumentNotification.type, {
            textDocument: { uri, version },
            contentChanges: [{ text }],
        });
        return version;
    }

    async close(uri: string): Promise<void> {
        this.versions.delete(uri);
        await this.connection.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
    }

    completion(uri: string, position: Position): Promise<CompletionItem[]> {
        return this.connection
            .sendRequest(CompletionRequest.type, { textDocument: { uri }, position })
            .then((r: CompletionList | CompletionItem[] | null) => (r === null ? [] : Array.isArray(r) ? r : r.items));
    }

    hover(uri: string, position: Position): Promise<Hover | null> {
        return this.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position });
    }

    symbols(uri: string) {
        return this.connection.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } });
    }

    format(uri: string) {
        return this.connection.sendRequest(DocumentFormattingRequest.type, {
            textDocument: { uri },
            options: { tabSize: 2, insertSpaces: true },
        });
    }
}

export class LspClient extends LspSession {
    readonly child: ChildProcess;
    readonly stderr: string[] = [];
    exitCode: number | null | undefined;
    exitSignal: NodeJS.Signals | null | undefined;

    private constructor(child: ChildProcess) {
        super(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
        this.child = child;
        child.stderr!.on('data', (d: Buffer) => this.stderr.push(d.toString()));
        child.on('exit', (code, signal) => {
            this.exitCode = code;
            this.exitSignal = signal;
        });
    }

    protected override failureContext(): string {
        return `; stderr: ${this.stderr.join('').slice(-2000)}`;
    }

    /** Starts the server and runs the initialize handshake. */
    static async start(options: { rootDir?: string; nodeArgs?: string[] } = {}): Promise<{ client: LspClient; init: InitializeResult }> {
        await ensureServerBuilt();
        const child = spawn(process.execPath, [...(options.nodeArgs ?? []), serverBundle, '--stdio'], {
            cwd: repoRoot,
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        const client = new LspClient(child);
        const rootUri = options.rootDir ? pathToFileURL(options.rootDir).toString() : null;
        const init = await client.connection.sendRequest(InitializeRequest.type, {
            processId: process.pid,
            rootUri,
            workspaceFolders: rootUri ? [{ uri: rootUri, name: 'root' }] : null,
            capabilities: {
                textDocument: {
                    publishDiagnostics: { versionSupport: true },
                    completion: { completionItem: { snippetSupport: true, documentationFormat: ['markdown', 'plaintext'] } },
                    hover: { contentFormat: ['markdown', 'plaintext'] },
                    documentSymbol: { hierarchicalDocumentSymbolSupport: true },
                },
                workspace: { configuration: true, workspaceFolders: true },
            },
        });
        await client.connection.sendNotification(InitializedNotification.type, {});
        return { client, init };
    }

    get alive(): boolean {
        return this.exitCode === undefined && this.exitSignal === undefined;
    }

    /** Resident memory of the server process in bytes (Linux /proc). */
    rss(): number {
        const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
        const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
        return m ? Number(m[1]) * 1024 : NaN;
    }

    /** CPU time (user + system) the server process has used so far, in ms (Linux /proc, 10 ms ticks). */
    cpuMs(): number {
        const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) * 10;
    }

    /** Orderly shutdown; resolves with the exit code. Kills the process if it does not exit. */
    async stop(timeoutMs = 5000): Promise<number | null> {
        if (this.alive) {
            try {
                await Promise.race([this.connection.sendRequest(ShutdownRequest.type), new Promise((_, fail) => setTimeout(() => fail(new Error('shutdown timed out')), timeoutMs))]);
                await this.connection.sendNotification(ExitNotification.type);
            } catch {
                // fall through to the kill below
            }
        }
        const exited = new Promise<void>((ok) => {
            if (!this.alive) ok();
            else this.child.once('exit', () => ok());
        });
        const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
        this.connection.dispose();
        return this.exitCode ?? null;
    }
}

/** 0-based position of the `n`-th occurrence (0-based) of `needle` in `text`, plus `delta` characters. */
export function positionOf(text: string, needle: string, delta = 0, n = 0): Position {
    let at = -1;
    for (let i = 0; i <= n; i++) {
        at = text.indexOf(needle, at + 1);
        if (at < 0) throw new Error(`"${needle}" (#${n}) not found`);
    }
    const offset = at + delta;
    const before = text.slice(0, offset);
    const line = before.split('\n').length - 1;
    const character = offset - (before.lastIndexOf('\n') + 1);
    return { line, character };
}
