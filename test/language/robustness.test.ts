/**
 * Mutated examples (tokens deleted, duplicated, swapped; characters inserted): validation answers
 * with diagnostics and never throws, and buildPlan never throws, even on documents with errors.
 */
import { describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse, services } from './helpers.js';
// A seeded PRNG (the engine's mulberry32), so a failure can be replayed.
import { rng } from '../../engine/stats/index.js';

function mutate(text: string, random: () => number): string {
    const tokens = text.split(/(\s+)/);
    const pick = () => Math.floor(random() * tokens.length);
    const op = Math.floor(random() * 5);
    const i = pick();
    const j = pick();
    if (op === 0) tokens.splice(i, 1);
    else if (op === 1) tokens.splice(i, 0, tokens[j]);
    else if (op === 2) [tokens[i], tokens[j]] = [tokens[j], tokens[i]];
    else if (op === 3) tokens[i] = tokens[i].slice(0, Math.floor(random() * tokens[i].length));
    else tokens.splice(i, 0, '{}%."=,'[Math.floor(random() * 7)]);
    return tokens.join('');
}

describe('mutated specs', () => {
    it('always get diagnostics, never an exception, and buildPlan never throws', async () => {
        const sources = ['examples/quickstart.mismatch', 'examples/gekhman.mismatch', 'test/language/fixtures/sketch.mismatch'].map((f) => readFileSync(f, 'utf8'));
        const random = rng(20241101);
        // Checks are guarded (a throwing check is logged, not fatal); here none may throw at all.
        const errors = vi.spyOn(console, 'error');
        let withErrors = 0;
        for (let n = 0; n < 120; n++) {
            let text = sources[n % sources.length];
            const rounds = 1 + Math.floor(random() * 4);
            for (let r = 0; r < rounds; r++) text = mutate(text, random);
            const doc = await parse(text, { validation: true });
            expect(Array.isArray(doc.diagnostics)).toBe(true);
            if ((doc.diagnostics ?? []).some((d) => d.severity === 1)) withErrors++;
            const plan = services.plan.PlanService.buildPlan(doc);
            expect(Array.isArray(plan.steps)).toBe(true);
        }
        expect(withErrors).toBeGreaterThan(40);
        expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([]);
        errors.mockRestore();
    });
});
