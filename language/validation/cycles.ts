/** Steps that depend on themselves (a fine-tune trained on labels its own output wrote...): code cycle. */
import type { ValidationAcceptor } from 'langium';
import type { Declaration, MismatchFile } from '../generated/ast.js';
import { dependenciesOf } from '../experiment.js';
import { allDeclarations } from '../scope.js';
import { Codes } from './codes.js';
import { report, stepLocation } from './util.js';

/** Strongly connected components with more than one step, or with a self-loop (Tarjan). */
export function findCycles(decls: Declaration[]): Declaration[][] {
    const index = new Map<Declaration, number>();
    const low = new Map<Declaration, number>();
    const onStack = new Set<Declaration>();
    const stack: Declaration[] = [];
    const out: Declaration[][] = [];
    let counter = 0;
    const within = new Set(decls);
    const deps = new Map<Declaration, Declaration[]>();
    const depsOf = (d: Declaration) => {
        let list = deps.get(d);
        if (!list) deps.set(d, (list = dependenciesOf(d).filter((w) => within.has(w))));
        return list;
    };
    const visit = (v: Declaration): void => {
        index.set(v, counter);
        low.set(v, counter);
        counter++;
        stack.push(v);
        onStack.add(v);
        for (const w of depsOf(v)) {
            if (!index.has(w)) {
                visit(w);
                low.set(v, Math.min(low.get(v)!, low.get(w)!));
            } else if (onStack.has(w)) {
                low.set(v, Math.min(low.get(v)!, index.get(w)!));
            }
        }
        if (low.get(v) === index.get(v)) {
            const comp: Declaration[] = [];
            let w: Declaration;
            do {
                w = stack.pop()!;
                onStack.delete(w);
                comp.push(w);
            } while (w !== v);
            if (comp.length > 1 || depsOf(v).includes(v)) out.push(comp.reverse());
        }
    };
    for (const d of decls) if (!index.has(d)) visit(d);
    return out;
}

/** Only these can lie on a cycle: worlds, datasets, models and decodings read nothing that reads them,
 * and nothing reads an evaluation except a hypothesis, which nothing reads. */
const MAY_CYCLE = new Set(['Finetune', 'Label', 'Shuffle', 'Mix', 'Knowledge']);

export function checkCycles(file: MismatchFile, visible: Declaration[], accept: ValidationAcceptor): void {
    const own = new Set(allDeclarations(file));
    for (const comp of findCycles(visible.filter((d) => MAY_CYCLE.has(d.$type)))) {
        const names = comp.map((d) => d.name ?? d.$type.toLowerCase());
        for (const d of comp) {
            if (!own.has(d)) continue;
            report(accept, 'error', Codes.cycle, `'${d.name ?? d.$type}' depends on itself: ${[...names, names[0]].join(' → ')}. A step can only read steps that come before it.`, stepLocation(d));
        }
    }
}
