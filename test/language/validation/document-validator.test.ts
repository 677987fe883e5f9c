/**
 * language/validation/document-validator.ts: a correct spec has no diagnostics, and text cut
 * anywhere is answered with diagnostics, never an exception.
 */
import { describe, expect, it } from 'vitest';
import { arms, diagnose, spec, validationFolder } from './fixtures.js';

const folder = validationFolder('mm-document-');
const { check } = folder;

describe('a correct spec', () => {
    it('has no diagnostics', async () => {
        expect(await check(spec(arms))).toEqual([]);
    });
});

describe('half-typed text', () => {
    it('never throws and always answers with diagnostics', async () => {
        const full = spec(arms);
        for (let cut = 0; cut < full.length; cut += 7) {
            const d = await diagnose(full.slice(0, cut));
            expect(Array.isArray(d)).toBe(true);
        }
    });
});
