/**
 * Linking errors that say what went wrong: a name of the wrong kind ("'trivia' is a dataset; a
 * model or fine-tuned model is needed here") or a typo ("did you mean 'small'?"). The code and the
 * suggestion travel in the error (read by MismatchDocumentValidator and the quick fixes).
 */
import { AstUtils, DefaultLinker, type AstNode, type AstNodeDescription, type IndexManager, type LangiumDocuments, type LinkingError, type ReferenceInfo } from 'langium';
import type { LangiumServices } from 'langium/lsp';
import { isDataRef } from './generated/ast.js';
import { closest, declarationExample, expectedWord, kindWord } from './naming.js';
import { importClosure } from './workspace.js';
import { splitsOf } from './scope.js';

export interface MismatchLinkingError extends LinkingError {
    mismatch?: { code: 'unknown-reference' | 'wrong-reference-type'; suggestion?: string; candidates?: string[]; actualType?: string; suppressed?: boolean; declare?: string };
}

export class MismatchLinker extends DefaultLinker {
    protected readonly documents: LangiumDocuments;
    protected readonly indexManager: IndexManager;

    constructor(services: LangiumServices) {
        super(services);
        this.documents = services.shared.workspace.LangiumDocuments;
        this.indexManager = services.shared.workspace.IndexManager;
    }

    override createLinkingError(refInfo: ReferenceInfo, targetDescription?: AstNodeDescription): LinkingError {
        return this.explain(refInfo, targetDescription);
    }

    protected explain(refInfo: ReferenceInfo, targetDescription?: AstNodeDescription): MismatchLinkingError {
        const base = super.createLinkingError(refInfo, targetDescription) as MismatchLinkingError;
        try {
            const name = refInfo.reference.$refText;
            if (isDataRef(refInfo.container) && refInfo.property === 'split') {
                const dataset = refInfo.container.dataset?.ref;
                if (!dataset) {
                    // The dataset's own error says it all; this one is not shown.
                    return { ...base, message: `Unknown split '${name}': the dataset before the dot is not defined.`, mismatch: { code: 'unknown-reference', suppressed: true } };
                }
                const splits = splitsOf(dataset)
                    .map((s) => s.name)
                    .filter(Boolean);
                const suggestion = closest(name, splits);
                const message =
                    splits.length === 0
                        ? `Dataset '${dataset.name}' has no splits; add one, e.g. \`split ${name} 20%\` in its block, or evaluate on '${dataset.name}' as a whole.`
                        : `Dataset '${dataset.name}' has no split '${name}'` + (suggestion ? `. Did you mean '${suggestion}'?` : ` (its splits: ${splits.join(', ')}).`);
                return { ...base, message, mismatch: { code: 'unknown-reference', suggestion, candidates: splits } };
            }
            const referenceType = this.reflection.getReferenceType(refInfo);
            const document = AstUtils.getDocument(refInfo.container);
            const uris = importClosure(document, this.documents);
            const everything = this.indexManager.allElements(undefined, uris).toArray();
            const wrongKind = everything.find((d) => d.name === name && !this.reflection.isSubtype(d.type, referenceType));
            if (wrongKind) {
                const message = `'${name}' is a ${kindWord(wrongKind.type)}, but ${expectedWord(referenceType)} is needed here.`;
                const right = everything.filter((d) => this.reflection.isSubtype(d.type, referenceType)).map((d) => d.name);
                const hint = right.length > 0 ? ` Candidates: ${[...new Set(right)].slice(0, 6).join(', ')}.` : '';
                return { ...base, message: message + hint, mismatch: { code: 'wrong-reference-type', actualType: wrongKind.type, candidates: right } };
            }
            // A step never reads itself: leave its own name out of the suggestions.
            let owner: AstNode | undefined = refInfo.container;
            while (owner && !('name' in owner && owner.$container && (owner.$container.$type === 'Experiment' || owner.$container.$type === 'MismatchFile'))) owner = owner.$container;
            const self = owner && 'name' in owner ? (owner as AstNode & { name?: string }).name : undefined;
            const candidates = [...new Set(everything.filter((d) => this.reflection.isSubtype(d.type, referenceType) && d.name !== self).map((d) => d.name))];
            const suggestion = closest(name, candidates);
            const what = expectedWord(referenceType).replace(/^an? /, '');
            const example = declarationExample(referenceType, name);
            const message =
                `Unknown ${what} '${name}'.` +
                (suggestion ? ` Did you mean '${suggestion}'?` : (candidates.length > 0 ? ` Defined: ${candidates.slice(0, 6).join(', ')}.` : '') + (example ? ` To declare it: \`${example}\`.` : ''));
            return { ...base, message, mismatch: { code: 'unknown-reference', suggestion, candidates, declare: example } };
        } catch {
            return base;
        }
    }
}
