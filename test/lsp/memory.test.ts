/**
 * The language server's heap between collections: every edit of a large spec rebuilds the document,
 * and V8's default lets the old generation grow to up to 4× what is alive before collecting, which
 * doubled the server's resident memory after a few edits of the 2,000-line spec (server/memory.ts).
 * A probe preloaded into the server samples the heap in use between tasks and, on SIGUSR2, reports
 * the peak since the last report and the heap left after a forced full collection (what is alive).
 * Expected bound by hand: growing factor 1.5 over ~31 MB alive plus the young generation (3 × 8 MB
 * semi-spaces at most) is under 2× alive + 24 MB; the default factor reached 145 MB over 31 MB alive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSpec } from '../../bench/lsp/generate.js';
import { LspClient } from './lsp-client.js';

const PROBE = `
const v8 = require('node:v8');
let peak = 0;
setInterval(() => { peak = Math.max(peak, v8.getHeapStatistics().used_heap_size); }, 1).unref();
process.on('SIGUSR2', () => {
    peak = Math.max(peak, v8.getHeapStatistics().used_heap_size);
    global.gc();
    process.stderr.write('HEAPPROBE ' + JSON.stringify({ peak, alive: v8.getHeapStatistics().used_heap_size }) + '\\n');
    peak = 0;
});
`;

let dir: string;
let client: LspClient;

beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mismatch-lsp-mem-'));
    writeFileSync(join(dir, 'probe.cjs'), PROBE);
    // The flags the extension starts the server with (client/extension.ts), plus the probe.
    ({ client } = await LspClient.start({ nodeArgs: ['--max-semi-space-size=8', '--expose-gc', '--require', join(dir, 'probe.cjs')] }));
}, 120_000);

afterAll(async () => {
    if (client) await client.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

async function probe(): Promise<{ peak: number; alive: number }> {
    const internals = client as unknown as { child: { pid: number }; stderr: string[] };
    const count = () => internals.stderr.join('').split('HEAPPROBE ').length;
    const seen = count();
    process.kill(internals.child.pid, 'SIGUSR2');
    const deadline = Date.now() + 60_000;
    while (count() === seen || !internals.stderr.join('').split('HEAPPROBE ').at(-1)!.includes('\n')) {
        if (Date.now() > deadline) throw new Error(`no heap report from the server; stderr: ${internals.stderr.join('').slice(-2000)}`);
        await new Promise((r) => setImmediate(r));
    }
    return JSON.parse(internals.stderr.join('').split('HEAPPROBE ').at(-1)!.split('\n')[0]);
}

describe('language server memory', () => {
    it('keeps the heap near what is alive across edits of the 2,000-line spec', async () => {
        const text = generateSpec(2000);
        const uri = 'file:///memory/large.mismatch';
        const opened = client.nextDiagnostics(uri, 1, 120_000);
        await client.open(uri, text);
        await opened;
        const start = await probe();
        const at = text.indexOf('epochs 3  learningRate 1e-3 }', text.length / 2);
        for (let i = 0; i < 15; i++) {
            const v = await client.change(uri, text.slice(0, at) + `epochs ${4 + (i % 5)}` + text.slice(at + 'epochs 3'.length));
            await client.nextDiagnostics(uri, v, 120_000);
        }
        const after = await probe();
        // Nothing is retained by the edits (the same document, rebuilt) ...
        expect(after.alive).toBeLessThan(start.alive * 1.2);
        // ... and the garbage between collections stays bounded.
        expect(after.peak).toBeLessThan(2 * after.alive + 24 * 2 ** 20);
    }, 600_000);
});
