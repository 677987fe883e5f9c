/**
 * A self-contained HTML report: the results tables and the Vega-Lite plots of `plots.ts`, with
 * vega, vega-lite and vega-embed inlined from their packages' minified builds (no remote content).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plan } from '../../language/plan-types.js';
import type { ArmMetrics, EvaluateMetrics, HypothesisMetrics, StepResult } from '../results-types.js';
import { allPlots } from './plots.js';
import { adjustFamilyOf, effectText, pText, replicationText, statements, testText } from '../stats/family.js';
import { mixedProvenance } from '../store/provenance.js';

function vegaScripts(): string[] {
    const req = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
    const vega = req.resolve('vega/build/vega.min.js');
    const lite = req.resolve('vega-lite/build/vega-lite.min.js');
    const embed = join(dirname(req.resolve('vega-embed')), 'vega-embed.min.js');
    return [vega, lite, embed].map((p) => readFileSync(p, 'utf8'));
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** JSON inside <script>: `</script>` and `<!--` must not appear literally. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const fmtP = (p: number) => (!Number.isFinite(p) ? '—' : p < 1e-4 ? p.toExponential(1) : p.toPrecision(2));

function table(head: string[], rows: unknown[][]): string {
    return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function reportHtml(plan: Plan, results: StepResult[]): string {
    const seed = (r: StepResult) => (r.seedIndex === undefined ? '' : ` (seed ${r.seedIndex})`);
    const outcomeRows: unknown[][] = [];
    const knowledgeRows: unknown[][] = [];
    const selectiveRows: unknown[][] = [];
    const gridRows: unknown[][] = [];
    const num = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(3));
    const GRID: [keyof NonNullable<ArmMetrics['grid']>['cells'], string][] = [['both', 'both know'], ['teacherOnly', 'teacher knows, student does not'], ['studentOnly', 'student knows, teacher does not'], ['neither', 'neither knows']];
    for (const r of results.filter((x) => x.kind === 'evaluate' && x.metrics)) {
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            outcomeRows.push([r.step + seed(r), a.arm, a.correct, a.wrong, a.abstained, a.empty ?? 0, a.total, pct(a.wrongRate), pct(a.wrongAnsweredRate), a.aurc === null ? '—' : a.aurc.toFixed(3)]);
            for (const [k, o] of Object.entries(a.byKnowledge ?? {})) if (k !== 'uncategorised') knowledgeRows.push([r.step + seed(r), a.arm, k, o.correct, o.wrong, o.abstained, o.total]);
            if (a.fScore !== undefined) selectiveRows.push([r.step + seed(r), a.arm, a.accuracy === undefined ? '—' : pct(a.accuracy), a.accuracyGivenAttempted == null ? '—' : pct(a.accuracyGivenAttempted), num(a.fScore), num(a.aurc), num(a.ece)]);
            if (a.grid) for (const [key, label] of GRID) {
                const o = a.grid.cells[key];
                gridRows.push([r.step + seed(r), a.arm, `${label} (teacher ${a.grid.teacher}, student ${a.grid.student})`, o.correct, o.wrong, o.abstained, o.empty ?? 0, o.total, o.total ? pct(o.wrong / o.total) : '—']);
            }
        }
    }
    // Effect first, p second (Holm-adjusted across the plan's hypotheses), what was replicated and
    // which test on how many units, then every statement the verdict carries.
    const hypRows: unknown[][] = [];
    const hypNotes: string[] = [];
    const family = plan.steps.filter((s) => s.kind === 'hypothesis').length;
    for (const r of adjustFamilyOf(results.filter((x) => x.kind === 'hypothesis' && x.metrics), family)) {
        const h = r.metrics as HypothesisMetrics;
        hypRows.push([r.step, effectText(h), pText(h, fmtP), h.verdict, replicationText(h), testText(h), h.coverage === null ? 'raw' : pct(h.coverage)]);
        for (const n of statements(h)) hypNotes.push(`${r.step}: ${n}`);
    }
    const stale = results.filter((r) => r.stale).map((r) => r.step + seed(r));
    const plots = allPlots(results);
    const [vega, lite, embed] = vegaScripts();
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(plan.experiment)} · Mismatch Lab report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,td:nth-child(2){text-align:left}.note{color:#666}.plot{margin:1em 0 2em}
</style>
<script>${vega}</script>
<script>${lite}</script>
<script>${embed}</script>
</head><body>
<h1>${esc(plan.experiment)}</h1>
<p class="note">${esc(plan.file)} · generated ${esc(new Date().toISOString())}${stale.length ? ` · <b>stale</b> (the spec changed since they were computed): ${esc(stale.join(', '))}` : ''}</p>
<h2>Outcomes</h2>${outcomeRows.length ? table(['evaluation', 'arm', 'correct', 'wrong', 'abstained', 'empty', 'total', 'wrong/total', 'wrong/answered', 'AURC'], outcomeRows) : '<p>No evaluation results yet.</p>'}
${selectiveRows.length ? `<h2>Selective prediction</h2><p class="note">Accuracy given attempted and the F-score (harmonic mean of accuracy and accuracy given attempted) as in SimpleQA; abstentions and empty answers are not attempts. AURC: area under the risk–coverage curve over [0, coverage] (mean of the selective risks at coverages k/n, k = 1..answered, times 1/n). ECE: expected calibration error of the answer's sequence probability, 10 equal-width bins, attempted answers only.</p>${table(['evaluation', 'arm', 'accuracy', 'accuracy | attempted', 'SimpleQA F', 'AURC', 'ECE'], selectiveRows)}` : ''}
${gridRows.length ? `<h2>Teacher × student knowledge</h2><p class="note">Each question by whether the teacher (whose answers labelled the arm) and the student (the model it was fine-tuned from) know it: the facts each was taught in the embedded world, SliCK categories on real data (known = not Unknown). "Teacher knows, student does not" is where teacher labels teach the student facts it does not hold.</p>${table(['evaluation', 'arm', 'cell', 'correct', 'wrong', 'abstained', 'empty', 'total', 'wrong/total'], gridRows)}` : ''}
${knowledgeRows.length ? `<h2>Outcome × knowledge</h2>${table(['evaluation', 'arm', 'knowledge', 'correct', 'wrong', 'abstained', 'total'], knowledgeRows)}` : ''}
${hypRows.length ? `<h2>Hypotheses</h2><p class="note">Effect: the difference in wrong-answer rate (A − B, percentage points) with its 95% interval. Tests are one-sided in the stated direction: one run, exact McNemar over questions; replicates on the same test questions, the exact sign-flip permutation test over questions (each question's difference summed over the replicates); independent replicates, a paired t test over replicates. p is Holm-adjusted across the experiment's ${family} hypotheses (raw beside it); the verdict comes from the adjusted p.</p>${table(['hypothesis', 'wrong A − B, pts (95% CI)', 'p', 'verdict', 'replicated', 'test; independent units', 'coverage'], hypRows)}${hypNotes.map((n) => `<p class="warn">⚠ ${esc(n)}</p>`).join('')}` : ''}
${[...mixedProvenance(plan, results)].map(([h, text]) => `<p class="warn"><b>⚠ ${esc(h)}</b>: ${esc(text)} (results computed differently are compared here)</p>`).join('\n')}
${plots.map((p) => `<h2>${esc(p.title)}</h2><div class="plot" id="plot-${esc(p.id)}"></div>`).join('\n')}
<script>
const plots = ${scriptJson(plots)};
for (const p of plots) vegaEmbed('#plot-' + p.id, p.spec, { actions: false, renderer: 'svg' }).catch((e) => { document.getElementById('plot-' + p.id).textContent = String(e); });
</script>
</body></html>
`;
}
