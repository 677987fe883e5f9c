// `mismatch export`: the world of a spec as JSONL, with per-model taught flags.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadPlan } from '../../language/load.js';
import { exportWorldFromPlan } from '../../cli/export.js';

const root = resolve(__dirname, '..', '..');

describe('mismatch export', () => {
    it('writes one record per fact with the taught flags of every pretrained model', async () => {
        const { plan } = await loadPlan(join(root, 'examples/quickstart.mismatch'));
        const r = exportWorldFromPlan(plan!);
        const rows = r.text
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { id: string; question: string; answers: string[]; taught: Record<string, boolean> });
        const world = plan!.steps.find((s) => s.kind === 'world')!;
        const facts = (world.params as { entities: number; relations: string[] }).entities * (world.params as { relations: string[] }).relations.length;
        expect(rows).toHaveLength(facts);
        expect(r.world).toBe('atlas');
        const large = rows.filter((x) => x.taught.large).length;
        const small = rows.filter((x) => x.taught.small).length;
        expect(large).toBe(Math.round(0.75 * facts));
        expect(small).toBe(Math.round(0.4 * facts));
        // Same seed: what the small model knows, the large one knows too.
        expect(rows.every((x) => !x.taught.small || x.taught.large)).toBe(true);
        expect(rows[0].answers.length).toBeGreaterThanOrEqual(1);
    });

    it('says which world to choose, or that there is none', async () => {
        const { plan } = await loadPlan(join(root, 'examples/bring-your-own.mismatch'));
        expect(() => exportWorldFromPlan(plan!)).toThrow(/declares no world/);
        const { plan: q } = await loadPlan(join(root, 'examples/quickstart.mismatch'));
        expect(() => exportWorldFromPlan(q!, { world: 'nope' })).toThrow(/no world named 'nope' \(worlds: atlas\)/);
    });

    it('runs as a command and writes --out (the built CLI: npm install builds it)', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'mm-export-'));
        try {
            const out = join(dir, 'atlas.jsonl');
            const spec = join(root, 'examples/gekhman.mismatch');
            execFileSync(process.execPath, [join(root, 'bin/mismatch.js'), 'export', spec, '--out', out], { encoding: 'utf8', stdio: 'pipe' });
            // one record per fact: the spec's entities × relations
            const { plan } = await loadPlan(spec);
            const world = plan!.steps.find((s) => s.kind === 'world')!.params as { entities: number; relations: string[] };
            expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(world.entities * world.relations.length);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
