/**
 * Outline (document symbols) and the icons of symbols and completion items.
 *
 * Langium's DefaultDocumentSymbolProvider lists every node with a name; it leaves out the steps that
 * may be unnamed (`evaluate`, `knowledge`, `hypothesis`), which are exactly the lines results appear
 * on, so this subclass gives those a readable label (`evaluate smallOnLarge, small on trivia.test`)
 * and a detail line for every step (what it is made of).
 */
import { DefaultDocumentSymbolProvider, DefaultNodeKindProvider } from 'langium/lsp';
import type { AstNode, AstNodeDescription, LangiumDocument } from 'langium';
import { CompletionItemKind, SymbolKind, type DocumentSymbol } from 'vscode-languageserver';
import * as ast from '../generated/ast.js';

function kindOf(type: string): { symbol: SymbolKind; completion: CompletionItemKind } | undefined {
    switch (type) {
        case ast.Experiment.$type:
            return { symbol: SymbolKind.Namespace, completion: CompletionItemKind.Module };
        case ast.World.$type:
            return { symbol: SymbolKind.Package, completion: CompletionItemKind.Module };
        case ast.Dataset.$type:
            return { symbol: SymbolKind.Struct, completion: CompletionItemKind.Struct };
        case ast.Split.$type:
            return { symbol: SymbolKind.EnumMember, completion: CompletionItemKind.EnumMember };
        case ast.Model.$type:
            return { symbol: SymbolKind.Class, completion: CompletionItemKind.Class };
        case ast.Finetune.$type:
            return { symbol: SymbolKind.Constructor, completion: CompletionItemKind.Constructor };
        case ast.Decoding.$type:
            return { symbol: SymbolKind.TypeParameter, completion: CompletionItemKind.TypeParameter };
        case ast.Label.$type:
        case ast.Shuffle.$type:
        case ast.Mix.$type:
            return { symbol: SymbolKind.Variable, completion: CompletionItemKind.Variable };
        case ast.Knowledge.$type:
            return { symbol: SymbolKind.Interface, completion: CompletionItemKind.Interface };
        case ast.Evaluate.$type:
            return { symbol: SymbolKind.Event, completion: CompletionItemKind.Event };
        case ast.Hypothesis.$type:
            return { symbol: SymbolKind.Boolean, completion: CompletionItemKind.Value };
        default:
            return undefined;
    }
}

function typeOf(node: AstNode | AstNodeDescription): string {
    return 'type' in node && typeof node.type === 'string' ? node.type : (node as AstNode).$type;
}

export class MismatchNodeKindProvider extends DefaultNodeKindProvider {
    override getSymbolKind(node: AstNode | AstNodeDescription): SymbolKind {
        return kindOf(typeOf(node))?.symbol ?? super.getSymbolKind(node);
    }
    override getCompletionItemKind(node: AstNode | AstNodeDescription): CompletionItemKind {
        return kindOf(typeOf(node))?.completion ?? super.getCompletionItemKind(node);
    }
}

const refText = (r: { $refText?: string } | undefined): string => r?.$refText ?? '?';
const dataText = (d: ast.DataRef | undefined): string => (d ? refText(d.dataset) + (d.split ? `.${refText(d.split)}` : '') : '?');

/** One line saying what a step is made of, for the outline and for hovers. */
export function describeStep(node: AstNode): string | undefined {
    if (ast.isWorld(node)) return 'synthetic world';
    if (ast.isDataset(node)) return node.path !== undefined ? `from "${node.path}"` : `from ${refText(node.world)}`;
    if (ast.isSplit(node)) return `split ${node.size}`;
    if (ast.isModel(node)) {
        if (node.source === 'gguf') return `gguf "${node.path ?? ''}"`;
        if (node.source === 'server') return `server ${node.urls.map((u) => `"${u}"`).join(', ')}`;
        return `pretrain on ${refText(node.world)}`;
    }
    if (ast.isDecoding(node)) return 'decoding';
    if (ast.isLabel(node)) return `answers of ${refText(node.model)} on ${dataText(node.data)}`;
    if (ast.isShuffle(node)) return `shuffle ${refText(node.source)}`;
    if (ast.isMix(node)) return `mix ${refText(node.knowledge)}`;
    if (ast.isKnowledge(node)) return `${refText(node.model)} on ${dataText(node.data)}`;
    if (ast.isFinetune(node)) return `${refText(node.model)} on ${refText(node.labels)}`;
    if (ast.isEvaluate(node)) return `${node.arms.map((a) => refText(a.model)).join(', ')} on ${dataText(node.data)}`;
    if (ast.isHypothesis(node)) {
        return `${refText(node.a)} hallucinates ${node.direction} than ${refText(node.b)}${node.matchedCoverage ? ' at matched coverage' : ''}`;
    }
    return undefined;
}

export class MismatchDocumentSymbolProvider extends DefaultDocumentSymbolProvider {
    protected override getSymbol(document: LangiumDocument, astNode: AstNode): DocumentSymbol[] {
        const unnamed = (ast.isEvaluate(astNode) || ast.isKnowledge(astNode) || ast.isHypothesis(astNode)) && !astNode.name;
        if (unnamed && astNode.$cstNode) {
            const keyword = astNode.$cstNode.text.split(/\s/, 1)[0];
            const start = astNode.$cstNode.range.start;
            return [
                {
                    name: `${keyword} ${describeStep(astNode)}`,
                    detail: `line ${start.line + 1}`,
                    kind: this.nodeKindProvider.getSymbolKind(astNode),
                    range: astNode.$cstNode.range,
                    selectionRange: { start, end: { line: start.line, character: start.character + keyword.length } },
                },
            ];
        }
        const symbols = super.getSymbol(document, astNode);
        const detail = describeStep(astNode);
        if (detail && symbols.length === 1 && symbols[0].range === astNode.$cstNode?.range) symbols[0].detail = detail;
        return symbols;
    }
}
