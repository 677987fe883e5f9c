/**
 * Names: unique across a spec and its imports (codes duplicate-name, multiple-experiments);
 * split names unique within their dataset.
 */
import type { ValidationAcceptor } from 'langium';
import { isSplit, type Dataset, type Declaration, type MismatchFile } from '../generated/ast.js';
import { kindWord } from '../naming.js';
import { Codes } from './codes.js';
import { report } from './util.js';
import { allDeclarations } from '../scope.js';

function freeName(name: string, taken: Set<string>): string {
    for (let i = 2; ; i++) if (!taken.has(`${name}${i}`)) return `${name}${i}`;
}

export function checkNames(file: MismatchFile, visible: Declaration[], accept: ValidationAcceptor): void {
    const byName = new Map<string, Declaration[]>();
    for (const d of visible) {
        if (!d.name) continue;
        const list = byName.get(d.name) ?? [];
        list.push(d);
        byName.set(d.name, list);
    }
    const taken = new Set(byName.keys());
    const own = new Set(allDeclarations(file));
    for (const [name, decls] of byName) {
        if (decls.length < 2) continue;
        decls.forEach((d, i) => {
            if (!own.has(d)) return;
            const other = decls[i === 0 ? 1 : 0];
            const where =
                other.$document && other.$document !== d.$document ? ` in ${other.$document.uri.path.split('/').pop()}` : other.$cstNode ? ` on line ${other.$cstNode.range.start.line + 1}` : '';
            const suggestion = freeName(name, taken);
            report(accept, 'error', Codes.duplicateName, `The name '${name}' is also used by the ${kindWord(other)}${where}; names must be unique. Rename one, e.g. to '${suggestion}'.`, {
                node: d,
                property: 'name',
                data: { name, suggestion },
            });
        });
    }
    (file.experiments ?? []).slice(1).forEach((e) => {
        report(accept, 'error', Codes.multipleExperiments, 'A file holds one experiment; move this one to its own file (it can `import` the shared declarations).', { node: e, property: 'name' });
    });
}

export function checkSplitNames(dataset: Dataset, accept: ValidationAcceptor): void {
    const seen = new Set<string>();
    for (const s of (dataset.body?.items ?? []).filter(isSplit)) {
        if (!s.name) continue;
        if (seen.has(s.name)) report(accept, 'error', Codes.duplicateName, `Dataset '${dataset.name}' already has a split '${s.name}'.`, { node: s, property: 'name', data: { name: s.name } });
        seen.add(s.name);
    }
}
