/**
 * Completion latency in process (no IPC), wall and CPU time, on the generated 2,000-line spec: CPU
 * time is what a quiet machine's wall time would be when this one is shared.
 * `node bench/lsp/run.mjs completion [--runs 30]`
 */
import { EmptyFileSystem, URI } from 'langium';
import { createMismatchServices } from '../../language/mismatch-module.js';
import { positionOf } from '../../test/lsp/lsp-client.js';
import { generateSpec } from './generate.js';

const runs = (() => {
    const i = process.argv.indexOf('--runs');
    return i >= 0 ? Number(process.argv[i + 1]) : 30;
})();
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
const { shared, Mismatch } = createMismatchServices(EmptyFileSystem);
const text = generateSpec(2000);
const uri = URI.parse('file:///bench/completion.mismatch');
const doc = shared.workspace.LangiumDocumentFactory.fromString(text, uri);
shared.workspace.LangiumDocuments.addDocument(doc);
await shared.workspace.DocumentBuilder.build([doc], { validation: true });
const groups = [...text.matchAll(/finetune smallOnSmall(\d+) =/g)].map((m) => Number(m[1]));
const mid = groups[Math.floor(groups.length / 2)];
const last = groups[groups.length - 1];
const at = (needle: string) => positionOf(text, needle, needle.length);
const positions: Array<[string, ReturnType<typeof positionOf>]> = [
    ['statement start (keywords)', positionOf(text, `  // group ${mid}\n`, `  // group ${mid}\n`.length)],
    ['reference after `=` (models)', at(`finetune smallOnSmall${mid} = `)],
    ['block property (finetune)', at(`finetune smallOnSmall${mid} = small${mid} on bySmall${mid} { `)],
    ['split after `.`', at(`on trivia${mid}.`)],
    ['reference near the end', at(`finetune smallOnSmall${last} = `)],
];
const allWall: number[] = [];
const allCpu: number[] = [];
for (const [name, position] of positions) {
    const wall: number[] = [];
    const cpu: number[] = [];
    let n = 0;
    for (let i = 0; i < runs + 3; i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = await Mismatch.lsp.CompletionProvider!.getCompletion(doc, { textDocument: { uri: uri.toString() }, position });
        const w = performance.now() - t0;
        const c = process.cpuUsage(c0);
        n = r?.items.length ?? 0;
        if (i >= 3) {
            wall.push(w);
            cpu.push((c.user + c.system) / 1000);
        }
    }
    allWall.push(...wall);
    allCpu.push(...cpu);
    console.log(`${name.padEnd(30)} wall p50 ${q(wall, 0.5).toFixed(1)} p95 ${q(wall, 0.95).toFixed(1)} ms; cpu p50 ${q(cpu, 0.5).toFixed(1)} p95 ${q(cpu, 0.95).toFixed(1)} ms (${n} items)`);
}
console.log(`all positions: wall p95 ${q(allWall, 0.95).toFixed(1)} ms, cpu p95 ${q(allCpu, 0.95).toFixed(1)} ms (goal ≤ 16 ms)`);
