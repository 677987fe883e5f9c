// Runs the extension-host suite (test/exthost) inside code-server's extension host through the
// test-runner extension, and reports each of its tests here.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeE2E, exthostSuiteBundle, extensionVsix, printLogsOnFailure, readJson, ROOT, runnerExtensionVsix, screenshot, startEditor, waitFor, type EditorSession } from './harness.js';
import type { HostTestResult } from '../exthost/index.js';

describeE2E('extension-host suite in code-server', () => {
    let s: EditorSession;
    printLogsOnFailure(() => s);
    let result: { tests: HostTestResult[]; failures: number; crashed?: string };

    beforeAll(async () => {
        const suite = await exthostSuiteBundle();
        const vsixes = [await extensionVsix(), await runnerExtensionVsix()];
        const resultFile = join('/tmp', `mismatch-exthost-${process.pid}-${Date.now()}.json`);
        s = await startEditor({
            name: 'exthost',
            folder: join(ROOT, 'test/e2e/fixtures/tiny'),
            copyFolder: true,
            extensions: vsixes,
            env: { MISMATCH_EXTHOST_SUITE: suite, MISMATCH_EXTHOST_RESULT: resultFile },
        });
        await waitFor(async () => existsSync(resultFile), 240_000, 'the extension-host suite to report');
        result = readJson(resultFile);
        await screenshot(s.page, 'exthost-suite');
    }, 300_000);
    afterAll(async () => s?.stop());

    it('runs inside the extension host and passes every test', () => {
        expect(result.crashed, result.crashed).toBeUndefined();
        const lines = result.tests.map((t) => `${t.state === 'passed' ? '✓' : '✗'} ${t.title} (${t.durationMs} ms)${t.error ? `\n${t.error}` : ''}`);
        console.log(lines.join('\n'));
        expect(result.tests.length).toBeGreaterThanOrEqual(6);
        expect(result.tests.filter((t) => t.state === 'failed').map((t) => `${t.title}: ${t.error}`)).toEqual([]);
    });
});
