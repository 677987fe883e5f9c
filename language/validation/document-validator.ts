/**
 * Langium's document validator, with linking errors carrying our codes (`unknown-reference`,
 * `wrong-reference-type`) and the data a quick fix needs (`suggestion`).
 */
import { DefaultDocumentValidator, type LangiumDocument, type ValidationOptions } from 'langium';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { MismatchLinkingError } from '../linking.js';

export class MismatchDocumentValidator extends DefaultDocumentValidator {
    protected override processLinkingErrors(document: LangiumDocument, diagnostics: Diagnostic[], _options: ValidationOptions): void {
        for (const reference of document.references) {
            const error = reference.error as MismatchLinkingError | undefined;
            if (!error || error.mismatch?.suppressed) continue;
            const { suppressed: _suppressed, ...extra0 } = error.mismatch ?? { code: 'unknown-reference' as const };
            const extra = extra0;
            diagnostics.push(
                this.toDiagnostic('error', error.message, {
                    node: error.info.container,
                    range: reference.$refNode?.range,
                    property: error.info.property,
                    index: error.info.index,
                    data: {
                        ...extra,
                        code: extra.code,
                        refText: error.info.reference.$refText,
                        containerType: error.info.container.$type,
                        property: error.info.property,
                    },
                }),
            );
        }
    }
}
