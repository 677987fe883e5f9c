/**
 * Langium's document validator, with linking errors carrying our codes (`unknown-reference`,
 * `wrong-reference-type`) and the data a quick fix needs (`suggestion`).
 */
import { AstUtils, Cancellation, DefaultDocumentValidator, GrammarAST, GrammarUtils, type AstNode, type Grammar, type LangiumDocument, type ValidationAcceptor, type ValidationOptions } from 'langium';
import { MismatchGrammar } from '../generated/grammar.js';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { MismatchLinkingError } from '../linking.js';
import { specBoundProblem } from '../spec-bounds.js';

/** More syntax errors than this in one document are summarised: past it they only repeat (binary junk). */
export const MAX_SYNTAX_ERRORS = 50;

/**
 * The AST's containment, read once from the grammar: for each node type, the properties that hold
 * child nodes and the concrete types those children can have. (Cheaper than Langium's reflective
 * walk, which reads every key of every node; derived rather than written out so that a rule added
 * to the grammar is validated without anyone remembering to list it here.)
 */
export interface Containment {
    children: Record<string, string[]>;
    childTypes: Record<string, string[]>;
}

export function containmentOf(grammar: Grammar): Containment {
    const rules = new Map(
        grammar.rules
            .filter(GrammarAST.isParserRule)
            .filter((r) => !GrammarUtils.isDataTypeRule(r))
            .map((r) => [r.name, r]),
    );
    const assignments = (r: GrammarAST.ParserRule) => AstUtils.streamAst(r.definition).filter(GrammarAST.isAssignment).toArray();
    const hasActions = (r: GrammarAST.ParserRule) => AstUtils.streamAst(r.definition).some(GrammarAST.isAction);
    const typeOf = (r: GrammarAST.ParserRule) => r.inferredType?.name ?? r.returnType?.ref?.name ?? r.name;
    // A rule without assignments or actions (`Value: NumberValue | StringValue | NameValue`) is a union:
    // its nodes are those of the rules it calls.
    const concrete = (name: string, seen = new Set<string>()): string[] => {
        const rule = rules.get(name);
        if (!rule || seen.has(name)) return [];
        seen.add(name);
        if (assignments(rule).length > 0 || hasActions(rule) || rule.entry) return [typeOf(rule)];
        return AstUtils.streamAst(rule.definition)
            .filter(GrammarAST.isRuleCall)
            .toArray()
            .flatMap((c) => concrete(c.rule.ref?.name ?? '', seen));
    };
    const children: Record<string, string[]> = {};
    const childTypes: Record<string, string[]> = {};
    for (const rule of rules.values()) {
        const own = assignments(rule);
        if (own.length === 0 && !hasActions(rule) && !rule.entry) continue;
        const type = typeOf(rule);
        const props = new Set<string>(children[type] ?? []);
        const types = new Set<string>(childTypes[type] ?? []);
        for (const a of own) {
            const terminals = GrammarAST.isAlternatives(a.terminal) ? a.terminal.elements : [a.terminal];
            const called = terminals
                .filter(GrammarAST.isRuleCall)
                .map((c) => c.rule.ref?.name ?? '')
                .filter((n) => rules.has(n));
            if (called.length === 0) continue;
            props.add(a.feature);
            for (const c of called) for (const t of concrete(c)) types.add(t);
        }
        children[type] = [...props];
        childTypes[type] = [...types];
    }
    return { children, childTypes };
}

const { children: CHILDREN, childTypes: CHILD_TYPES } = containmentOf(MismatchGrammar());

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

    override async validateDocument(
        document: LangiumDocument,
        options: ValidationOptions = {},
        cancelToken: Cancellation.CancellationToken = Cancellation.CancellationToken.None,
    ): Promise<Diagnostic[]> {
        // A spec over the bounds the CLI refuses gets the CLI's one error, and none of the
        // (superlinear) checks: the editor stays responsive on it.
        const tooLarge = specBoundProblem(document);
        if (tooLarge) return [{ severity: 1, range: tooLarge.range, message: tooLarge.message, source: 'mismatch', code: 'spec-too-large', data: { code: 'spec-too-large' } }];
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
