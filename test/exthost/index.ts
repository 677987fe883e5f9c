/**
 * Extension-host suite entry: `run()` is what @vscode/test-electron's `extensionTestsPath` module
 * exports, and what the test-runner extension (test/e2e/runner-extension) calls inside
 * code-server. Tests are mocha tests built with mocha's programmatic API (no globals, so the
 * bundle works the same in both hosts). With MISMATCH_EXTHOST_RESULT set, results go to that file.
 */
import { writeFileSync, renameSync } from 'node:fs';
import Mocha from 'mocha';
import { extensionSuite } from './extension.suite.js';

export interface HostTestResult {
    title: string;
    state: 'passed' | 'failed';
    durationMs: number;
    error?: string;
}

export async function run(): Promise<void> {
    const mocha = new Mocha({ ui: 'tdd', timeout: 180_000, color: false, reporter: 'spec' });
    extensionSuite(mocha.suite);
    const results: HostTestResult[] = [];
    const failures = await new Promise<number>((resolve) => {
        const runner = mocha.run((n) => resolve(n));
        runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration ?? 0 }));
        runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', durationMs: t.duration ?? 0, error: err?.stack ?? String(err) }));
    });
    const out = process.env.MISMATCH_EXTHOST_RESULT;
    if (out) {
        writeFileSync(`${out}.tmp`, JSON.stringify({ tests: results, failures }, null, 1));
        renameSync(`${out}.tmp`, out);
    }
    if (failures > 0) throw new Error(`${failures} extension-host test(s) failed`);
}
