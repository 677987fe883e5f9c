/**
 * The validator's fast walk follows containment tables derived from the grammar. Every child node
 * of every example must be reachable through them (a node the tables missed would go unvalidated).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AstUtils, EmptyFileSystem } from 'langium';
import { parseHelper } from 'langium/test';
import { createMismatchServices } from '../../language/mismatch-module.js';
import { containmentOf } from '../../language/validation/document-validator.js';
import { MismatchGrammar } from '../../language/generated/grammar.js';
import { repoRoot } from '../lsp/lsp-client.js';

const services = createMismatchServices(EmptyFileSystem).Mismatch;
const parse = parseHelper(services);
const { children, childTypes } = containmentOf(MismatchGrammar());
// Files only: `npm start` leaves its run store in examples/.mismatch/, a directory.
const specs = readdirSync(join(repoRoot, 'examples'), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.mismatch'))
    .map((e) => e.name);

describe('containment tables derived from the grammar', () => {
    it('name the union rules by their members and the datatype rules not at all', () => {
        expect(childTypes.Body.sort()).toEqual(['Flag', 'Property', 'Split']);
        expect(childTypes.Property.sort()).toEqual(['NameValue', 'NumberValue', 'StringValue']);
        expect(children.Evaluate.sort()).toEqual(['arms', 'body', 'data']);
        expect(Object.keys(children)).not.toContain('Value');
        expect(Object.keys(children)).not.toContain('Name');
    });

    it.each(specs)('reach every node of examples/%s', async (file) => {
        const doc = await parse(readFileSync(join(repoRoot, 'examples', file), 'utf8'));
        let nodes = 0;
        for (const node of AstUtils.streamAst(doc.parseResult.value)) {
            nodes++;
            for (const child of AstUtils.streamContents(node)) {
                expect(children[node.$type], `${node.$type} is in the table`).toContain(child.$containerProperty);
                expect(childTypes[node.$type]).toContain(child.$type);
            }
        }
        expect(nodes).toBeGreaterThan(20);
    });
});
