// Starts the Mismatch language server (stdio or IPC, as the client asks). Nothing else lives here.
import { NodeFileSystem } from 'langium/node';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node.js';
import { limitHeapGrowth } from './memory.js';
import { startMismatchServer } from './start.js';

limitHeapGrowth();
startMismatchServer(createConnection(ProposedFeatures.all), NodeFileSystem);
