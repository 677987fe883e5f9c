import type { AstNode, DiagnosticInfo, ValidationAcceptor } from 'langium';
import type { Declaration } from '../generated/ast.js';
import type { Code } from './codes.js';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

/** Reports with a code (and quick-fix data) always attached. */
export function report<N extends AstNode>(
    accept: ValidationAcceptor,
    severity: Severity,
    code: Code,
    message: string,
    info: Omit<DiagnosticInfo<N>, 'data'> & { data?: Record<string, unknown> },
): void {
    accept(severity, message, { ...info, data: { ...(info.data ?? {}), code } } as DiagnosticInfo<N>);
}

/** Where to put a diagnostic about a whole step: its name, or its keyword when it has none. */
export function stepLocation(decl: Declaration): { node: Declaration; property: 'name' } | { node: Declaration; keyword: string } {
    if (decl.name) return { node: decl, property: 'name' };
    const keyword = decl.$type === 'Evaluate' ? 'evaluate' : decl.$type === 'Hypothesis' ? 'hypothesis' : decl.$type === 'Knowledge' ? 'knowledge' : decl.$type.toLowerCase();
    return { node: decl, keyword };
}

export function stepName(decl: Declaration): string {
    if (decl.name) return `'${decl.name}'`;
    const line = decl.$cstNode ? decl.$cstNode.range.start.line + 1 : 0;
    return `the ${decl.$type.toLowerCase()} on line ${line}`;
}

export function pct(share: number): string {
    return `${Math.round(share * 1000) / 10}%`;
}
