import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { languageReference } from '../../language/reference.js';
import { Codes } from '../../language/validation/codes.js';
import { PROPERTY_TABLE } from '../../language/properties.js';

describe('docs/language.md', () => {
    it("is the reference generated from the validator's tables", () => {
        const text = languageReference();
        if (process.env.UPDATE_REFERENCE) {
            mkdirSync('docs', { recursive: true });
            writeFileSync('docs/language.md', text);
        }
        expect(existsSync('docs/language.md')).toBe(true);
        expect(readFileSync('docs/language.md', 'utf8'), 'docs/language.md is stale: UPDATE_REFERENCE=1 npx vitest run test/language/reference.test.ts').toBe(text);
    });

    it('documents every code and every property', () => {
        const text = languageReference();
        for (const code of Object.values(Codes)) expect(text).toContain(`| \`${code}\` |`);
        for (const specs of Object.values(PROPERTY_TABLE)) for (const p of specs) expect(text).toContain(`\`${p.key}\``);
    });
});
