/**
 * Registers the validation checks (one concern per file in this folder). Every diagnostic carries
 * `data.code` (a stable code, see `codes.ts`) and, where a quick fix is obvious, the data it needs.
 */
import type { ValidationChecks } from 'langium';
import type { MismatchAstType } from '../generated/ast.js';
import type { MismatchServices } from '../mismatch-module.js';

export class MismatchValidator {}

export function registerValidationChecks(services: MismatchServices): void {
    const registry = services.validation.ValidationRegistry;
    const checks: ValidationChecks<MismatchAstType> = {};
    registry.register(checks, services.validation.MismatchValidator);
}
