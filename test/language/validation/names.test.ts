/**
 * language/validation/names.ts: names unique across a spec (each duplicate an error on its name,
 * naming the other and offering a free name), split names unique within their dataset, one
 * experiment per file.
 */
import { afterEach, describe, it } from 'vitest';
import { clearDocuments, expectError, expectNoIssues, validationHelper, type ValidationResult } from 'langium/test';
import { isSplit, type Dataset, type Declaration, type MismatchFile } from '../../../language/generated/ast.js';
import { services } from '../helpers.js';

const validate = validationHelper<MismatchFile>(services);
let result: ValidationResult<MismatchFile> | undefined;
afterEach(async () => {
    // Node 20 has no Symbol.asyncDispose: documents are cleared by hand.
    if (result) await clearDocuments(services, [result.document]);
    result = undefined;
});

const spec = (extra: string, splits = 'split train 60%  split test 40%') => `experiment T {
  seed 1
  world atlas { entities 100 }
  dataset d from atlas { ${splits} }
  model small = pretrain on atlas { layers 2  width 128  knows 40% }
${extra}
}`;
const named = (r: ValidationResult<MismatchFile>, name: string) => r.document.parseResult.value.experiments[0]!.declarations.filter((d: Declaration) => d.name === name);

describe('duplicate-name', () => {
    it("is an error on both declarations, each naming the other's line, with the first free name", async () => {
        // small is on line 5, its namesake on line 6; small2 is free
        result = await validate(spec('  model small = pretrain on atlas { layers 1  width 64  knows 40% }'));
        const [first, second] = named(result, 'small');
        expectError(result, "The name 'small' is also used by the model on line 6; names must be unique. Rename one, e.g. to 'small2'.", {
            node: first!,
            property: 'name',
            data: { code: 'duplicate-name', name: 'small', suggestion: 'small2' },
        });
        expectError(result, "The name 'small' is also used by the model on line 5; names must be unique. Rename one, e.g. to 'small2'.", {
            node: second!,
            property: 'name',
            data: { code: 'duplicate-name', name: 'small', suggestion: 'small2' },
        });
    });

    it('offers the next free name when small2 is taken', async () => {
        result = await validate(spec('  model small2 = pretrain on atlas { layers 1  width 64  knows 40% }\n  model small = pretrain on atlas { layers 1  width 64  knows 40% }'));
        expectError(result, /Rename one, e\.g\. to 'small3'\.$/, { node: named(result, 'small')[0]!, property: 'name', data: { code: 'duplicate-name', name: 'small', suggestion: 'small3' } });
    });

    it('is an error on the second split of a dataset with the same name', async () => {
        result = await validate(spec('', 'split train 60%  split train 40%'));
        const dataset = result.document.parseResult.value.experiments[0]!.declarations.find((d): d is Dataset => d.$type === 'Dataset')!;
        const second = (dataset.body?.items ?? []).filter(isSplit)[1]!;
        expectError(result, "Dataset 'd' already has a split 'train'.", { node: second, property: 'name', data: { code: 'duplicate-name', name: 'train' } });
    });

    it('is quiet when every name is unique', async () => {
        result = await validate(spec('  model large = pretrain on atlas { layers 2  width 128  knows 90% }'));
        expectNoIssues(result, { data: { code: 'duplicate-name' } });
    });
});

describe('multiple-experiments', () => {
    it('is an error on the name of every experiment after the first', async () => {
        result = await validate(`${spec('')}\nexperiment Other { }\nexperiment Third { }`);
        const [, other, third] = result.document.parseResult.value.experiments;
        const message = 'A file holds one experiment; move this one to its own file (it can `import` the shared declarations).';
        expectError(result, message, { node: other!, property: 'name', data: { code: 'multiple-experiments' } });
        expectError(result, message, { node: third!, property: 'name', data: { code: 'multiple-experiments' } });
    });
});
