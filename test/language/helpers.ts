import { EmptyFileSystem, URI, type LangiumDocument } from 'langium';
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

export interface Diag {
    code: string;
    severity: number;
    line: number;
    message: string;
    data: Record<string, unknown>;
}

/** Validates `text` (as a file in `dir` when given, so relative paths resolve) and returns the diagnostics. */
export async function diagnose(text: string, file?: string): Promise<Diag[]> {
    const doc = await parse(text, { validation: true, documentUri: file ? URI.file(file).toString() : undefined });
    return (doc.diagnostics ?? []).map((d) => ({
        code: String((d.data as { code?: string } | undefined)?.code ?? d.code ?? ''),
        severity: d.severity ?? 1,
        line: d.range.start.line + 1,
        message: d.message,
        data: (d.data ?? {}) as Record<string, unknown>,
    }));
}

export function codes(diags: Diag[]): string[] {
    return diags.map((d) => d.code);
}
