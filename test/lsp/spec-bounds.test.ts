// The language server applies the CLI's bounds of one spec (language/spec-bounds.ts): a document
// over them gets the one `spec-too-large` error quickly, no plan and no disk reads for hover, and
// the server keeps answering; a document just under them is validated as usual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PlanRequest } from '../../language/protocol.js';
import { MAX_DECLARATIONS, MAX_SPEC_BYTES } from '../../language/spec-bounds.js';
import { LspClient, positionOf } from './lsp-client.js';

let client: LspClient;
let dir: string;

beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mismatch-lsp-bounds-'));
    ({ client } = await LspClient.start({ rootDir: dir }));
}, 120_000);

afterAll(async () => {
    if (client) await client.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One experiment holding `n` decodings, one per line from line 1 (0-based). */
function decodings(n: number, name = (i: number) => `d${i}`): string {
    return 'experiment E {\n' + Array.from({ length: n }, (_, i) => `  decoding ${name(i)} { temperature 0 }\n`).join('') + '}\n';
}

const errorsOf = <T extends { severity?: number }>(ds: T[]): T[] => ds.filter((d) => d.severity === 1);

describe('the language server bounds a spec as the CLI does', () => {
    it('one declaration over the bound: one spec-too-large error at that declaration, no plan, and the server still answers', async () => {
        const n = 2001;
        const text = decodings(n);
        // Independent count: declarations are the lines that start with `  decoding`.
        const lines = text.split('\n');
        const declLines = lines.flatMap((l, i) => (l.startsWith('  decoding ') ? [i] : []));
        expect(declLines.length).toBe(n);
        expect(n).toBe(MAX_DECLARATIONS + 1);
        const uri = pathToFileURL(join(dir, 'over.mismatch')).toString();
        const published = client.nextDiagnostics(uri, 1, 60_000);
        await client.open(uri, text);
        const { diagnostics } = await published;
        expect(diagnostics.map((d) => [d.code, d.severity])).toEqual([['spec-too-large', 1]]);
        expect(diagnostics[0].message).toBe(`This spec holds ${n} declarations; a spec may hold at most 2000: split it into files that import each other. It is not checked further.`);
        // The 2001st declaration (line 2001, 0-based) is the first past the bound.
        expect(diagnostics[0].range.start).toEqual({ line: declLines[2000], character: 2 });
        expect(declLines[2000]).toBe(2001);

        const plan = await client.connection.sendRequest(PlanRequest, { uri });
        expect(plan.plan).toBeUndefined();
        expect(plan.errors).toBe(1);
        const hover = await client.hover(uri, positionOf(text, 'd7 ', 0));
        expect(JSON.stringify(hover?.contents)).toContain('not checked further');
        const items = await client.completion(uri, positionOf(text, '{ temperature', 2));
        expect(items.length).toBeGreaterThan(0);
        expect(client.alive).toBe(true);
    }, 120_000);

    it('a spec one byte over 4 MB: the error on the first line, counted in UTF-8 bytes', async () => {
        const head = 'experiment E {\n  decoding greedy { temperature 0 }\n}\n';
        // `é` is 2 bytes in UTF-8 and 1 UTF-16 unit: the text has fewer characters than bytes.
        const comment = `// ${'é'.repeat(60)}\n`; // 3 + 120 + 1 = 124 bytes
        const bound = 4 * 1024 * 1024;
        expect(MAX_SPEC_BYTES).toBe(bound);
        let text = head + comment.repeat(Math.floor((bound - head.length) / 124));
        // Pad with ASCII to exactly one byte over: head is ASCII, every comment 124 bytes.
        const size = head.length + Math.floor((bound - head.length) / 124) * 124;
        const pad = bound + 1 - size; // bytes still needed, as a comment line of `pad` bytes
        expect(pad).toBeGreaterThanOrEqual(4);
        text += '//' + 'x'.repeat(pad - 3) + '\n';
        expect(Buffer.byteLength(text, 'utf8')).toBe(bound + 1);
        expect(text.length).toBeLessThan(bound);
        const uri = pathToFileURL(join(dir, 'bytes.mismatch')).toString();
        const published = client.nextDiagnostics(uri, 1, 60_000);
        await client.open(uri, text);
        const { diagnostics } = await published;
        expect(diagnostics.map((d) => [d.code, d.range.start.line, d.range.start.character])).toEqual([['spec-too-large', 0, 0]]);
        expect(diagnostics[0].message).toContain('This spec is 4.0 MB; a spec may hold at most 4 MB');
        const hover = await client.hover(uri, positionOf(text, 'decoding', 0));
        expect(hover).not.toBeNull();
    }, 120_000);

    it('a spec at the bound is validated as usual (a duplicate name is reported)', async () => {
        const n = 2000;
        // The last declaration reuses the first one's name.
        const text = decodings(n, (i) => (i === n - 1 ? 'd0' : `d${i}`));
        const uri = pathToFileURL(join(dir, 'under.mismatch')).toString();
        const published = client.nextDiagnostics(uri, 1, 120_000);
        await client.open(uri, text);
        const { diagnostics } = await published;
        expect(diagnostics.map((d) => d.code)).not.toContain('spec-too-large');
        const dup = errorsOf(diagnostics).filter((d) => (d.data as { code?: string } | undefined)?.code === 'duplicate-name');
        expect(dup.length).toBeGreaterThan(0);
        expect(dup.map((d) => d.range.start.line)).toContain(n); // line of the last declaration
        expect(client.alive).toBe(true);
    }, 180_000);
});
