/**
 * Bounds of one spec file, shared by the CLI (`language/load.ts`) and the language server (the
 * document validator, the plan request and hover). Real specs hold tens of declarations;
 * validation grows faster than linearly with their number (20k took minutes), so past these
 * bounds a file gets one clear error instead of a build that takes hours or overflows the stack.
 */
import type { AstNode, LangiumDocument } from 'langium';
import type { Range } from 'vscode-languageserver-types';
import type { MismatchFile } from './generated/ast.js';

export const MAX_SPEC_BYTES = 4 * 1024 * 1024;
export const MAX_DECLARATIONS = 2000;

/** The nodes that count as declarations of a file: top level and inside its experiments (settings included). */
function declarationsOf(root: MismatchFile): AstNode[] {
    const all: AstNode[] = [...(root.declarations ?? [])];
    for (const e of root.experiments ?? []) all.push(...(e.declarations ?? []), ...(e.settings ?? []));
    return all;
}

/** Declarations of a parsed file (top level and inside its experiments). */
export function declarationCount(root: MismatchFile): number {
    let n = root.declarations?.length ?? 0;
    for (const e of root.experiments ?? []) n += (e.declarations?.length ?? 0) + (e.settings?.length ?? 0);
    return n;
}

export interface SpecBoundProblem {
    /** `bytes` (the text is over MAX_SPEC_BYTES) or `declarations` (over MAX_DECLARATIONS). */
    bound: 'bytes' | 'declarations';
    /** UTF-8 size of the text, or the number of declarations. */
    size: number;
    /** Where to report it: the first line, or the first declaration past the bound. */
    range: Range;
    message: string;
}

const FIRST_LINE: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
const checked = new WeakMap<object, SpecBoundProblem | null>();

/**
 * Whether an open document is over the bounds (remembered per parse, so that the validator, the
 * plan request and hover pay for it once per edit).
 */
export function specBoundProblem(document: LangiumDocument): SpecBoundProblem | undefined {
    const root = document.parseResult?.value as MismatchFile | undefined;
    if (!root) return undefined;
    const known = checked.get(root);
    if (known !== undefined) return known ?? undefined;
    const problem = computeProblem(document.textDocument.getText(), root);
    checked.set(root, problem ?? null);
    return problem;
}

function computeProblem(text: string, root: MismatchFile): SpecBoundProblem | undefined {
    // A UTF-8 character takes 1 to 3 bytes per UTF-16 unit: count bytes only when it can matter.
    const bytes = text.length * 3 <= MAX_SPEC_BYTES ? text.length : Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_SPEC_BYTES) {
        return {
            bound: 'bytes',
            size: bytes,
            range: FIRST_LINE,
            message: `This spec is ${(bytes / 1048576).toFixed(1)} MB; a spec may hold at most ${MAX_SPEC_BYTES / 1048576} MB: split it into files that import each other. It is not checked further.`,
        };
    }
    const count = declarationCount(root);
    if (count <= MAX_DECLARATIONS) return undefined;
    const byOffset = declarationsOf(root).sort((a, b) => (a.$cstNode?.offset ?? 0) - (b.$cstNode?.offset ?? 0));
    const first = byOffset[MAX_DECLARATIONS]?.$cstNode?.range ?? FIRST_LINE;
    return {
        bound: 'declarations',
        size: count,
        range: { start: first.start, end: first.end },
        message: `This spec holds ${count} declarations; a spec may hold at most ${MAX_DECLARATIONS}: split it into files that import each other. It is not checked further.`,
    };
}
