/**
 * Scoping. Every declaration (top level or inside an `experiment`) is exported; a document sees its
 * own declarations and those of the files it imports (transitively), not the whole workspace.
 * `trivia.train`: the split is looked up among the splits of the dataset before the dot.
 */
import {
    AstUtils,
    DefaultScopeComputation,
    DefaultScopeProvider,
    EMPTY_SCOPE,
    MultiMap,
    MultiMapScope,
    WorkspaceCache,
    type AstNode,
    type AstNodeDescription,
    type LangiumDocument,
    type LangiumDocuments,
    type LocalSymbols,
    type ReferenceInfo,
    type Scope,
} from 'langium';
import type { LangiumServices } from 'langium/lsp';
import { isDataRef, isSplit, type Declaration, type Dataset, type MismatchFile, type Split } from './generated/ast.js';
import { importClosure } from './workspace.js';

export function allDeclarations(root: MismatchFile): Declaration[] {
    return [...(root.declarations ?? []), ...(root.experiments ?? []).flatMap((e) => e.declarations ?? [])];
}

export function splitsOf(dataset: Dataset): Split[] {
    return (dataset.body?.items ?? []).filter(isSplit);
}

export class MismatchScopeComputation extends DefaultScopeComputation {
    override async collectExportedSymbols(document: LangiumDocument): Promise<AstNodeDescription[]> {
        const root = document.parseResult.value as MismatchFile;
        const exports: AstNodeDescription[] = [];
        for (const decl of allDeclarations(root)) {
            if (decl.name) exports.push(this.descriptions.createDescription(decl, decl.name, document));
        }
        return exports;
    }

    /** Declarations are all exported (and filtered by imports in the scope provider); splits are
     * found through their dataset. Nothing else has a name. */
    override async collectLocalSymbols(): Promise<LocalSymbols> {
        return new MultiMap<AstNode, AstNodeDescription>();
    }
}

export class MismatchScopeProvider extends DefaultScopeProvider {
    protected readonly documents: LangiumDocuments;
    /** Global scope per document and reference type, dropped whenever the workspace changes. */
    protected readonly importScopes: WorkspaceCache<string, Scope>;

    constructor(services: LangiumServices) {
        super(services);
        this.documents = services.shared.workspace.LangiumDocuments;
        this.importScopes = new WorkspaceCache(services.shared);
    }

    override getScope(context: ReferenceInfo): Scope {
        if (isDataRef(context.container) && context.property === 'split') {
            const dataset = context.container.dataset?.ref;
            return dataset ? this.createScopeForNodes(splitsOf(dataset)) : EMPTY_SCOPE;
        }
        const referenceType = this.reflection.getReferenceType(context);
        const document = AstUtils.getDocument(context.container);
        return this.importScopes.get(`${document.uri.toString()}|${referenceType}`, () => {
            const uris = importClosure(document, this.documents);
            return new MultiMapScope(this.indexManager.allElements(referenceType, uris));
        });
    }
}
