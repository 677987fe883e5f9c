/**
 * language/validation/document-validator.ts: a correct spec has no diagnostics, and text cut
 * anywhere is answered with diagnostics, never an exception. Langium's validationHelper.
 */
import { describe, expect, it } from 'vitest';
import { arms, expectNoProblems, spec, validationFolder } from './fixtures.js';

const folder = validationFolder('mm-document-');
const { validate } = folder;

describe('a correct spec', () => {
    it('has no diagnostics', async () => {
        expectNoProblems(await validate(spec(arms)));
    });
});

describe('half-typed text', () => {
    it('never throws and always answers with diagnostics', async () => {
        const full = spec(arms);
        for (let cut = 0; cut < full.length; cut += 7) {
            const r = await validate(full.slice(0, cut));
            expect(Array.isArray(r.diagnostics)).toBe(true);
        }
    });
});
