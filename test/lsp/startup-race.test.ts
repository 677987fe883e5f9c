// The language server's start-up against the extension's first `mismatch/plan` request. The extension
// asks for the plan of the open spec as soon as the server has answered `initialize`, while the server
// is still loading the workspace's files. When the request created the document itself, the two reads
// of the same file raced: whichever added its document second failed ("a document with the URI … is
// already present"). When the workspace's start-up lost, its `ready` never resolved and no edit reached
// the server again: in a real editor on a busy machine the typo's squiggle and completion never came,
// while CodeLens and runs used the text as first opened. When the request lost, it answered without a
// plan. The server here runs in this process on an in-memory connection, over a file system whose
// first read of each spec is slow (a cold disk under load), so the two reads overlap every time.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { URI } from 'langium';
import { NodeFileSystemProvider } from 'langium/node';
import { InitializedNotification, InitializeRequest } from 'vscode-languageserver-protocol/node.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PlanRequest } from '../../language/protocol.js';
import { startInProcess } from './in-process.js';
import { repoRoot, type LspSession } from './lsp-client.js';

/** Simulated latency of a cold disk: not a wait for a condition, the slowness under test. */
const SLOW_READ_MS = 1_000;

/** The disk, with the first read of each spec slow: a second reader of the same file overtakes the first. */
class FirstReadSlow extends NodeFileSystemProvider {
    private readonly seen = new Set<string>();
    override async readFile(uri: URI): Promise<string> {
        const key = uri.toString();
        if (key.endsWith('.mismatch') && !this.seen.has(key)) {
            this.seen.add(key);
            await new Promise((r) => setTimeout(r, SLOW_READ_MS));
        }
        return super.readFile(uri);
    }
}

let dir: string;
let server: LspSession;

beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mm-startup-race-'));
    cpSync(join(repoRoot, 'test/e2e/fixtures/tiny'), dir, { recursive: true });
    server = startInProcess(() => new FirstReadSlow());
});
afterAll(() => {
    server?.connection.dispose();
    rmSync(dir, { recursive: true, force: true });
});

it('the first plan request during the workspace load gets the plan, and edits still reach the server', async () => {
    const uri = pathToFileURL(join(dir, 'tiny.mismatch')).toString();
    const text = readFileSync(join(dir, 'tiny.mismatch'), 'utf8');
    const folder = pathToFileURL(dir).toString();
    const client = server.connection;
    await client.sendRequest(InitializeRequest.type, { processId: null, rootUri: folder, workspaceFolders: [{ uri: folder, name: 'tiny' }], capabilities: { workspace: { configuration: true } } });
    // What the extension sends once the server is up: initialized, the open spec, and its plan.
    await client.sendNotification(InitializedNotification.type, {});
    await server.open(uri, text);
    const first = await client.sendRequest(PlanRequest, { uri });
    expect(first.errors).toBe(0);
    expect(first.plan?.steps.map((s) => s.id)).toContain('smallOnLarge');

    // An edit, as the e2e test types it: the label's last letter deleted.
    const typo = text.replace('small on byLarge', 'small on byLarg');
    expect(await server.change(uri, typo)).toBe(2);
    const d = await server.diagnosticsWhere((p) => p.uri === uri && p.diagnostics.some((x) => x.severity === 1), 30_000, 'with an error after the edit');
    expect(d.diagnostics.map((x) => x.message).join('\n')).toMatch(/Unknown label .*'byLarg'/);
    const after = await client.sendRequest(PlanRequest, { uri });
    expect(after).toMatchObject({ errors: 1, version: 2 });
}, 60_000);
