/**
 * Profiles one document build (parse, link, validate) of the generated spec in process: run with
 * `node --cpu-prof --cpu-prof-dir=bench/.cache/prof bench/lsp/run.mjs profile [--validation false]`
 * and read the top self-time functions printed by `node bench/lsp/top-profile.mjs <file.cpuprofile>`.
 */
import { EmptyFileSystem, URI } from 'langium';
import { createMismatchServices } from '../../language/mismatch-module.js';
import { generateSpec } from './generate.js';

const validation = !process.argv.includes('false');
const { shared } = createMismatchServices(EmptyFileSystem);
const text = generateSpec(2000);
const t: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < 12; i++) {
    const uri = URI.parse(`file:///bench/p${i}.mismatch`);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const doc = shared.workspace.LangiumDocumentFactory.fromString(text, uri);
    shared.workspace.LangiumDocuments.addDocument(doc);
    await shared.workspace.DocumentBuilder.build([doc], { validation });
    t.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    shared.workspace.LangiumDocuments.deleteDocument(uri);
}
console.log('wall', t.map((x) => x.toFixed(0)).join(' '));
console.log('cpu ', cpu.map((x) => x.toFixed(0)).join(' '), ' median', [...cpu].sort((a, b) => a - b)[6].toFixed(0), `rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
