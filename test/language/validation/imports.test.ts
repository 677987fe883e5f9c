/**
 * language/validation/imports.ts: an import must name an existing .mismatch file other than the
 * spec itself. Langium's validationHelper; each diagnostic matched by message, code and the
 * import's path.
 */
import { afterEach, describe, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { URI } from 'langium';
import { clearDocuments, expectError, expectNoIssues, expectWarning, validationHelper, type ValidationResult } from 'langium/test';
import type { MismatchFile } from '../../../language/generated/ast.js';
import { services } from '../helpers.js';
import { validationFolder } from './fixtures.js';

const folder = validationFolder('mm-imports-');
const validate = validationHelper<MismatchFile>(services);
let result: ValidationResult<MismatchFile> | undefined;
let n = 0;
afterEach(async () => {
    // Node 20 has no Symbol.asyncDispose: documents are cleared by hand.
    if (result) await clearDocuments(services, [result.document]);
    result = undefined;
});
const specPath = () => join(folder.dir, `spec-${++n}.mismatch`);
const at = (path: string) => ({ documentUri: URI.file(path).toString() });
const importOf = (r: ValidationResult<MismatchFile>) => r.document.parseResult.value.imports[0]!;

describe('unresolved-import', () => {
    it('a missing file: where it was looked for', async () => {
        result = await validate('import "nowhere.mismatch"\nexperiment E { }', at(specPath()));
        const looked = join(folder.dir, 'nowhere.mismatch');
        expectError(result, `Cannot find 'nowhere.mismatch' (looked for ${looked}).`, { node: importOf(result), property: 'path', data: { code: 'unresolved-import', path: looked } });
    });

    it('a folder', async () => {
        mkdirSync(join(folder.dir, 'folder.mismatch'));
        result = await validate('import "folder.mismatch"\nexperiment E { }', at(specPath()));
        expectError(result, "'folder.mismatch' is a folder; import a .mismatch file.", { node: importOf(result), property: 'path', data: { code: 'unresolved-import' } });
    });

    it('the spec itself', async () => {
        const self = specPath();
        result = await validate(`import "${self.split('/').pop()}"\nexperiment E { }`, at(self));
        expectError(result, 'A spec cannot import itself.', { node: importOf(result), property: 'path', data: { code: 'unresolved-import' } });
    });

    it('a file that is not a .mismatch file is a warning', async () => {
        writeFileSync(join(folder.dir, 'notes.txt'), 'world atlas { entities 10 }\n');
        result = await validate('import "notes.txt"\nexperiment E { }', at(specPath()));
        expectWarning(result, "'notes.txt' is not a .mismatch file.", { node: importOf(result), property: 'path', data: { code: 'unresolved-import' } });
    });

    it('an existing .mismatch file resolves', async () => {
        writeFileSync(join(folder.dir, 'lib.mismatch'), 'world atlas { entities 10 }\n');
        result = await validate('import "lib.mismatch"\nexperiment E { }', at(specPath()));
        expectNoIssues(result);
    });
});
