/**
 * Long fuzz run of the language server (the CI test `test/lsp/fuzz.test.ts` is bounded to about a
 * minute). `node bench/lsp/run.mjs fuzz [--versions 5000] [--minutes 10] [--seed 1] [--huge 2500] [--limit 1000]`
 */
import { LspClient } from '../../test/lsp/lsp-client.js';
import { fuzzServer } from '../../test/lsp/fuzz.js';

const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const { client } = await LspClient.start();
const stats = await fuzzServer(client, {
    seed: arg('seed', Date.now() % 1_000_000),
    versions: arg('versions', 5000),
    budgetMs: arg('minutes', 10) * 60_000,
    limitMs: arg('limit', 1000),
    hugeLines: arg('huge', 2500),
    log: (s) => console.log(s),
});
await client.stop();
console.log(`${stats.versions} versions, ${stats.requests} requests in ${(stats.elapsedMs / 1000).toFixed(0)} s; slowest ${stats.slowest.ms.toFixed(0)} ms (${stats.slowest.what})`);
console.log(`kinds: ${JSON.stringify(stats.byKind)}`);
console.log(`server alive: ${stats.alive}; final diagnostics: ${stats.finalDiagnostics}`);
console.log(stats.failures.length ? `${stats.failures.length} failures:\n  ${stats.failures.slice(0, 30).join('\n  ')}` : 'no failures');
process.exit(stats.failures.length || !stats.alive ? 1 : 0);
