/**
 * What grows in the server with the 2,000-line spec: resident memory and V8 heap after opening and
 * after rounds of edits, each read as is and after a forced full GC (a preloaded probe in the server
 * answers SIGUSR2 with gc() and process.memoryUsage() on stderr). Heap used after GC that grows from
 * round to round is retained memory (a leak or a cache); resident memory far above it is GC slack.
 *   node bench/lsp/run.mjs heap [--rounds 4] [--edits 15] [--flags '["--max-semi-space-size=8"]']
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LspClient } from '../../test/lsp/lsp-client.js';
import { generateSpec } from './generate.js';

const arg = (name: string, fallback: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('rounds', '4'));
const edits = Number(arg('edits', '15'));
const flags: string[] = JSON.parse(arg('flags', '["--max-semi-space-size=8"]'));
const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;

const probe = join(process.cwd(), 'bench/.cache/gc-probe.cjs');
mkdirSync(join(process.cwd(), 'bench/.cache'), { recursive: true });
writeFileSync(
    probe,
    `process.on('SIGUSR2', () => { const before = process.memoryUsage(); global.gc(); const after = process.memoryUsage(); process.stderr.write('GCPROBE ' + JSON.stringify({ before, after }) + '\\n'); });\n`,
);
const { client } = await LspClient.start({ nodeArgs: [...flags, '--expose-gc', '--require', probe] });
const internals = client as unknown as { child: { pid: number }; stderr: string[] };

async function gcProbe(): Promise<{ before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage; rssAfter: number }> {
    const seen = internals.stderr.join('').split('GCPROBE ').length;
    process.kill(internals.child.pid, 'SIGUSR2');
    for (;;) {
        await new Promise((r) => setTimeout(r, 50));
        const parts = internals.stderr.join('').split('GCPROBE ');
        if (parts.length > seen && parts[parts.length - 1].includes('\n')) {
            const r = JSON.parse(parts[parts.length - 1].split('\n')[0]);
            return { ...r, rssAfter: client.rss() };
        }
    }
}
const line = (label: string, rss: number, p: Awaited<ReturnType<typeof gcProbe>>) =>
    console.log(
        `${label.padEnd(16)} rss ${mb(rss)} (heap used ${mb(p.before.heapUsed)} of ${mb(p.before.heapTotal)}, external ${mb(p.before.external)}, array buffers ${mb(p.before.arrayBuffers)}); after GC rss ${mb(p.rssAfter)}, heap used ${mb(p.after.heapUsed)} of ${mb(p.after.heapTotal)}`,
    );

const text = generateSpec(2000);
const uri = 'file:///bench/heap.mismatch';
const d = client.nextDiagnostics(uri, 1, 120_000);
await client.open(uri, text);
await d;
line('open', client.rss(), await gcProbe());
const at = text.indexOf('epochs 3  learningRate 1e-3 }', text.length / 2);
let k = 0;
for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < edits; i++, k++) {
        const v = await client.change(uri, text.slice(0, at) + `epochs ${4 + (k % 5)}` + text.slice(at + 'epochs 3'.length));
        await client.nextDiagnostics(uri, v, 120_000);
    }
    line(`after ${k} edits`, client.rss(), await gcProbe());
}
await client.stop();
