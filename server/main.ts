// Starts the Mismatch language server (stdio or IPC, as the client asks). Nothing else lives here.
import { startLanguageServer } from 'langium/lsp';
import { NodeFileSystem } from 'langium/node';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node.js';
import { createMismatchServices } from '../language/mismatch-module.js';
import { registerPlanRequest } from './plan-request.js';

const connection = createConnection(ProposedFeatures.all);
const { shared } = createMismatchServices({ connection, ...NodeFileSystem });
registerPlanRequest(connection, shared);
startLanguageServer(shared);
