/**
 * Semantic highlighting, on Langium's AbstractSemanticTokenProvider. Each kind of step has its own
 * token type, the same for its declaration (with the `declaration` modifier) and every reference to
 * it, so that `large` reads as a model wherever it appears. The TextMate grammar
 * (`syntaxes/mismatch.tmLanguage.json`) colours the same categories for editors without semantic
 * tokens: keywords, declared names, property keys, numbers with their units, strings, comments.
 */
import { AbstractSemanticTokenProvider, type SemanticTokenAcceptor } from 'langium/lsp';
import { GrammarUtils, type AstNode, type CstNode } from 'langium';
import { SemanticTokenModifiers, SemanticTokenTypes } from 'vscode-languageserver';
import * as ast from '../generated/ast.js';

/** Token type of a step kind, for its name and for references to it. */
export function tokenTypeOf(node: AstNode | undefined): string {
    if (!node) return SemanticTokenTypes.variable;
    switch (node.$type) {
        case ast.World.$type:
            return SemanticTokenTypes.namespace;
        case ast.Dataset.$type:
            return SemanticTokenTypes.struct;
        case ast.Split.$type:
            return SemanticTokenTypes.enumMember;
        case ast.Model.$type:
        case ast.Finetune.$type:
            return SemanticTokenTypes.class;
        case ast.Decoding.$type:
            return SemanticTokenTypes.type;
        case ast.Label.$type:
        case ast.Shuffle.$type:
        case ast.Mix.$type:
            return SemanticTokenTypes.variable;
        case ast.Knowledge.$type:
            return SemanticTokenTypes.interface;
        case ast.Evaluate.$type:
            return SemanticTokenTypes.event;
        case ast.Hypothesis.$type:
            return SemanticTokenTypes.function;
        case ast.Experiment.$type:
            return SemanticTokenTypes.namespace;
        default:
            return SemanticTokenTypes.variable;
    }
}

/** `60%` → number `60` then unit `%`. */
const UNIT = /(%|[kKM])$/;

export class MismatchSemanticTokenProvider extends AbstractSemanticTokenProvider {
    protected highlightElement(node: AstNode, acceptor: SemanticTokenAcceptor): void | 'prune' {
        if ('name' in node && typeof node.name === 'string' && node.$cstNode && !ast.isMismatchFile(node)) {
            acceptor({ node, property: 'name' as never, type: tokenTypeOf(node), modifier: SemanticTokenModifiers.declaration });
        }
        if (ast.isDataset(node)) {
            if (node.world) this.reference(node, 'world', node.world.ref, acceptor);
            if (node.path !== undefined) acceptor({ node, property: 'path', type: SemanticTokenTypes.string });
        } else if (ast.isModel(node)) {
            if (node.world) this.reference(node, 'world', node.world.ref, acceptor);
            if (node.path !== undefined) acceptor({ node, property: 'path', type: SemanticTokenTypes.string });
            node.urls.forEach((_, index) => acceptor({ node, property: 'urls', index, type: SemanticTokenTypes.string }));
        } else if (ast.isDataRef(node)) {
            this.reference(node, 'dataset', node.dataset?.ref, acceptor);
            if (node.split) this.reference(node, 'split', node.split?.ref, acceptor);
        } else if (ast.isLabel(node) || ast.isKnowledge(node)) {
            this.reference(node, 'model', node.model?.ref, acceptor);
            if (node.decoding) this.reference(node, 'decoding', node.decoding?.ref, acceptor);
        } else if (ast.isShuffle(node)) {
            this.reference(node, 'source', node.source?.ref, acceptor);
        } else if (ast.isMix(node)) {
            this.reference(node, 'knowledge', node.knowledge?.ref, acceptor);
        } else if (ast.isFinetune(node)) {
            this.reference(node, 'model', node.model?.ref, acceptor);
            this.reference(node, 'labels', node.labels?.ref, acceptor);
        } else if (ast.isArm(node)) {
            this.reference(node, 'model', node.model?.ref, acceptor);
        } else if (ast.isEvaluate(node)) {
            if (node.decoding) this.reference(node, 'decoding', node.decoding?.ref, acceptor);
            node.knowledge.forEach((k, index) => acceptor({ node, property: 'knowledge', index, type: tokenTypeOf(k.ref) }));
        } else if (ast.isHypothesis(node)) {
            this.reference(node, 'a', node.a?.ref, acceptor);
            this.reference(node, 'b', node.b?.ref, acceptor);
            if (node.evaluation) this.reference(node, 'evaluation', node.evaluation?.ref, acceptor);
        } else if (ast.isImport(node)) {
            acceptor({ node, property: 'path', type: SemanticTokenTypes.string });
        } else if (ast.isProperty(node) || ast.isSetting(node)) {
            acceptor({ node, property: 'key', type: SemanticTokenTypes.property });
        } else if (ast.isFlag(node)) {
            acceptor({ node, property: 'flag', type: SemanticTokenTypes.keyword, modifier: SemanticTokenModifiers.modification });
        } else if (ast.isNumberValue(node)) {
            this.number(node.$cstNode, acceptor);
        } else if (ast.isSplit(node)) {
            this.number(node.$cstNode ? GrammarUtils.findNodeForProperty(node.$cstNode, 'size') : undefined, acceptor);
        } else if (ast.isStringValue(node)) {
            acceptor({ node, property: 'text', type: SemanticTokenTypes.string });
        } else if (ast.isNameValue(node)) {
            acceptor({ node, property: 'text', type: SemanticTokenTypes.enumMember });
        }
    }

    /** A reference gets the token type of what it points to (or `variable` when unresolved). */
    protected reference<N extends AstNode>(node: N, property: string, target: AstNode | undefined, acceptor: SemanticTokenAcceptor): void {
        acceptor({ node, property: property as never, type: tokenTypeOf(target) });
    }

    protected number(cst: CstNode | undefined, acceptor: SemanticTokenAcceptor): void {
        if (!cst) return;
        const { start } = cst.range;
        const unit = UNIT.exec(cst.text);
        const digits = cst.text.length - (unit ? unit[0].length : 0);
        acceptor({ line: start.line, char: start.character, length: digits, type: SemanticTokenTypes.number });
        if (unit) acceptor({ line: start.line, char: start.character + digits, length: unit[0].length, type: SemanticTokenTypes.keyword });
    }
}
