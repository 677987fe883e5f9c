/**
 * Server resident memory and CPU per edit on the 2,000-line spec with different V8 flags:
 * `node bench/lsp/run.mjs rss [--sets '[[], ["--max-semi-space-size=8"]]']`.
 */
import { LspClient } from '../../test/lsp/lsp-client.js';
import { generateSpec } from './generate.js';

const flagSets: string[][] = process.argv.includes('--sets') ? JSON.parse(process.argv[process.argv.indexOf('--sets') + 1]) : [[], ['--max-semi-space-size=8'], ['--max-semi-space-size=2']];
const text = generateSpec(2000);
for (const flags of flagSets) {
    const { client } = await LspClient.start({ nodeArgs: flags });
    const uri = 'file:///bench/rss.mismatch';
    const t0 = performance.now();
    const d = client.nextDiagnostics(uri, 1, 60_000);
    await client.open(uri, text);
    await d;
    const open = client.rss();
    const tOpen = performance.now() - t0;
    const times: number[] = [];
    const c0 = client.cpuMs();
    for (let i = 0; i < 15; i++) {
        const t1 = performance.now();
        const v = await client.change(uri, text.replace('epochs 3', `epochs ${4 + (i % 5)}`));
        await client.nextDiagnostics(uri, v, 60_000);
        times.push(performance.now() - t1);
    }
    const cpuPerEdit = (client.cpuMs() - c0) / 15;
    const edited = client.rss();
    await new Promise((r) => setTimeout(r, 2000));
    const idle = client.rss();
    times.sort((a, b) => a - b);
    console.log(
        `${(flags.join(' ') || 'default').padEnd(50)} open ${tOpen.toFixed(0)} ms rss ${(open / 2 ** 20).toFixed(0)} MB; after 15 edits ${(edited / 2 ** 20).toFixed(0)} MB, idle ${(idle / 2 ** 20).toFixed(0)} MB; edit p50 ${times[7].toFixed(0)} ms, server cpu ${cpuPerEdit.toFixed(0)} ms/edit`,
    );
    await client.stop();
}
