/**
 * Langium's document validator, with linking errors carrying our codes (`unknown-reference`,
 * `wrong-reference-type`) and the data a quick fix needs (`suggestion`).
 */
import { Cancellation, DefaultDocumentValidator, type LangiumDocument, type ValidationOptions } from 'langium';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { MismatchLinkingError } from '../linking.js';

/** More syntax errors than this in one document are summarised: past it they only repeat (binary junk). */
export const MAX_SYNTAX_ERRORS = 50;

export class MismatchDocumentValidator extends DefaultDocumentValidator {
    override async validateDocument(document: LangiumDocument, options: ValidationOptions = {}, cancelToken: Cancellation.CancellationToken = Cancellation.CancellationToken.None): Promise<Diagnostic[]> {
        const all = await super.validateDocument(document, options, cancelToken);
        const isSyntax = (d: Diagnostic) => {
            const code = (d.data as { code?: string } | undefined)?.code;
            return code === 'lexing-error' || code === 'parsing-error';
        };
        const syntax = all.filter(isSyntax);
        if (syntax.length <= MAX_SYNTAX_ERRORS) return all;
        const kept = new Set(syntax.slice(0, MAX_SYNTAX_ERRORS));
        const rest = syntax.length - MAX_SYNTAX_ERRORS;
        const last = syntax[MAX_SYNTAX_ERRORS];
        return [
            ...all.filter((d) => !isSyntax(d) || kept.has(d)),
            {
                severity: 1,
                range: last.range,
                message: `…and ${rest} more syntax error${rest === 1 ? '' : 's'}; is this a .mismatch spec?`,
                source: last.source,
                data: { code: 'too-many-errors' },
            },
        ];
    }

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
