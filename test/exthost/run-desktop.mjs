// Runs the extension-host suite (test/exthost) in a desktop VS Code through @vscode/test-electron:
// `npm run test:exthost:desktop` (downloads VS Code 1.100.3 on first use, so it needs internet; in
// CI here the same suite runs inside code-server, test/e2e/exthost.test.ts).
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { runTests } from '@vscode/test-electron';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const suite = join(root, 'out/exthost/suite.cjs');
await esbuild.build({
    entryPoints: [join(root, 'test/exthost/index.ts')],
    outfile: suite,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    logLevel: 'error',
});
const workspace = mkdtempSync(join(tmpdir(), 'mismatch-exthost-'));
cpSync(join(root, 'test/e2e/fixtures/tiny'), workspace, { recursive: true });
try {
    await runTests({
        version: '1.100.3',
        extensionDevelopmentPath: root,
        extensionTestsPath: suite,
        launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    });
} catch (e) {
    console.error(`extension-host tests failed: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
}
