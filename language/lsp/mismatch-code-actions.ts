/**
 * Quick fixes for the validator's diagnostics. Langium has only the CodeActionProvider interface
 * (no default implementation), so this is written here; it reads nothing but the diagnostic's
 * `data` (`code` plus what the fix needs, set by `language/validation/` and `language/linking.ts`)
 * and the document, so every fix is the one the validator meant:
 * - `data.insert` (e.g. a missing `seed 1`, `format jsonl`): add a property to the step's block,
 *   creating the block when the step has none;
 * - `data.replacement` (a missing unit `60` → `60%`, a field name `"answer.aliases"`): replace the
 *   flagged token;
 * - `data.suggestion` (unknown reference or key, "did you mean", a free name for a duplicate):
 *   replace the name.
 */
import { CstUtils, type AstNode, type LangiumDocument, type MaybePromise } from 'langium';
import type { CodeActionProvider } from 'langium/lsp';
import { CodeActionKind, type CodeAction, type CodeActionParams, type Command, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import * as ast from '../generated/ast.js';
import type { MismatchServices } from '../mismatch-module.js';

interface FixData {
    code?: string;
    suggestion?: string;
    replacement?: string;
    candidates?: string[];
    insert?: string | { text: string };
    [key: string]: unknown;
}

export class MismatchCodeActionProvider implements CodeActionProvider {
    constructor(_services: MismatchServices) {}

    getCodeActions(document: LangiumDocument, params: CodeActionParams): MaybePromise<Array<Command | CodeAction>> {
        const actions: CodeAction[] = [];
        for (const diagnostic of params.context.diagnostics) {
            const data = diagnostic.data as FixData | undefined;
            if (!data || typeof data !== 'object') continue;
            try {
                actions.push(...this.fixesFor(document, diagnostic, data));
            } catch {
                // A fix that cannot be computed is left out; the diagnostic still stands.
            }
        }
        return actions;
    }

    protected fixesFor(document: LangiumDocument, diagnostic: Diagnostic, data: FixData): CodeAction[] {
        const uri = document.textDocument.uri;
        const fix = (title: string, edits: TextEdit[], preferred = true): CodeAction => ({
            title,
            kind: CodeActionKind.QuickFix,
            diagnostics: [diagnostic],
            isPreferred: preferred,
            edit: { changes: { [uri]: edits } },
        });
        const out: CodeAction[] = [];
        // One fix per diagnostic, the most specific the data allows: a property to add (the
        // diagnostic may sit on another token, e.g. the dataset's path), else replacement text for
        // the flagged token (`"answer.aliases"`, `60%`), else a name to use instead.
        const insert = typeof data.insert === 'string' ? data.insert : data.insert?.text;
        if (insert) {
            const edit = this.insertIntoBlock(document, diagnostic, insert);
            if (edit) out.push(fix(`Add \`${insert}\``, [edit]));
        } else if (typeof data.replacement === 'string') {
            const current = document.textDocument.getText(diagnostic.range);
            out.push(fix(`Change '${current}' to '${data.replacement}'`, [{ range: diagnostic.range, newText: data.replacement }]));
        } else if (typeof data.suggestion === 'string' && data.suggestion) {
            out.push(fix(`Change to '${data.suggestion}'`, [{ range: diagnostic.range, newText: data.suggestion }]));
        }
        return out;
    }

    /** Adds `text` as the last item of the block of the step the diagnostic is on. */
    protected insertIntoBlock(document: LangiumDocument, diagnostic: Diagnostic, text: string): TextEdit | undefined {
        const root = document.parseResult.value.$cstNode;
        if (!root) return undefined;
        const offset = document.textDocument.offsetAt(diagnostic.range.start);
        const leaf = CstUtils.findLeafNodeAtOffset(root, offset);
        let step: AstNode | undefined = leaf?.astNode;
        while (step && !(ast.isDeclaration(step) || ast.isExperiment(step))) step = step.$container;
        if (!step?.$cstNode) return undefined;
        const textDoc = document.textDocument;
        if (ast.isExperiment(step)) {
            // Settings go first in the experiment block.
            const open = step.$cstNode.text.indexOf('{');
            if (open < 0) return undefined;
            const at = textDoc.positionAt(step.$cstNode.offset + open + 1);
            const indent = indentOf(textDoc.getText(), step.$cstNode.offset) + '  ';
            return { range: { start: at, end: at }, newText: `\n${indent}${text}` };
        }
        const body = (step as { body?: ast.Body }).body;
        if (!body?.$cstNode) {
            const at = textDoc.positionAt(step.$cstNode.end);
            return { range: { start: at, end: at }, newText: ` { ${text} }` };
        }
        const close = textDoc.positionAt(body.$cstNode.end - 1);
        const cst = body.$cstNode;
        if (cst.range.start.line === cst.range.end.line) {
            // One-line block: `{ a 1  b 2 }` → `{ a 1  b 2  seed 1 }`.
            const inner = cst.text.slice(1, -1).trim();
            const start = textDoc.positionAt(cst.offset);
            const end = textDoc.positionAt(cst.end);
            return { range: { start, end }, newText: inner ? `{ ${inner}  ${text} }` : `{ ${text} }` };
        }
        const indent = indentOf(textDoc.getText(), step.$cstNode.offset);
        const lineStart = { line: close.line, character: 0 };
        const before = textDoc.getText({ start: lineStart, end: close });
        if (before.trim() === '') return { range: { start: lineStart, end: lineStart }, newText: `${indent}  ${text}\n` };
        return { range: { start: close, end: close }, newText: `\n${indent}  ${text}\n${indent}` };
    }
}

function indentOf(text: string, offset: number): string {
    const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    return /^[ \t]*/.exec(text.slice(lineStart))![0];
}
