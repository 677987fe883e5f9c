/**
 * Mixed provenance within one comparison: a hypothesis compares arms whose results (and the
 * labels, fine-tunes and evaluations upstream of them) may come from the store, computed on another
 * backend, GPU, thread count or library version than the rest. Such results are still shown, but
 * marked, so a reader knows the two sides were not computed alike.
 */
import type { Plan } from '../../language/plan-types.js';
import type { Provenance, StepResult } from '../results-types.js';

/** Each field as the reader sees it; undefined where a result does not have it (compared among those that do). */
const FIELDS: [keyof Provenance, (p: Provenance) => string | undefined][] = [
    ['backend', (p) => p.backend],
    ['gpu', (p) => p.gpu ?? 'no GPU'],
    ['threads', (p) => `${p.threads} thread${p.threads === 1 ? '' : 's'}`],
    // Only steps that generated with a local model have a count (a server's answers, or a step that ran no model, do not).
    ['sequences', (p) => (p.sequences === undefined ? undefined : `${p.sequences} sequence${p.sequences === 1 ? '' : 's'} at once`)],
    ['nodeLlamaCpp', (p) => `node-llama-cpp ${p.nodeLlamaCpp}`],
    ['engineFormat', (p) => `engine format ${p.engineFormat}`],
];

/**
 * For every hypothesis whose upstream results (those that ran a model: backend other than `none`)
 * differ in provenance, a sentence naming the groups by the fields that differ, e.g.
 * "mixed provenance: byTeacher, onTeacher on cpu · 1 thread; onStudent on cuda · NVIDIA H100 · 8 threads".
 */
export function mixedProvenance(plan: Plan, results: StepResult[]): Map<string, string> {
    const byId = new Map(plan.steps.map((s) => [s.id, s]));
    const out = new Map<string, string>();
    for (const h of plan.steps.filter((s) => s.kind === 'hypothesis')) {
        const upstream = new Set<string>();
        const visit = (id: string) => {
            if (upstream.has(id)) return;
            upstream.add(id);
            for (const i of byId.get(id)?.inputs ?? []) visit(i);
        };
        h.inputs.forEach(visit);
        const computed = results.filter((r) => upstream.has(r.step) && r.provenance && r.provenance.backend !== 'none');
        if (computed.length < 2) continue;
        const differing = FIELDS.filter(([, f]) => new Set(computed.map((r) => f(r.provenance!)).filter((v) => v !== undefined)).size > 1);
        if (!differing.length) continue;
        const groups = new Map<string, string[]>();
        for (const r of computed) {
            const sig = differing
                .map(([, f]) => f(r.provenance!))
                .filter((v) => v !== undefined)
                .join(' · ');
            if (!sig) continue; // none of the differing fields applies to it (no local generation: no sequence count)
            const name = r.seedIndex === undefined ? r.step : `${r.step}@${r.seedIndex}`;
            groups.set(sig, [...(groups.get(sig) ?? []), name]);
        }
        out.set(h.id, `mixed provenance: ${[...groups].map(([sig, names]) => `${names.join(', ')} on ${sig}`).join('; ')}`);
    }
    return out;
}
