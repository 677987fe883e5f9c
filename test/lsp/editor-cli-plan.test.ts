/**
 * The editor and the CLI build the same Plan: the bundled language server's `mismatch/plan` request
 * (what the extension runs) and `loadPlan` (what `mismatch run` runs) agree on every example and on
 * a spec whose hypothesis reads an evaluation that lives only in an imported file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { loadPlan } from '../../language/load.js';
import type { Plan } from '../../language/plan-types.js';
import { PlanRequest } from '../../language/protocol.js';
import { LspClient, repoRoot, serverBundle } from './lsp-client.js';

let client: LspClient;
let dir: string;

beforeAll(async () => {
    // The server as it is in this tree (a bundle left by an earlier build may predate it).
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
    dir = mkdtempSync(join(tmpdir(), 'mm-plan-parity-'));
    ({ client } = await LspClient.start({ rootDir: join(repoRoot, 'examples') }));
}, 120_000);

afterAll(async () => {
    if (client) await client.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The editor's plan of a file on disk: opened with its text, once its diagnostics carry no error. */
async function editorPlan(file: string): Promise<Plan> {
    const uri = pathToFileURL(file).toString();
    const first = client.nextDiagnostics(uri, undefined, 60_000);
    await client.open(uri, readFileSync(file, 'utf8'));
    let event = await first;
    // The first build may run before an import is loaded; the loader then relinks and validates again.
    for (let i = 0; i < 5 && event.diagnostics.some((d) => d.severity === 1); i++) event = await client.nextDiagnostics(uri, undefined, 60_000);
    expect(event.diagnostics.filter((d) => d.severity === 1).map((d) => d.message)).toEqual([]);
    const response = await client.connection.sendRequest(PlanRequest, { uri });
    expect(response.errors).toBe(0);
    expect(response.plan).toBeDefined();
    return response.plan!;
}

async function cliPlan(file: string): Promise<Plan> {
    const { plan, diagnostics } = await loadPlan(file);
    expect(diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    expect(plan).toBeDefined();
    // What travels over the connection: JSON (undefined fields dropped).
    return JSON.parse(JSON.stringify(plan)) as Plan;
}

describe('the editor and the CLI build one plan', () => {
    // Spec files only: `examples/.mismatch/` is the run store of a run started there.
    const examples = readdirSync(join(repoRoot, 'examples'))
        .filter((f) => f.endsWith('.mismatch') && statSync(join(repoRoot, 'examples', f)).isFile())
        .sort();

    it('finds the examples', () => {
        expect(examples.length).toBeGreaterThanOrEqual(4);
    });

    for (const name of examples) {
        it(`for examples/${name}`, async () => {
            const file = join(repoRoot, 'examples', name);
            const [editor, cli] = [await editorPlan(file), await cliPlan(file)];
            expect(editor.steps.length).toBeGreaterThan(0);
            expect(editor).toEqual(cli);
        }, 60_000);
    }

    it('for a hypothesis whose evaluation lives only in an imported file', async () => {
        writeFileSync(
            join(dir, 'lib.mismatch'),
            `world atlas { entities 40  relations capital }
dataset trivia from atlas { split train 50%  split test 50% }
model large = pretrain on atlas { knows 75% }
model small = pretrain on atlas { knows 40% }
label byLarge = answers of large on trivia.train { otherwise "I don't know" }
label bySmall = answers of small on trivia.train { otherwise "I don't know" }
finetune smallOnLarge = small on byLarge
finetune smallOnSmall = small on bySmall
evaluate smallOnLarge, smallOnSmall on trivia.test { abstain "I don't know" }
`,
        );
        const main = join(dir, 'main.mismatch');
        writeFileSync(
            main,
            `import "lib.mismatch"
experiment Imported {
  seed 3
  hypothesis smallOnLarge hallucinates more than smallOnSmall
}
`,
        );
        const [editor, cli] = [await editorPlan(main), await cliPlan(main)];
        // The evaluation is found in the imported file (both arms are its arms), by the editor too.
        const evaluation = cli.steps.find((s) => s.kind === 'evaluate');
        const hypothesis = editor.steps.find((s) => s.kind === 'hypothesis');
        expect(evaluation).toBeDefined();
        expect(hypothesis?.kind === 'hypothesis' && hypothesis.params.evaluation).toBe(evaluation!.id);
        expect(hypothesis?.inputs).toContain(evaluation!.id);
        expect(editor).toEqual(cli);
    }, 60_000);
});
