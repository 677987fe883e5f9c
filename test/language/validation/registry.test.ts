/**
 * The validation registry: a check that throws is logged and leaves the other checks' diagnostics
 * (Langium's default wrapper would add an error diagnostic and make the spec unrunnable), and a
 * synchronous check stays synchronous (no promise per node and check).
 */
import { describe, expect, it, vi } from 'vitest';
import { EmptyFileSystem, type ValidationChecks } from 'langium';
import type { MismatchAstType } from '../../../language/generated/ast.js';
import { expectIssue, expectNoIssues, parseHelper, validationHelper } from 'langium/test';
import { createMismatchServices } from '../../../language/mismatch-module.js';

describe('validation registry', () => {
    it('logs a throwing check and keeps the others', async () => {
        const services = createMismatchServices(EmptyFileSystem).Mismatch;
        const broken: ValidationChecks<MismatchAstType> = {
            Body: () => {
                throw new Error('a bug in one check');
            },
        };
        services.validation.ValidationRegistry.register(broken);
        const validate = validationHelper(services);
        const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
        try {
            const result = await validate('experiment E {\n  world w { entities 8  bogusKey 3 }\n}\n');
            expectIssue(result, { message: /bogusKey/, data: { code: 'unknown-property' } });
            expectNoIssues(result, { message: /error occurred during validation/ });
            expect(errors.mock.calls.some((c) => String(c[1]).includes('a bug in one check'))).toBe(true);
        } finally {
            errors.mockRestore();
        }
    });

    it('keeps synchronous checks synchronous', async () => {
        const services = createMismatchServices(EmptyFileSystem).Mismatch;
        const doc = await parseHelper(services)('experiment E { world w { entities 8 } }\n');
        const world = (doc.parseResult.value as unknown as { experiments: { declarations: { body: unknown }[] }[] }).experiments[0].declarations[0];
        const checks = services.validation.ValidationRegistry.getChecks('Body').toArray();
        expect(checks.length).toBeGreaterThan(0);
        for (const check of checks) expect(check(world.body as never, () => undefined, undefined as never)).not.toBeInstanceOf(Promise);
    });
});
