/**
 * Imports: `import "common.mismatch"` is resolved relative to the importing spec. The scope of a
 * document is itself plus its imports (transitively); imported files that are on disk but not yet
 * in the workspace are loaded (in the language server after each build, in `loadSpec` up front).
 */
import * as path from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { DocumentState, URI, type LangiumDocument, type LangiumDocuments } from 'langium';
import type { MismatchFile } from './generated/ast.js';
import type { MismatchServices } from './mismatch-module.js';

/** The URI an import path points to, relative to the importing document. */
export function resolveImport(from: URI, importPath: string): URI {
    if (from.scheme === 'file') {
        return URI.file(path.resolve(path.dirname(from.fsPath), importPath));
    }
    const base = path.posix.dirname(from.path);
    return from.with({ path: path.posix.resolve(base, importPath) });
}

export function importUris(doc: LangiumDocument): URI[] {
    const root = doc.parseResult?.value as MismatchFile | undefined;
    if (!root?.imports) return [];
    return root.imports.filter((i) => typeof i.path === 'string' && i.path.length > 0).map((i) => resolveImport(doc.uri, i.path));
}

/** This document and everything it imports, transitively, as URI strings (cycles are fine). */
export function importClosure(doc: LangiumDocument, documents: LangiumDocuments): Set<string> {
    const seen = new Set<string>([doc.uri.toString()]);
    const queue: LangiumDocument[] = [doc];
    while (queue.length > 0) {
        const d = queue.pop()!;
        for (const uri of importUris(d)) {
            const key = uri.toString();
            if (seen.has(key)) continue;
            seen.add(key);
            const imported = documents.getDocument(uri);
            if (imported) queue.push(imported);
        }
    }
    return seen;
}

function isLoadableFile(uri: URI): boolean {
    if (uri.scheme !== 'file') return false;
    try {
        return existsSync(uri.fsPath) && statSync(uri.fsPath).isFile();
    } catch {
        return false;
    }
}

/**
 * Loads the imports of `docs` (transitively) into the workspace; returns the documents it added.
 * Files that are missing or unreadable are left to the `unresolved-import` check.
 */
export async function loadImports(services: MismatchServices, docs: LangiumDocument[]): Promise<LangiumDocument[]> {
    const documents = services.shared.workspace.LangiumDocuments;
    const added: LangiumDocument[] = [];
    const queue = [...docs];
    while (queue.length > 0) {
        const d = queue.pop()!;
        for (const uri of importUris(d)) {
            if (documents.hasDocument(uri) || !isLoadableFile(uri)) continue;
            try {
                const imported = await documents.getOrCreateDocument(uri);
                added.push(imported);
                queue.push(imported);
            } catch {
                // unreadable: reported by the import check
            }
        }
    }
    return added;
}

/** In the language server: after each build, load imports that are not in the workspace yet. */
export function registerImportLoader(services: MismatchServices): void {
    const shared = services.shared;
    shared.workspace.DocumentBuilder.onBuildPhase(DocumentState.Parsed, (built) => {
        const documents = shared.workspace.LangiumDocuments;
        const missing = built.flatMap(importUris).filter((u) => !documents.hasDocument(u) && isLoadableFile(u));
        if (missing.length === 0 || !services.shared.lsp?.Connection) return;
        // Outside the running build: a new update that adds the files and relinks their importers.
        setTimeout(() => {
            void shared.workspace.WorkspaceLock.write(async (token) => {
                const fresh = missing.filter((u) => !documents.hasDocument(u));
                if (fresh.length > 0) await shared.workspace.DocumentBuilder.update(fresh, [], token);
            });
        }, 0);
    });
}
