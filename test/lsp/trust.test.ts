// Workspace trust in the language server: the extension says at start whether the workspace is
// trusted (initializationOptions) and notifies the server when it becomes trusted (mismatch/trust).
// A path leaving the workspace is an error while it is untrusted, a warning once it is trusted, and
// the open specs are rebuilt at once, without an edit.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InitializedNotification, InitializeRequest } from 'vscode-languageserver-protocol/node.js';
import { afterAll, expect, it } from 'vitest';
import { TrustNotification } from '../../language/protocol.js';
import { startInProcess } from './in-process.js';
import type { DiagnosticsEvent } from './lsp-client.js';

const base = mkdtempSync(join(tmpdir(), 'mm-trust-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const outside = (p: DiagnosticsEvent) => p.diagnostics.filter((d) => ((d.data as { code?: string } | undefined)?.code ?? d.code) === 'path-outside-workspace');

it('a path outside the workspace is an error while untrusted and a warning once trust is granted', async () => {
    mkdirSync(join(base, 'work'));
    mkdirSync(join(base, 'shared'));
    writeFileSync(join(base, 'shared', 'common.mismatch'), 'world atlas { entities 40 }\nmodel base = pretrain on atlas { knows 50% }\n');
    const spec = 'import "../shared/common.mismatch"\nexperiment E {\n  seed 1\n  dataset d from atlas { split train 50%  split test 50% }\n  evaluate base on d.test\n}\n';
    writeFileSync(join(base, 'work', 'main.mismatch'), spec);
    const server = startInProcess();
    const client = server.connection;
    const folder = pathToFileURL(join(base, 'work')).toString();
    const uri = pathToFileURL(join(base, 'work', 'main.mismatch')).toString();
    try {
        await client.sendRequest(InitializeRequest.type, {
            processId: null,
            rootUri: folder,
            workspaceFolders: [{ uri: folder, name: 'work' }],
            capabilities: { workspace: { configuration: true } },
            initializationOptions: { trusted: false },
        });
        await client.sendNotification(InitializedNotification.type, {});
        await server.open(uri, spec);
        // settled: the import loaded and linked (the first build may come before it), only the path reported
        const strict = await server.diagnosticsWhere((p) => p.uri === uri && p.diagnostics.length === 1 && outside(p).length === 1, 30_000, 'naming only the path outside the workspace');
        expect(outside(strict).map((d) => d.severity)).toEqual([1]);
        expect(outside(strict)[0].message).toMatch(/'..\/shared\/common.mismatch' is outside the workspace/);

        await client.sendNotification(TrustNotification, { trusted: true });
        const trusted = await server.diagnosticsWhere((p) => p.uri === uri && outside(p).some((d) => d.severity === 2), 30_000, 'with the path as a warning after trust');
        expect(outside(trusted).map((d) => d.severity)).toEqual([2]);
        expect(trusted.diagnostics.filter((d) => d.severity === 1)).toEqual([]);
    } finally {
        client.dispose();
    }
}, 60_000);
