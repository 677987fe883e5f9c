// Generated pathological specs: huge runs of comments, far too many declarations, too many bytes.
// Each gets a clear error or works; none overflows the stack or runs for hours.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../cli/run.js';
import { loadPlan, loadSpecs, MAX_DECLARATIONS } from '../../language/load.js';
import { tempDir, captureIo } from './fixtures.js';

const dir = tempDir('mm-bigspec-');

describe('specs too large or too long', () => {
    it('150,000 comment lines parse (no "Maximum call stack size exceeded"), comments kept in file order', async () => {
        const p = join(dir, 'comments.mismatch');
        const lines = Array.from({ length: 150_000 }, (_, i) => `// c${i}`);
        writeFileSync(p, `${lines.join('\n')}\nexperiment E {\n  seed 1\n  // inside ${'x'}\n}\n${lines.slice(0, 130_000).join('\n')}\n`);
        // A file of comments only too (its comments go to the front of an empty root).
        const only = join(dir, 'only-comments.mismatch');
        writeFileSync(only, lines.join('\n') + '\n');
        const { documents, diagnostics } = await loadSpecs([p, only]);
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        for (const [doc, least] of [
            [documents[0], 280_000],
            [documents[1], 150_000],
        ] as const) {
            // Every leaf of the tree, in order of offset: the slices went in file order.
            const offsets: number[] = [];
            const walk = (n: { offset: number; content?: unknown[] }) => {
                if (n.content) for (const c of n.content) walk(c as never);
                else offsets.push(n.offset);
            };
            walk(doc.parseResult.value.$cstNode as never);
            expect(offsets.length).toBeGreaterThanOrEqual(least);
            for (let i = 1; i < offsets.length; i++) if (offsets[i] <= offsets[i - 1]) throw new Error(`leaf ${i} at ${offsets[i]} after ${offsets[i - 1]}`);
        }
    }, 120_000);

    it('a 10 MB spec is a clear error, not "cannot read"', async () => {
        const p = join(dir, 'huge.mismatch');
        writeFileSync(p, `// ${'x'.repeat(76)}\n`.repeat(130_000) + 'experiment E {\n}\n');
        const { diagnostics } = await loadSpecs([p]);
        expect(diagnostics).toHaveLength(1);
        expect(diagnostics[0]).toMatchObject({ line: 1, severity: 'error', code: 'spec-too-large' });
        expect(diagnostics[0].message).toMatch(/is 9\.\d MB; a spec may hold at most 4 MB/);
    });

    it('160k declarations: check and run both report it; run never throws a RangeError', async () => {
        const p = join(dir, 'decls.mismatch');
        writeFileSync(p, 'experiment E {\n' + Array.from({ length: 160_000 }, (_, i) => `  decoding d${i} { temperature 0 }\n`).join('') + '}\n');
        const { diagnostics } = await loadSpecs([p]);
        expect(diagnostics.map((d) => d.code)).toEqual(['spec-too-large']);
        const c = captureIo();
        expect(await runCommand(p, { threads: 1, gpu: 'off' }, c.io)).toBe(1);
        expect(c.stderr()).toMatch(/spec may hold at most 4 MB/);
        expect(c.stderr()).not.toMatch(/RangeError|call stack/);
    }, 120_000);

    it(`more than ${MAX_DECLARATIONS} declarations in a small file: one clear error, quickly`, async () => {
        const n = MAX_DECLARATIONS + 1000;
        const p = join(dir, 'many.mismatch');
        writeFileSync(p, 'experiment E {\n' + Array.from({ length: n }, (_, i) => `  decoding d${i} { temperature 0 }\n`).join('') + '}\n');
        const t0 = Date.now();
        const { diagnostics, plan } = await loadPlan(p);
        expect(plan).toBeUndefined();
        expect(diagnostics.map((d) => [d.code, d.message])).toEqual([
            ['spec-too-large', `${p} holds ${n} declarations; a spec may hold at most ${MAX_DECLARATIONS}: split it into files that import each other.`],
        ]);
        expect(Date.now() - t0).toBeLessThan(30_000);
    }, 120_000);
});
