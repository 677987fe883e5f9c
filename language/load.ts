/**
 * Specs from disk without an editor: builds a Langium workspace of the given files and their
 * imports with the same services as the language server, and returns diagnostics (1-based, for
 * people and the CLI) and the Plan. Used by `mismatch check|run|export` and by the engine's tests.
 */
import * as path from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { URI, type LangiumDocument } from 'langium';
import { NodeFileSystem } from 'langium/node';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { MismatchFile } from './generated/ast.js';
import { createMismatchServices, type MismatchServices } from './mismatch-module.js';
import type { Plan } from './plan-types.js';
import { loadImports } from './workspace.js';
import { MAX_DECLARATIONS, MAX_SPEC_BYTES, declarationCount as countDeclarations } from './spec-bounds.js';

export interface SpecDiagnostic {
    /** Absolute path of the file the diagnostic is in. */
    file: string;
    /** 1-based. */
    line: number;
    column: number;
    endLine: number;
    endColumn: number;
    severity: 'error' | 'warning' | 'info' | 'hint';
    /** Stable code (`unknown-reference`, `parsing-error`, ...). */
    code: string;
    message: string;
    /** Quick-fix data of the diagnostic (suggestion, replacement, insert...). */
    data?: Record<string, unknown>;
}

export interface LoadResult {
    plan?: Plan;
    /** Diagnostics of the spec and of the files it imports. */
    diagnostics: SpecDiagnostic[];
}

const SEVERITY = ['error', 'error', 'warning', 'info', 'hint'] as const;

export function toSpecDiagnostic(file: string, d: Diagnostic): SpecDiagnostic {
    const data = (d.data ?? {}) as Record<string, unknown>;
    return {
        file,
        line: d.range.start.line + 1,
        column: d.range.start.character + 1,
        endLine: d.range.end.line + 1,
        endColumn: d.range.end.character + 1,
        severity: SEVERITY[d.severity ?? 1],
        code: String(data.code ?? d.code ?? 'error'),
        message: d.message,
        data,
    };
}

let shared: { services: MismatchServices; queue: Promise<unknown> } | undefined;

function servicesForCli(): { services: MismatchServices; queue: Promise<unknown> } {
    shared ??= { services: createMismatchServices(NodeFileSystem).Mismatch, queue: Promise.resolve() };
    return shared;
}

export { MAX_SPEC_BYTES, MAX_DECLARATIONS } from './spec-bounds.js';

/** Declarations of a parsed file (top level and inside its experiments). */
function declarationCount(doc: LangiumDocument<MismatchFile>): number {
    return countDeclarations(doc.parseResult.value);
}

function fileProblem(file: string): SpecDiagnostic | undefined {
    const at = { file, line: 1, column: 1, endLine: 1, endColumn: 1, severity: 'error' as const, code: 'spec-file' };
    try {
        if (statSync(file).isDirectory()) return { ...at, message: `${file} is a folder, not a .mismatch file.` };
        const st = statSync(file);
        // Reading a FIFO blocks until a writer comes: regular files only.
        if (!st.isFile()) return { ...at, message: `${file} is not a regular file (${st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device'}).` };
        if (!file.endsWith('.mismatch')) return { ...at, message: `${file} is not a .mismatch spec; name files ending in .mismatch, or a folder of them.` };
        if (st.size > MAX_SPEC_BYTES)
            return {
                ...at,
                code: 'spec-too-large',
                message: `${file} is ${(st.size / 1048576).toFixed(1)} MB; a spec may hold at most ${MAX_SPEC_BYTES / 1048576} MB: split it into files that import each other.`,
            };
        const head = readFileSync(file).subarray(0, 4096);
        if (head.includes(0)) return { ...at, message: `${file} is not a text file.` };
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return { ...at, message: code === 'ENOENT' ? `${file} does not exist.` : `cannot read ${file} (${code}).` };
    }
    return undefined;
}

/**
 * Loads, links and validates `files` (and their imports) in a fresh workspace. Calls are
 * serialised: the services are shared by the whole process.
 */
export async function loadSpecs(files: string[]): Promise<{ documents: Array<LangiumDocument<MismatchFile>>; diagnostics: SpecDiagnostic[]; services: MismatchServices }> {
    const ctx = servicesForCli();
    const run = async () => {
        const services = ctx.services;
        const workspace = services.shared.workspace;
        const old = workspace.LangiumDocuments.all.map((d) => d.uri).toArray();
        for (const uri of old) workspace.LangiumDocuments.deleteDocument(uri);
        if (old.length > 0) await workspace.DocumentBuilder.update([], old);
        const diagnostics: SpecDiagnostic[] = [];
        const documents: Array<LangiumDocument<MismatchFile>> = [];
        for (const f of files) {
            const abs = path.resolve(f);
            const problem = fileProblem(abs);
            if (problem) {
                diagnostics.push(problem);
                continue;
            }
            try {
                const doc = (await workspace.LangiumDocuments.getOrCreateDocument(URI.file(abs))) as LangiumDocument<MismatchFile>;
                const count = declarationCount(doc);
                if (count > MAX_DECLARATIONS) {
                    workspace.LangiumDocuments.deleteDocument(doc.uri);
                    diagnostics.push({
                        file: abs,
                        line: 1,
                        column: 1,
                        endLine: 1,
                        endColumn: 1,
                        severity: 'error',
                        code: 'spec-too-large',
                        message: `${abs} holds ${count} declarations; a spec may hold at most ${MAX_DECLARATIONS}: split it into files that import each other.`,
                    });
                    continue;
                }
                documents.push(doc);
            } catch (err) {
                diagnostics.push({ file: abs, line: 1, column: 1, endLine: 1, endColumn: 1, severity: 'error', code: 'spec-file', message: `cannot read ${abs}: ${(err as Error).message}` });
            }
        }
        const imported = (await loadImports(services, documents)).filter((doc) => {
            const count = declarationCount(doc as LangiumDocument<MismatchFile>);
            if (count <= MAX_DECLARATIONS) return true;
            diagnostics.push({
                file: doc.uri.fsPath,
                line: 1,
                column: 1,
                endLine: 1,
                endColumn: 1,
                severity: 'error',
                code: 'spec-too-large',
                message: `${doc.uri.fsPath} (imported) holds ${count} declarations; a spec may hold at most ${MAX_DECLARATIONS}.`,
            });
            return false;
        });
        const all = [...documents, ...imported];
        await workspace.DocumentBuilder.build(all, { validation: true });
        const seen = new Set<string>();
        for (const d of all) {
            const file = d.uri.fsPath;
            if (seen.has(file)) continue;
            seen.add(file);
            for (const diag of d.diagnostics ?? []) diagnostics.push(toSpecDiagnostic(file, diag));
        }
        diagnostics.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
        return { documents, diagnostics, services };
    };
    const result = ctx.queue.then(run, run);
    ctx.queue = result.catch(() => undefined);
    return result;
}

/**
 * The Plan of a spec on disk, with the diagnostics of the spec and its imports. `plan` is absent
 * when there is any error.
 */
export async function loadPlan(file: string): Promise<LoadResult> {
    const { documents, diagnostics, services } = await loadSpecs([file]);
    const doc = documents[0];
    if (!doc || diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
    const plan = services.plan.PlanService.buildPlan(doc);
    return { plan, diagnostics };
}
