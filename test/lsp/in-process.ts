/**
 * The language server in this process (server/start.ts) on an in-memory connection, with the file
 * system a test chooses: for what the child-process client (lsp-client.ts) cannot control, such as a
 * slow disk. The client side is the same LspSession.
 */
import { PassThrough } from 'node:stream';
import type { FileSystemProvider } from 'langium';
import { NodeFileSystemProvider } from 'langium/node';
import { StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver-protocol/node.js';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node.js';
import { startMismatchServer } from '../../server/start.js';
import { LspSession } from './lsp-client.js';

export function startInProcess(fileSystemProvider: () => FileSystemProvider = () => new NodeFileSystemProvider()): LspSession {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    startMismatchServer(createConnection(ProposedFeatures.all, new StreamMessageReader(toServer), new StreamMessageWriter(toClient)), { fileSystemProvider });
    return new LspSession(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
}
