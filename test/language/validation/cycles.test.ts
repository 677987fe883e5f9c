/**
 * language/validation/cycles.ts: a step that depends on itself, directly or through others, is an
 * error on every step of the cycle (on its name, or its keyword when unnamed).
 */
import { afterEach, describe, it } from 'vitest';
import { clearDocuments, expectError, expectNoIssues, validationHelper, type ValidationResult } from 'langium/test';
import type { Declaration, MismatchFile } from '../../../language/generated/ast.js';
import { services } from '../helpers.js';

const validate = validationHelper<MismatchFile>(services);
let result: ValidationResult<MismatchFile> | undefined;
afterEach(async () => {
    // Node 20 has no Symbol.asyncDispose: documents are cleared by hand.
    if (result) await clearDocuments(services, [result.document]);
    result = undefined;
});

const spec = (steps: string) => `experiment T {
  seed 1
  world atlas { entities 100 }
  dataset d from atlas { split train 60%  split test 40% }
  model small = pretrain on atlas { layers 2  width 128  knows 40% }
  decoding greedy { temperature 0 }
${steps}
}`;
const step = (r: ValidationResult<MismatchFile>, name: string) => r.document.parseResult.value.experiments[0]!.declarations.find((d: Declaration) => d.name === name)!;

describe('cycle', () => {
    it('a fine-tune trained on labels written by itself: both steps, each on its name, the cycle spelled out', async () => {
        result = await validate(
            spec(`  label l = answers of f on d.train using greedy
  finetune f = small on l
  evaluate f on d.test`),
        );
        expectError(result, "'l' depends on itself: l → f → l. A step can only read steps that come before it.", { node: step(result, 'l'), property: 'name', data: { code: 'cycle' } });
        expectError(result, "'f' depends on itself: l → f → l. A step can only read steps that come before it.", { node: step(result, 'f'), property: 'name', data: { code: 'cycle' } });
    });

    it('a chain through a shuffle is a cycle of three', async () => {
        result = await validate(
            spec(`  label l = answers of f on d.train using greedy
  label s = shuffle l
  finetune f = small on s
  evaluate f on d.test`),
        );
        // each arrow reads 'reads': l reads f's answers, f trains on s, s shuffles l
        expectError(result, /^'s' depends on itself: l → f → s → l\./, { node: step(result, 's'), property: 'name', data: { code: 'cycle' } });
    });

    it('labels from the base model feeding its fine-tune are no cycle', async () => {
        result = await validate(
            spec(`  label l = answers of small on d.train using greedy
  finetune f = small on l
  evaluate f on d.test`),
        );
        expectNoIssues(result, { data: { code: 'cycle' } });
    });
});
