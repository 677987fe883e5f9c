/** CPU profile of the server during edits of the 2,000-line spec: `node bench/lsp/run.mjs server-profile`, then top-profile.mjs on bench/.cache/server-prof/*.cpuprofile. */
import { LspClient } from '../../test/lsp/lsp-client.js';
import { generateSpec } from './generate.js';

const text = generateSpec(2000);
const { client } = await LspClient.start({ nodeArgs: [...(process.argv.includes('--default') ? [] : ['--max-semi-space-size=8']), '--cpu-prof', '--cpu-prof-dir=bench/.cache/server-prof'] });
const uri = 'file:///bench/prof.mismatch';
const d = client.nextDiagnostics(uri, 1, 120_000);
await client.open(uri, text);
await d;
const at = text.indexOf('epochs 3  learningRate 1e-3 }', text.length / 2);
for (let i = 0; i < 20; i++) {
    const v = await client.change(uri, text.slice(0, at) + `epochs ${4 + (i % 5)}` + text.slice(at + 'epochs 3'.length));
    await client.nextDiagnostics(uri, v, 120_000);
}
await client.stop();
