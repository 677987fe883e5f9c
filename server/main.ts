// Starts the Mismatch language server (stdio or IPC, as the client asks). Nothing else lives here.
import { startLanguageServer } from 'langium/lsp';
import { NodeFileSystem } from 'langium/node';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node.js';
import { createMismatchServices } from '../language/mismatch-module.js';
import { registerPlanRequest } from './plan-request.js';
import { TrustNotification } from '../language/protocol.js';
import { policyFromInitialize, setPathPolicy } from '../language/validation/path-policy.js';
import { limitHeapGrowth } from './memory.js';

limitHeapGrowth();

const connection = createConnection(ProposedFeatures.all);
const { shared } = createMismatchServices({ connection, ...NodeFileSystem });
registerPlanRequest(connection, shared);
// Paths leaving the workspace: errors while the workspace is untrusted, warnings once trusted.
shared.lsp.LanguageServer.onInitialize((params) => setPathPolicy(policyFromInitialize(params)));
connection.onNotification(TrustNotification, (p) => {
    setPathPolicy({ strict: p.trusted === false });
    const uris = shared.workspace.LangiumDocuments.all.map((d) => d.uri).toArray();
    void shared.workspace.DocumentBuilder.update(uris, []);
});
startLanguageServer(shared);
