/**
 * Imports in the language server: a spec that imports a file outside the workspace folder gets it
 * loaded and linked (no unknown names), and an edit of the imported file's name is reported.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { LspClient, repoRoot, serverBundle } from '../lsp/lsp-client.js';

beforeAll(async () => {
    await esbuild.build({
        entryPoints: [join(repoRoot, 'server/main.ts')],
        outfile: serverBundle,
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        external: ['vscode', 'node-llama-cpp', '@node-llama-cpp/*', 'koffi', '@koromix/*'],
        sourcemap: true,
        logLevel: 'silent',
    });
}, 120_000);

describe('imports in the language server', () => {
    it('loads an imported file from outside the workspace and links against it', async () => {
        const base = mkdtempSync(join(tmpdir(), 'mm-imp-'));
        mkdirSync(join(base, 'work'));
        mkdirSync(join(base, 'shared'));
        writeFileSync(join(base, 'shared', 'common.mismatch'), 'world atlas { entities 40 }\nmodel base = pretrain on atlas { knows 50% }\n');
        const spec = `import "../shared/common.mismatch"
experiment E {
  seed 1
  dataset d from atlas { split train 50%  split test 50% }
  label l = answers of base on d.train
  finetune f = base on l
  evaluate f, base on d.test
}`;
        const { client } = await LspClient.start({ rootDir: join(base, 'work') });
        try {
            const uri = pathToFileURL(join(base, 'work', 'main.mismatch')).toString();
            const first = client.nextDiagnostics(uri);
            await client.open(uri, spec);
            let event = await first;
            // The first build may run before the import is loaded; the loader then relinks.
            for (let i = 0; i < 5 && event.diagnostics.some((d) => d.severity === 1); i++) event = await client.nextDiagnostics(uri);
            // It links; leaving the workspace is worth a warning (an error in an untrusted workspace).
            expect(event.diagnostics.map((d) => [d.severity, (d.data as { code?: string } | undefined)?.code ?? d.code])).toEqual([[2, 'path-outside-workspace']]);

            const broken = client.nextDiagnostics(uri, 2);
            await client.change(uri, spec.replace('common.mismatch', 'missing.mismatch'));
            const after = await broken;
            const messages = after.diagnostics.map((d) => d.message);
            expect(messages.some((m) => /Cannot find '..\/shared\/missing.mismatch'/.test(m))).toBe(true);
            expect(messages.some((m) => /Unknown world 'atlas'/.test(m))).toBe(true);
        } finally {
            await client.stop();
        }
    });
});
