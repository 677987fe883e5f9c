/**
 * Formatter, on Langium's AbstractFormatter: one statement per line, blocks indented, one space
 * between the tokens of a statement (none around `.` and before `,`). A property block written on
 * one line stays on one line (`{ lora rank 8  epochs 3 }`, two spaces between properties as in the
 * examples, one after a flag such as `lora`); a block spread over lines gets one property per line.
 * A document with syntax errors is left alone (Langium's default), so formatting never eats text.
 */
import { AbstractFormatter, Formatting, type FormattingAction } from 'langium/lsp';
import { isCompositeCstNode, type AstNode, type CompositeCstNode, type CstNode } from 'langium';
import * as ast from '../generated/ast.js';

export class MismatchFormatter extends AbstractFormatter {
    protected format(node: AstNode): void {
        if (ast.isMismatchFile(node)) {
            this.formatFile(node);
        } else if (ast.isExperiment(node)) {
            this.formatBlock(node, false);
            this.getNodeFormatter(node).property('name').prepend(Formatting.oneSpace());
        } else if (ast.isBody(node)) {
            this.formatBody(node);
        } else {
            this.spaceTokens(node);
        }
    }

    /** Top-level statements: each on its own line, no indentation; blank lines are kept. */
    protected formatFile(file: ast.MismatchFile): void {
        const items: AstNode[] = [...file.imports, ...file.declarations, ...file.experiments].sort((a, b) => (a.$cstNode?.offset ?? 0) - (b.$cstNode?.offset ?? 0));
        if (items.length === 0) return;
        const f = this.getNodeFormatter(file);
        f.node(items[0]).prepend(Formatting.noIndent());
        if (items.length > 1) f.nodes(...items.slice(1)).prepend(Formatting.newLine({ allowMore: true }));
    }

    /** `{ ... }` spread over lines: contents indented one level, closing brace on its own line. */
    protected formatBlock(node: ast.Experiment | ast.Body, allowEmptyInline: boolean): void {
        const f = this.getNodeFormatter(node);
        const open = f.keyword('{');
        const close = f.keyword('}');
        open.prepend(Formatting.oneSpace());
        const interior = f.interior(open, close);
        if (allowEmptyInline && interior.nodes.length === 0) {
            close.prepend(Formatting.oneSpace());
            return;
        }
        interior.prepend(Formatting.indent({ allowMore: true }));
        close.prepend(Formatting.newLine());
    }

    protected formatBody(body: ast.Body): void {
        const cst = body.$cstNode;
        if (!cst) return;
        if (cst.range.start.line !== cst.range.end.line) {
            this.formatBlock(body, true);
            return;
        }
        // One-line block: `{ a 1  b 2 }`.
        const f = this.getNodeFormatter(body);
        const open = f.keyword('{');
        const close = f.keyword('}');
        open.prepend(Formatting.oneSpace());
        if (body.items.length === 0) {
            close.prepend(Formatting.oneSpace());
            return;
        }
        f.node(body.items[0]).prepend(Formatting.oneSpace());
        for (let i = 1; i < body.items.length; i++) {
            const after = body.items[i - 1];
            f.node(body.items[i]).prepend(ast.isFlag(after) ? Formatting.oneSpace() : Formatting.spaces(2));
        }
        close.prepend(Formatting.oneSpace());
    }

    /**
     * One space before every token or child of a statement except the first; none before `,` and
     * `.`, none after `.`. Bodies format themselves.
     */
    protected spaceTokens(node: AstNode): void {
        const cst = node.$cstNode;
        if (!cst || !isCompositeCstNode(cst)) return;
        const children = ownChildren(cst, node);
        const f = this.getNodeFormatter(node);
        for (let i = 1; i < children.length; i++) {
            const child = children[i];
            if (ast.isBody(child.astNode) && child.astNode !== node) continue;
            const prev = children[i - 1];
            let action: FormattingAction;
            if (child.text === ',' || child.text === '.' || prev.text === '.') action = Formatting.noSpace();
            else action = Formatting.oneSpace();
            f.cst([child]).prepend(action);
        }
    }
}

/**
 * The tokens and child nodes of `node` itself. A node reached through an unassigned rule call
 * (`Declaration: World | …`, `BodyItem: Property | …`) sits in nested composite CST nodes that all
 * belong to it: those are looked through.
 */
function ownChildren(cst: CompositeCstNode, node: AstNode): CstNode[] {
    const out: CstNode[] = [];
    for (const child of cst.content) {
        if (child.hidden) continue;
        if (isCompositeCstNode(child) && child.astNode === node) out.push(...ownChildren(child, node));
        else out.push(child);
    }
    return out;
}
