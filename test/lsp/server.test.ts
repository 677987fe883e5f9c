/**
 * The bundled language server as a process, driven over stdio like an editor would: open a spec,
 * diagnostics arrive; break it, a located error arrives; fix it, the error goes; completion, hover,
 * outline and formatting answer; shutdown and exit end the process with code 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodeActionRequest, type CodeAction } from 'vscode-languageserver-protocol/node.js';
import { PlanRequest } from '../../language/protocol.js';
import { LspClient, positionOf, repoRoot } from './lsp-client.js';

let client: LspClient;
let dir: string;
const quickstart = readFileSync(join(repoRoot, 'examples/quickstart.mismatch'), 'utf8');

beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mismatch-lsp-'));
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data/qa.jsonl'), '{"question":"Capital of Zanth?","answer":{"value":"Orv","aliases":["Orv","Orv City"]}}\n{"question":"Q2","answer":{"value":"B","aliases":["B"]}}\n');
    ({ client } = await LspClient.start({ rootDir: dir }));
}, 120_000);

afterAll(async () => {
    if (client) await client.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('language server over stdio', () => {
    it('publishes diagnostics on open, after a breaking edit and after the fix', async () => {
        const uri = pathToFileURL(join(dir, 'quickstart.mismatch')).toString();
        const first = client.nextDiagnostics(uri, 1);
        await client.open(uri, quickstart);
        const clean = await first;
        expect(clean.diagnostics.filter((d) => d.severity === 1)).toEqual([]);

        const broken = quickstart.replace('finetune smallOnSmall = small on bySmall', 'finetune smallOnSmall = smal on bySmall');
        const v2 = await client.change(uri, broken);
        const errors = (await client.nextDiagnostics(uri, v2)).diagnostics.filter((d) => d.severity === 1);
        expect(errors.length).toBeGreaterThan(0);
        const at = positionOf(broken, 'smal on bySmall');
        expect(errors.some((d) => d.range.start.line === at.line && d.range.start.character === at.character && /small/.test(d.message))).toBe(true);

        const v3 = await client.change(uri, quickstart);
        const fixed = await client.nextDiagnostics(uri, v3);
        expect(fixed.diagnostics.filter((d) => d.severity === 1)).toEqual([]);
    });

    it('answers completion, hover, outline and formatting requests', async () => {
        const uri = pathToFileURL(join(dir, 'edit.mismatch')).toString();
        const text = quickstart.replace('finetune smallOnShuffled = small on shuffled', 'finetune smallOnShuffled = small on ');
        const diags = client.nextDiagnostics(uri, 1);
        await client.open(uri, text);
        await diags;

        // A label set is expected after `on`: the three label sets, not models or datasets.
        const items = await client.completion(uri, positionOf(text, 'smallOnShuffled = small on ', 'smallOnShuffled = small on '.length));
        const labels = items.map((i) => i.label);
        expect(labels).toEqual(expect.arrayContaining(['byLarge', 'bySmall', 'shuffled']));
        expect(labels).not.toContain('small');
        expect(labels).not.toContain('trivia');

        const hover = await client.hover(uri, positionOf(text, 'learningRate'));
        expect(JSON.stringify(hover?.contents)).toMatch(/learning rate/i);

        const symbols = (await client.symbols(uri)) as Array<{ name: string; children?: Array<{ name: string }> }>;
        expect(symbols[0].name).toBe('KnowledgeMismatch');
        expect(symbols[0].children?.map((c) => c.name)).toEqual(expect.arrayContaining(['atlas', 'trivia', 'large', 'smallOnLarge']));

        const formatted = await client.format(pathToFileURL(join(dir, 'quickstart.mismatch')).toString());
        expect(Array.isArray(formatted)).toBe(true);
    });

    it('completes dataset fields from the file, relative to the spec', async () => {
        const uri = pathToFileURL(join(dir, 'fields.mismatch')).toString();
        const text = 'experiment E {\n  dataset qa from "data/qa.jsonl" { question "question"  answers "answer." }\n}\n';
        const diags = client.nextDiagnostics(uri, 1);
        await client.open(uri, text);
        await diags;
        const items = await client.completion(uri, positionOf(text, 'answer."', 'answer.'.length));
        expect(items.map((i) => i.label)).toEqual(expect.arrayContaining(['answer.aliases', 'answer.value', 'question']));
        const paths = await client.completion(uri, positionOf(text, 'data/qa', 'data/'.length));
        expect(paths.map((i) => i.label)).toContain('qa.jsonl');
    });

    it('offers the quick fix of a diagnostic (code action request)', async () => {
        const uri = pathToFileURL(join(dir, 'fix.mismatch')).toString();
        const text = quickstart.replace('knows 75%', 'knows 75');
        const diags = client.nextDiagnostics(uri, 1);
        await client.open(uri, text);
        const published = (await diags).diagnostics.filter((d) => (d.data as { code?: string } | undefined)?.code === 'missing-unit');
        expect(published.length).toBe(1);
        const actions = (await client.connection.sendRequest(CodeActionRequest.type, {
            textDocument: { uri },
            range: published[0].range,
            context: { diagnostics: published },
        })) as CodeAction[];
        expect(actions.map((a) => a.title)).toEqual(["Change '75' to '75%'"]);
        expect(actions[0].edit?.changes?.[uri]?.[0].newText).toBe('75%');
    });

    it('answers the typed plan request with the plan of the unsaved text, and none while it has errors', async () => {
        const uri = pathToFileURL(join(dir, 'plan.mismatch')).toString();
        await client.open(uri, quickstart);
        const first = await client.connection.sendRequest(PlanRequest, { uri });
        expect(first.errors).toBe(0);
        const ids = first.plan!.steps.map((s) => s.id);
        expect(ids).toContain('smallOnSmall');
        const line = quickstart.split('\n').findIndex((l) => /^\s*finetune smallOnSmall\b/.test(l));
        expect(first.plan!.steps.find((s) => s.id === 'smallOnSmall')!.range.start.line).toBe(line);
        // An edit the editor has not saved: the plan follows it.
        const renamed = quickstart.replaceAll('smallOnSmall', 'ownLabels');
        const v2 = await client.change(uri, renamed);
        const second = await client.connection.sendRequest(PlanRequest, { uri });
        expect(second.version).toBe(v2);
        expect(second.plan!.steps.map((s) => s.id)).toContain('ownLabels');
        expect(second.plan!.steps.map((s) => s.id)).not.toContain('smallOnSmall');
        const v3 = await client.change(uri, renamed.replace('finetune ownLabels = small on bySmall', 'finetune ownLabels = smal on bySmall'));
        const broken = await client.connection.sendRequest(PlanRequest, { uri });
        expect(broken.version).toBe(v3);
        expect(broken.errors).toBeGreaterThan(0);
        expect(broken.plan).toBeUndefined();
    });

    it('shuts down and exits cleanly', async () => {
        const code = await client.stop();
        expect(code).toBe(0);
        expect(client.stderr.join('')).not.toMatch(/Error|at .*\.cjs/);
    });
});
