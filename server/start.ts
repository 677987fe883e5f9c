// Starts the Mismatch language server on a connection: the language's services, the `mismatch/plan`
// request and workspace trust. server/main.ts gives it the process's connection and the disk; tests
// give it an in-memory connection and a file system they control.
import { startLanguageServer } from 'langium/lsp';
import type { DefaultSharedModuleContext } from 'langium/lsp';
import type { Connection } from 'vscode-languageserver';
import { createMismatchServices } from '../language/mismatch-module.js';
import { TrustNotification } from '../language/protocol.js';
import { policyFromInitialize, setPathPolicy } from '../language/validation/path-policy.js';
import { registerPlanRequest } from './plan-request.js';

export function startMismatchServer(connection: Connection, fileSystem: Omit<DefaultSharedModuleContext, 'connection'>): void {
    const { shared } = createMismatchServices({ connection, ...fileSystem });
    registerPlanRequest(connection, shared);
    // Paths leaving the workspace: errors while the workspace is untrusted, warnings once trusted.
    shared.lsp.LanguageServer.onInitialize((params) => setPathPolicy(policyFromInitialize(params)));
    connection.onNotification(TrustNotification, (p) => {
        setPathPolicy({ strict: p.trusted === false });
        // A rebuild like an edit's: through the workspace lock, after the workspace is loaded (a build
        // beside a running one, or before the workspace's documents exist, leaves documents half built).
        void shared.workspace.WorkspaceManager.ready.then(() =>
            shared.workspace.WorkspaceLock.write((token) => shared.workspace.DocumentBuilder.update(shared.workspace.LangiumDocuments.all.map((d) => d.uri).toArray(), [], token)),
        );
    });
    startLanguageServer(shared);
}
