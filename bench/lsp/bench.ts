/**
 * Language-server benchmark (issue 4, item 9), in one run on a generated 2,000-line spec:
 * - Langium parse + link alone, in process (a fresh document built without validation), and with
 *   validation for reference;
 * - an edit → published diagnostics through the bundled server over stdio;
 * - completion latency (p50/p95) at several kinds of position;
 * - the server's resident memory with the spec open.
 * Prints the ratios against the goals: diagnostics ≤ 1.3× parse+link, completion p95 ≤ 16 ms,
 * memory ≤ 150 MB. Run: `node bench/lsp/run.mjs bench [--lines 2000] [--runs 15]`.
 * Timings on a shared machine vary: run it when the machine is quiet.
 */
import { EmptyFileSystem, URI } from 'langium';
import { createMismatchServices } from '../../language/mismatch-module.js';
import { LspClient, positionOf } from '../../test/lsp/lsp-client.js';
import { generateSpec } from './generate.js';

const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const LINES = arg('lines', 2000);
const RUNS = arg('runs', 15);

function quantile(xs: number[], q: number): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const median = (xs: number[]) => quantile(xs, 0.5);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function inProcess(text: string): Promise<{ parseLink: number[]; withValidation: number[] }> {
    const { Mismatch, shared } = createMismatchServices(EmptyFileSystem);
    const factory = shared.workspace.LangiumDocumentFactory;
    const documents = shared.workspace.LangiumDocuments;
    const builder = shared.workspace.DocumentBuilder;
    const parseLink: number[] = [];
    const withValidation: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
        for (const validation of [false, true]) {
            const uri = URI.parse(`file:///bench/in-process-${i}-${validation}.mismatch`);
            const t0 = performance.now();
            const doc = factory.fromString(text, uri);
            documents.addDocument(doc);
            await builder.build([doc], { validation });
            const ms = performance.now() - t0;
            if (i >= 2) (validation ? withValidation : parseLink).push(ms); // 2 warm-up rounds
            documents.deleteDocument(uri);
        }
    }
    void Mismatch;
    return { parseLink, withValidation };
}

async function main(): Promise<void> {
    const text = generateSpec(LINES);
    console.log(`spec: ${text.split('\n').length - 1} lines, ${(text.length / 1024).toFixed(0)} KiB; ${RUNS} runs each`);

    const { parseLink, withValidation } = await inProcess(text);
    console.log(`parse+link (in process):              p50 ${fmt(median(parseLink))}  p95 ${fmt(quantile(parseLink, 0.95))}`);
    console.log(`parse+link+validate (in process):     p50 ${fmt(median(withValidation))}  p95 ${fmt(quantile(withValidation, 0.95))}`);

    const { client } = await LspClient.start();
    try {
        const uri = 'file:///bench/large.mismatch';
        const opened = client.nextDiagnostics(uri, 1, 60_000);
        const t0 = performance.now();
        await client.open(uri, text);
        const first = await opened;
        const errors = first.diagnostics.filter((d) => d.severity === 1);
        console.log(`open → diagnostics (server):          ${fmt(performance.now() - t0)} (${first.diagnostics.length} diagnostics, ${errors.length} errors${errors[0] ? `: ${errors[0].message}` : ''})`);

        // Edits in the middle of the file, alternating so that every version differs.
        const edit: number[] = [];
        const target = 'epochs 3  learningRate 1e-3 }';
        const at = text.indexOf(target, text.length / 2);
        for (let i = 0; i < RUNS + 2; i++) {
            const changed = text.slice(0, at) + `epochs ${4 + (i % 5)}` + text.slice(at + 'epochs 3'.length);
            const t1 = performance.now();
            const version = await client.change(uri, changed);
            await client.nextDiagnostics(uri, version, 60_000);
            if (i >= 2) edit.push(performance.now() - t1);
        }
        console.log(`edit → diagnostics (server):          p50 ${fmt(median(edit))}  p95 ${fmt(quantile(edit, 0.95))}`);
        const current = text.slice(0, at) + `epochs ${4 + ((RUNS + 1) % 5)}` + text.slice(at + 'epochs 3'.length);

        // Completion at several kinds of position, in the middle and at the end of the file.
        const groups = [...current.matchAll(/finetune smallOnSmall(\d+) =/g)].map((m) => Number(m[1]));
        const mid = groups[Math.floor(groups.length / 2)];
        const last = groups[groups.length - 1];
        const positions: Array<[string, { line: number; character: number }]> = [
            ['statement start (keywords)', positionOf(current, `  // group ${mid}\n`, `  // group ${mid}\n`.length)],
            ['reference after `=` (models)', positionOf(current, `finetune smallOnSmall${mid} = `, `finetune smallOnSmall${mid} = `.length)],
            ['block property (finetune)', positionOf(current, `finetune smallOnSmall${mid} = small${mid} on bySmall${mid} { `, `finetune smallOnSmall${mid} = small${mid} on bySmall${mid} { `.length)],
            ['split after `.`', positionOf(current, `on trivia${mid}.`, `on trivia${mid}.`.length)],
            ['reference near the end', positionOf(current, `finetune smallOnSmall${last} = `, `finetune smallOnSmall${last} = `.length)],
        ];
        const all: number[] = [];
        for (const [name, pos] of positions) {
            const times: number[] = [];
            let count = 0;
            for (let i = 0; i < RUNS + 3; i++) {
                const t1 = performance.now();
                const items = await client.completion(uri, pos);
                const ms = performance.now() - t1;
                count = items.length;
                if (i >= 3) times.push(ms);
            }
            all.push(...times);
            console.log(`completion, ${name.padEnd(30)} p50 ${fmt(median(times))}  p95 ${fmt(quantile(times, 0.95))}  (${count} items)`);
        }
        const rss = client.rss();

        const ratio = median(edit) / median(parseLink);
        const p95 = quantile(all, 0.95);
        console.log('');
        console.log(`diagnostics / parse+link: ${ratio.toFixed(2)}×   (goal ≤ 1.3×)  ${ratio <= 1.3 ? 'met' : 'MISSED'}`);
        console.log(`completion p95 (all positions): ${fmt(p95)}   (goal ≤ 16 ms)  ${p95 <= 16 ? 'met' : 'MISSED'}`);
        console.log(`server resident memory: ${(rss / 1024 / 1024).toFixed(0)} MB   (goal ≤ 150 MB)  ${rss <= 150 * 1024 * 1024 ? 'met' : 'MISSED'}`);
    } finally {
        await client.stop();
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
