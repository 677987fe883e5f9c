import { EmptyFileSystem, type LangiumDocument } from 'langium';
import { parseHelper } from 'langium/test';
import { NodeFileSystem } from 'langium/node';
import { createMismatchServices } from '../../language/mismatch-module.js';
import type { MismatchFile } from '../../language/generated/ast.js';

export const services = createMismatchServices(NodeFileSystem).Mismatch;
export const emptyServices = createMismatchServices(EmptyFileSystem).Mismatch;
export const parse = parseHelper<MismatchFile>(services);

export async function parseValid(text: string, options?: { documentUri?: string }): Promise<LangiumDocument<MismatchFile>> {
    return parse(text, { validation: true, ...options });
}

export function errorsOf(doc: LangiumDocument): string[] {
    return [...doc.parseResult.lexerErrors.map((e) => e.message), ...doc.parseResult.parserErrors.map((e) => `${e.token.startLine}:${e.token.startColumn} ${e.message}`)];
}
