// Every example validates: no errors anywhere; bring-your-own only warns about the files it names
// (missing until the user puts models and data there), and each warning says what belongs there.
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadPlan } from '../../language/load.js';

const dir = resolve(__dirname, '..', '..', 'examples');
// Specs only: the run store `examples/.mismatch/` (made by running an example) is a folder.
const examples = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.mismatch'))
    .map((e) => e.name);

describe('examples', () => {
    it('include the quickstart, the paper, Gekhman and bring-your-own', () => {
        expect(examples).toEqual(expect.arrayContaining(['quickstart.mismatch', 'paper.mismatch', 'gekhman.mismatch', 'bring-your-own.mismatch']));
    });

    for (const name of examples) {
        it(`${name} validates and builds a plan`, async () => {
            const { plan, diagnostics } = await loadPlan(join(dir, name));
            expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
            expect(plan).toBeDefined();
            if (name === 'bring-your-own.mismatch') {
                expect(diagnostics.map((d) => d.code).sort()).toEqual(['dataset-file-missing', 'gguf-missing', 'gguf-missing']);
                for (const d of diagnostics) {
                    expect(d.severity).toBe('warning');
                    expect(d.message).toMatch(/Put a .* there/);
                }
            } else {
                expect(diagnostics).toEqual([]);
            }
        });
    }

    it('the quickstart is the paper design plus its control, with 5 seeds and a validation share', async () => {
        const { plan } = await loadPlan(join(dir, 'quickstart.mismatch'));
        expect(plan!.seeds).toBe(5);
        const kinds = plan!.steps.map((s) => s.kind);
        expect(kinds.filter((k) => k === 'label')).toHaveLength(2);
        expect(kinds.filter((k) => k === 'shuffle')).toHaveLength(1);
        expect(kinds.filter((k) => k === 'finetune')).toHaveLength(3);
        const hyps = plan!.steps.filter((s) => s.kind === 'hypothesis');
        expect(hyps.map((h) => (h.kind === 'hypothesis' ? h.params.matchedCoverage : null))).toEqual([false, true, true]);
        for (const f of plan!.steps) if (f.kind === 'finetune') expect(f.params.validation).toBeGreaterThan(0);
        const models = plan!.steps.filter((s) => s.kind === 'model');
        const knows = models.map((m) => (m.kind === 'model' && m.params.source.kind === 'pretrain' ? m.params.source.knows : 0));
        expect(knows[0]).toBeGreaterThan(knows[1]);
        expect(knows[0]).toBeLessThan(1);
    });
});
