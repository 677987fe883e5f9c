/**
 * Langium's document validator, with linking errors carrying our codes (`unknown-reference`,
 * `wrong-reference-type`) and the data a quick fix needs (`suggestion`).
 */
import { AstUtils, Cancellation, DefaultDocumentValidator, type AstNode, type LangiumDocument, type ValidationAcceptor, type ValidationOptions } from 'langium';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { MismatchLinkingError } from '../linking.js';

/** More syntax errors than this in one document are summarised: past it they only repeat (binary junk). */
export const MAX_SYNTAX_ERRORS = 50;

/** The AST's containment, spelled out (cheaper than Langium's reflective walk, which reads every key). */
const CHILDREN: Record<string, string[]> = {
    MismatchFile: ['imports', 'declarations', 'experiments'],
    Experiment: ['settings', 'declarations'],
    Setting: ['values'],
    Body: ['items'],
    Property: ['values'],
    Dataset: ['body'],
    World: ['body'],
    Model: ['body'],
    Decoding: ['body'],
    Label: ['data', 'body'],
    Shuffle: ['body'],
    Mix: ['body'],
    Knowledge: ['data', 'body'],
    Finetune: ['body'],
    Evaluate: ['arms', 'data', 'body'],
    Hypothesis: ['body'],
    Import: [], Split: [], Flag: [], DataRef: [], Arm: [], NumberValue: [], StringValue: [], NameValue: [],
};

const VALUES = ['NumberValue', 'StringValue', 'NameValue'];
const DECLARATIONS = ['World', 'Dataset', 'Model', 'Decoding', 'Label', 'Shuffle', 'Mix', 'Knowledge', 'Finetune', 'Evaluate', 'Hypothesis'];
/** The node types each type may contain. */
const CHILD_TYPES: Record<string, string[]> = {
    MismatchFile: ['Import', 'Experiment', ...DECLARATIONS],
    Experiment: ['Setting', ...DECLARATIONS],
    Setting: VALUES,
    Body: ['Property', 'Split', 'Flag'],
    Property: VALUES,
    ...Object.fromEntries(DECLARATIONS.map((d) => [d, ['Body', 'DataRef', 'Arm']])),
};

export class MismatchDocumentValidator extends DefaultDocumentValidator {
    private checksByType = new Map<string, ReadonlyArray<(node: AstNode, accept: ValidationAcceptor, token: Cancellation.CancellationToken) => unknown>>();
    /** Types whose subtree holds a node with checks (computed once the checks are registered). */
    private worthVisiting?: Set<string>;

    private checksFor(type: string, options: ValidationOptions) {
        const key = `${type}|${options.categories?.join(',') ?? ''}`;
        let list = this.checksByType.get(key);
        if (!list) {
            list = this.validationRegistry.getChecks(type, options.categories).toArray();
            this.checksByType.set(key, list);
        }
        return list;
    }

    private subtreeHasChecks(type: string, options: ValidationOptions, seen = new Set<string>()): boolean {
        if (seen.has(type)) return false;
        seen.add(type);
        if (this.checksFor(type, options).length > 0) return true;
        return (CHILD_TYPES[type] ?? []).some((t) => this.subtreeHasChecks(t, options, seen));
    }

    /**
     * Langium walks every AST node reflectively and awaits every check. Most nodes are values in
     * property blocks, which `checkBody` reads itself; this walk follows the grammar's containment,
     * skips subtrees without checks, and awaits only checks that return a promise.
     */
    protected override async validateAstNodes(rootNode: AstNode, options: ValidationOptions, acceptor: ValidationAcceptor, cancelToken = Cancellation.CancellationToken.None): Promise<void> {
        if (!(rootNode.$type in CHILDREN)) return super.validateAstNodes(rootNode, options, acceptor, cancelToken);
        if (!this.worthVisiting) {
            this.worthVisiting = new Set(Object.keys(CHILDREN).filter((t) => this.subtreeHasChecks(t, options)));
        }
        const stack: AstNode[] = [rootNode];
        while (stack.length > 0) {
            const node = stack.pop()!;
            for (const check of this.checksFor(node.$type, options)) {
                const result = check(node, acceptor, cancelToken);
                if (result instanceof Promise) await result;
            }
            const props = CHILDREN[node.$type];
            if (!props) {
                // A type this table does not know (the grammar grew): Langium's own walk.
                for (const child of AstUtils.streamContents(node)) stack.push(child);
                continue;
            }
            for (let i = props.length - 1; i >= 0; i--) {
                const value = (node as unknown as Record<string, unknown>)[props[i]];
                if (Array.isArray(value)) {
                    for (let j = value.length - 1; j >= 0; j--) if (this.worthVisiting.has((value[j] as AstNode).$type)) stack.push(value[j] as AstNode);
                } else if (value && typeof value === 'object' && this.worthVisiting.has((value as AstNode).$type)) {
                    stack.push(value as AstNode);
                }
            }
        }
    }

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
