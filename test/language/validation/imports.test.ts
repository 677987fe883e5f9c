/**
 * language/validation/imports.ts: an import that does not resolve (a missing file, a folder).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validationFolder, withCode } from './fixtures.js';

const folder = validationFolder('mm-imports-');
const { check } = folder;

describe('unresolved-import', () => {
    it('unresolved-import, and imports that resolve', async () => {
        const d = await check(`import "nowhere.mismatch"\nexperiment E { }`);
        expect(withCode(d, 'unresolved-import')[0].message).toMatch(/Cannot find 'nowhere.mismatch'/);
        mkdirSync(join(folder.dir, 'folder.mismatch'));
        expect(withCode(await check(`import "folder.mismatch"\nexperiment E { }`), 'unresolved-import')[0].message).toMatch(/is a folder/);
        writeFileSync(join(folder.dir, 'lib.mismatch'), 'world atlas { entities 10 }\n');
        expect(await check(`import "lib.mismatch"\nexperiment E { }`)).toEqual([]);
    });
});
