/**
 * The language server in this process (server/start.ts) on an in-memory connection, with the file
 * system a test chooses: for what needs control the child-process client (lsp-client.ts) cannot
 * give, such as a slow disk. The client side answers the server's own requests as VS Code would.
 */
import { PassThrough } from 'node:stream';
import type { FileSystemProvider } from 'langium';
import { NodeFileSystemProvider } from 'langium/node';
import {
    createProtocolConnection,
    PublishDiagnosticsNotification,
    StreamMessageReader,
    StreamMessageWriter,
    type ProtocolConnection,
    type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol/node.js';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node.js';
import { startMismatchServer } from '../../server/start.js';

export interface InProcessServer {
    client: ProtocolConnection;
    /** Every publishDiagnostics notification, in order of arrival. */
    published: PublishDiagnosticsParams[];
    /** Resolves with the first notification (already arrived or to come) for which `test` holds; bounded. */
    diagnosticsWhere(test: (p: PublishDiagnosticsParams) => boolean, timeoutMs: number, what: string): Promise<PublishDiagnosticsParams>;
}

export function startInProcess(fileSystemProvider: () => FileSystemProvider = () => new NodeFileSystemProvider()): InProcessServer {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    startMismatchServer(createConnection(ProposedFeatures.all, new StreamMessageReader(toServer), new StreamMessageWriter(toClient)), { fileSystemProvider });
    const client = createProtocolConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
    const published: PublishDiagnosticsParams[] = [];
    const waiters: { test: (p: PublishDiagnosticsParams) => boolean; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
    client.onNotification(PublishDiagnosticsNotification.type, (p) => {
        published.push(p);
        for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].test(p)) waiters.splice(i, 1)[0].resolve(p);
    });
    client.onRequest('workspace/configuration', (params: { items: unknown[] }) => params.items.map(() => null));
    client.onRequest('client/registerCapability', () => null);
    client.listen();
    const diagnosticsWhere = (test: (p: PublishDiagnosticsParams) => boolean, timeoutMs: number, what: string) =>
        new Promise<PublishDiagnosticsParams>((resolve, reject) => {
            const hit = published.find(test);
            if (hit) return resolve(hit);
            const timer = setTimeout(() => reject(new Error(`no diagnostics ${what} within ${timeoutMs} ms (got ${published.length} notifications)`)), timeoutMs);
            waiters.push({
                test,
                resolve: (p) => {
                    clearTimeout(timer);
                    resolve(p);
                },
            });
        });
    return { client, published, diagnosticsWhere };
}
