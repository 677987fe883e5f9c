/**
 * `mismatch check` end to end: the bundled CLI (built here with the project's esbuild options) run
 * as a process on the examples and on a broken copy, plus the JSON output.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { runCheck } from '../../cli/check.js';

const root = process.cwd();
let dir = '';

function mismatch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [join(root, 'bin/mismatch.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
    // The same bundle `npm run build` makes (esbuild.mjs), built here so the test checks this tree.
    await esbuild.build({
        entryPoints: [join(root, 'cli/main.ts')],
        outfile: join(root, 'dist/cli/main.js'),
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'esm',
        external: ['vscode', 'node-llama-cpp', '@node-llama-cpp/*', 'koffi', '@koromix/*', 'playwright-core'],
        sourcemap: true,
        logLevel: 'silent',
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    dir = mkdtempSync(join(tmpdir(), 'mm-cli-'));
    copyFileSync(join(root, 'examples/quickstart.mismatch'), join(dir, 'good.mismatch'));
    copyFileSync(join(root, 'examples/paper.mismatch'), join(dir, 'paper.mismatch'));
    const broken = readFileSync(join(root, 'test/language/fixtures/sketch.mismatch'), 'utf8')
        .replace('model small = pretrain on atlas { layers 2  width 128  knows 40% }', 'model small = pretrain on atlas { layers 2  width 128  knows 40 }')
        .replace('finetune smallOnSmall = small on bySmall', 'finetune smallOnSmall = smal on bySmall')
        .replace('split test 40%', 'split test 50%');
    writeFileSync(join(dir, 'broken.mismatch'), broken);
}, 120_000);

describe('mismatch check', () => {
    it('is clean on the examples and exits 0', () => {
        const r = mismatch('check', 'good.mismatch', 'paper.mismatch');
        expect(r.stdout).toBe('');
        expect(r.stderr.trim()).toBe('2 specs checked: no problems.');
        expect(r.status).toBe(0);
    });

    it('checks the specs in a folder, not the run store beside them', () => {
        const folder = mkdtempSync(join(tmpdir(), 'mm-folder-'));
        copyFileSync(join(root, 'examples/paper.mismatch'), join(folder, 'paper.mismatch'));
        mkdirSync(join(folder, '.mismatch'));
        const r = spawnSync(process.execPath, [join(root, 'bin/mismatch.js'), 'check', folder], { encoding: 'utf8' });
        expect(r.stderr.trim()).toBe('1 spec checked: no problems.');
        expect(r.status).toBe(0);
    });

    it('prints located errors for a broken copy and exits 1', () => {
        const r = mismatch('check', 'broken.mismatch');
        expect(r.status).toBe(1);
        const lines = r.stdout.trim().split('\n');
        expect(lines).toEqual([
            "broken.mismatch:5:59: error splits-over-100: The splits of 'trivia' add up to 110%; they must not exceed 100%, or the same questions land in two splits.",
            'broken.mismatch:9:64: error missing-unit: `knows` is a share: did you mean `40%`?',
            "broken.mismatch:20:27: error unknown-reference: Unknown model or fine-tuned model 'smal'. Did you mean 'small'?",
        ]);
        expect(r.stderr).toMatch(/1 spec checked: 3 errors, 0 warnings/);
    });

    it('--json prints an array of {file, line, column, severity, code, message}', () => {
        const r = mismatch('check', '--json', 'broken.mismatch', 'good.mismatch');
        expect(r.status).toBe(1);
        const json = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
        expect(json).toHaveLength(3);
        expect(json[2]).toEqual({
            file: 'broken.mismatch',
            line: 20,
            column: 27,
            severity: 'error',
            code: 'unknown-reference',
            message: "Unknown model or fine-tuned model 'smal'. Did you mean 'small'?",
        });
    });

    it('reports a missing file and a syntax error as located errors', () => {
        writeFileSync(join(dir, 'half.mismatch'), 'experiment E {\n  model m = pretrain on\n');
        const r = mismatch('check', 'missing.mismatch', 'half.mismatch');
        expect(r.status).toBe(1);
        expect(r.stdout).toMatch(/missing\.mismatch:1:1: error spec-file: .* does not exist\./);
        expect(r.stdout).toMatch(/half\.mismatch:\d+:\d+: error parsing-error: /);
    });

    it('refuses files that are not specs, and summarises binary junk', () => {
        writeFileSync(join(dir, 'notes.txt'), 'hello');
        writeFileSync(join(dir, 'blob.mismatch'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2]));
        const junk = Array.from({ length: 400 }, (_, i) => `} ${i} = = ;`).join('\n');
        writeFileSync(join(dir, 'junk.mismatch'), junk);
        const r = mismatch('check', 'notes.txt', 'blob.mismatch', 'junk.mismatch');
        expect(r.status).toBe(1);
        expect(r.stdout).toMatch(/notes\.txt:1:1: error spec-file: .* is not a \.mismatch spec/);
        expect(r.stdout).toMatch(/blob\.mismatch:1:1: error spec-file: .* is not a text file\./);
        const junkLines = r.stdout.split('\n').filter((l) => l.startsWith('junk.mismatch'));
        expect(junkLines.length).toBe(51);
        expect(junkLines.at(-1)).toMatch(/error too-many-errors: …and \d+ more syntax errors; is this a \.mismatch spec\?/);
    });

    it('the same function serves in-process callers', async () => {
        let out = '';
        let err = '';
        const code = await runCheck([join(dir, 'broken.mismatch')], { json: false }, { write: (s: string) => (out += s) }, { write: (s: string) => (err += s) });
        expect(code).toBe(1);
        expect(out.split('\n').filter(Boolean)).toHaveLength(3);
        expect(err).toMatch(/3 errors/);
    });

    it('npx mismatch resolves to the package bin', () => {
        const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
        expect(pkg.bin.mismatch).toBe('bin/mismatch.js');
        const help = execFileSync(process.execPath, [join(root, 'bin/mismatch.js'), '--help'], { encoding: 'utf8' });
        expect(help).toMatch(/check \[options\] <files\.\.\.>/);
    });
});
