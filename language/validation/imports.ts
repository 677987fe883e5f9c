/** `import "x.mismatch"`: the file must exist, be a file, and not be the spec itself (code unresolved-import). */
import { statSync } from 'node:fs';
import type { ValidationAcceptor } from 'langium';
import type { Import } from '../generated/ast.js';
import { documentOf } from '../experiment.js';
import { resolveImport } from '../workspace.js';
import { Codes } from './codes.js';
import { outsidePath } from './files.js';
import { report } from './util.js';

export function checkImport(imp: Import, accept: ValidationAcceptor): void {
    const doc = documentOf(imp);
    if (!imp.path) {
        report(accept, 'error', Codes.unresolvedImport, 'Name the file to import, e.g. `import "common.mismatch"`.', { node: imp, property: 'path' });
        return;
    }
    const uri = resolveImport(doc.uri, imp.path);
    if (uri.toString() === doc.uri.toString()) {
        report(accept, 'error', Codes.unresolvedImport, 'A spec cannot import itself.', { node: imp, property: 'path' });
        return;
    }
    if (!imp.path.endsWith('.mismatch')) {
        report(accept, 'warning', Codes.unresolvedImport, `'${imp.path}' is not a .mismatch file.`, { node: imp, property: 'path' });
    }
    if (uri.scheme !== 'file') return;
    // Only whether it exists is checked here (its diagnostics are its own), so go on either way.
    outsidePath(uri.fsPath, imp.path, doc.uri.fsPath, { node: imp, property: 'path' }, accept);
    try {
        const st = statSync(uri.fsPath);
        if (st.isDirectory()) report(accept, 'error', Codes.unresolvedImport, `'${imp.path}' is a folder; import a .mismatch file.`, { node: imp, property: 'path' });
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const message = code === 'ENOENT' || code === 'ENOTDIR' ? `Cannot find '${imp.path}' (looked for ${uri.fsPath}).` : `Cannot read '${imp.path}' (${code ?? 'error'}).`;
        report(accept, 'error', Codes.unresolvedImport, message, { node: imp, property: 'path', data: { path: uri.fsPath } });
    }
}
