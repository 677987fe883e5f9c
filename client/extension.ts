// The VS Code glue: starts the language server, and (in later commits) the run commands,
// CodeLens, annotations and results view. Nothing here interprets the spec.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node.js';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const output = vscode.window.createOutputChannel('Mismatch', { log: true });
    context.subscriptions.push(output);
    const serverModule = context.asAbsolutePath(path.join('dist', 'server', 'main.cjs'));
    const serverOptions: ServerOptions = {
        run: { module: serverModule, transport: TransportKind.ipc },
        debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
    };
    const clientOptions: LanguageClientOptions = {
        documentSelector: [{ language: 'mismatch' }],
        outputChannel: output,
    };
    client = new LanguageClient('mismatch', 'Mismatch Language Server', serverOptions, clientOptions);
    context.subscriptions.push(vscode.commands.registerCommand('mismatch.showLog', () => output.show(true)));
    await client.start();
}

export async function deactivate(): Promise<void> {
    await client?.stop();
    client = undefined;
}
