/**
 * A self-contained HTML report: the verdicts, the Vega-Lite plots of `plots.ts` and `summary-plots.ts`
 * and the results tables, with vega, vega-lite and vega-embed inlined from their packages' minified
 * builds (no remote content).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plan } from '../../language/plan-types.js';
import type { ArmMetrics, EvaluateMetrics, HypothesisMetrics, StepResult } from '../results-types.js';
import { allPlots, riskCoveragePlot } from './plots.js';
import { armIntervalsPlot, armsByEvaluation, gridHeatmap, shareInterval } from './summary-plots.js';
import { adjustFamilyOf, effectText, pText, replicationText, statements, testText } from '../stats/family.js';
import { withPremises } from '../stats/premise.js';
import { formatInterval, formatNumber, formatPercent, hypothesisWords, isGeneratedId, stepTitles } from '../format.js';
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
const pct = (x: number) => formatPercent(x, 1);
/** Percent of a share clipped to [0, 100] (a t interval of a share can leave it). */
const pctClip = (x: number) => formatPercent(Math.min(1, Math.max(0, x)), 1);

function table(head: string[], rows: unknown[][], id?: string): string {
    return `<table${id ? ` id="${esc(id)}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** A collapsed section: its heading stays visible, the table opens on a click. */
function collapsed(title: string, body: string, rows: number): string {
    return `<details><summary><h2>${esc(title)}</h2> <span class="note">${rows} rows</span></summary>${body}</details>`;
}

/**
 * The report opens on the answer: each hypothesis in words with its verdict, effect and interval, p
 * (Holm-adjusted, raw beside it), what was replicated; then the plots that carry the verdicts
 * (outcomes per arm with intervals, risk–coverage, the knowledge grid) and the outcomes per arm over
 * the replicates. Per-replicate and per-knowledge tables follow, collapsed, and the other plots.
 * Unnamed steps appear by their text; ids stay in the data.
 */
export function reportHtml(plan: Plan, stored: StepResult[]): string {
    const title = stepTitles(plan.steps);
    const byId = new Map(plan.steps.map((s) => [s.id, s]));
    const idOf = new Map(plan.steps.map((s) => [title(s.id), s.id]));
    // A verdict whose models failed their honesty check says so beside the verdict.
    const results = withPremises(plan, stored).map((r) => ({ ...r, step: title(r.step) }));
    const seed = (r: StepResult) => (r.seedIndex === undefined ? '' : ` (seed ${r.seedIndex})`);
    const outcomeRows: unknown[][] = [];
    const knowledgeRows: unknown[][] = [];
    const selectiveRows: unknown[][] = [];
    const gridRows: unknown[][] = [];
    const num = (x: number | null | undefined) => formatNumber(x, 3);
    const GRID: [keyof NonNullable<ArmMetrics['grid']>['cells'], string][] = [
        ['both', 'both know'],
        ['teacherOnly', 'teacher knows, student does not'],
        ['studentOnly', 'student knows, teacher does not'],
        ['neither', 'neither knows'],
    ];
    for (const r of results.filter((x) => x.kind === 'evaluate' && x.metrics)) {
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            outcomeRows.push([r.step + seed(r), a.arm, a.correct, a.wrong, a.abstained, a.empty ?? 0, a.total, pct(a.wrongRate), pct(a.wrongAnsweredRate), num(a.aurc)]);
            for (const [k, o] of Object.entries(a.byKnowledge ?? {})) if (k !== 'uncategorised') knowledgeRows.push([r.step + seed(r), a.arm, k, o.correct, o.wrong, o.abstained, o.total]);
            if (a.fScore !== undefined)
                selectiveRows.push([
                    r.step + seed(r),
                    a.arm,
                    a.accuracy === undefined ? '—' : pct(a.accuracy),
                    a.accuracyGivenAttempted == null ? '—' : pct(a.accuracyGivenAttempted),
                    num(a.fScore),
                    num(a.aurc),
                    num(a.ece),
                ]);
            if (a.grid)
                for (const [key, label] of GRID) {
                    const o = a.grid.cells[key];
                    gridRows.push([
                        r.step + seed(r),
                        a.arm,
                        `${label} (teacher ${a.grid.teacher}, student ${a.grid.student})`,
                        o.correct,
                        o.wrong,
                        o.abstained,
                        o.empty ?? 0,
                        o.total,
                        o.total ? pct(o.wrong / o.total) : '—',
                    ]);
                }
        }
    }
    // Outcomes per arm over the replicates: mean share with its 95% t interval.
    const cell = (xs: number[]) => {
        const s = shareInterval(xs);
        if (!Number.isFinite(s.mean)) return '—';
        return s.lo === null || s.hi === null ? pct(s.mean) : `${pct(s.mean)} ${formatInterval([s.lo, s.hi], pctClip)}`;
    };
    const groups = armsByEvaluation(results);
    // One evaluation (the common case): its name once above the table, not on every row.
    const oneEvaluation = new Set(groups.map((g) => g.evaluation)).size === 1 ? groups[0]?.evaluation : undefined;
    const armRows = groups.map((g) => [
        ...(oneEvaluation === undefined ? [g.evaluation] : []),
        g.arm,
        g.replicates.length,
        cell(g.replicates.map((a) => a.wrongRate)),
        cell(g.replicates.map((a) => (a.total ? a.abstained / a.total : NaN))),
        cell(g.replicates.map((a) => (a.total ? a.correct / a.total : NaN))),
        cell(g.replicates.map((a) => a.wrongAnsweredRate)),
    ]);
    // Effect first, p second (Holm-adjusted across the plan's hypotheses), what was replicated and
    // which test on how many units, then every statement the verdict carries.
    const hypRows: unknown[][] = [];
    const verdicts: string[] = [];
    const family = plan.steps.filter((s) => s.kind === 'hypothesis').length;
    const mark: Record<string, string> = { holds: '✓', 'does not hold': '✗', inconclusive: '?' };
    for (const r of adjustFamilyOf(
        results.filter((x) => x.kind === 'hypothesis' && x.metrics),
        family,
    )) {
        const h = r.metrics as HypothesisMetrics;
        const step = byId.get(idOf.get(r.step) ?? r.step);
        const words = step ? hypothesisWords(step) : undefined;
        hypRows.push([r.step, effectText(h), pText(h), h.verdict, replicationText(h), testText(h), h.coverage === null ? 'raw' : pct(h.coverage)]);
        const named = step && !isGeneratedId(step) ? ` <span class="note">(${esc(r.step)})</span>` : '';
        verdicts.push(
            `<div class="verdict v-${esc(h.verdict.replace(/ /g, '-'))}"><p class="claim"><span class="badge">${mark[h.verdict] ?? '·'} ${esc(h.verdict)}</span> ${esc(words ?? r.step)}${named}</p>` +
                `<p class="numbers">wrong-answer rate A − B <b>${esc(effectText(h))}</b> (95% interval) · ${esc(pText(h))}${h.coverage === null ? '' : ` · at ${esc(pct(h.coverage))} matched coverage`}</p>` +
                `<p class="note">${esc(replicationText(h))}; ${esc(testText(h))}</p>${statements(h)
                    .map((n) => `<p class="warn">⚠ ${esc(n)}</p>`)
                    .join('')}</div>`,
        );
    }
    const stale = results.filter((r) => r.stale).map((r) => r.step + seed(r));
    const lead = [
        { id: 'arm-intervals', title: 'Outcomes per arm', spec: armIntervalsPlot(results) },
        { id: 'risk-coverage', title: 'Risk–coverage (lower is better)', spec: riskCoveragePlot(results) },
        { id: 'grid', title: 'Teacher × student knowledge: wrong answers per cell', spec: gridHeatmap(results) },
    ].filter((p): p is { id: string; title: string; spec: NonNullable<typeof p.spec> } => !!p.spec);
    // The per-replicate outcome bars follow the aggregated plot; their heading says so.
    const more = allPlots(results)
        .filter((p) => p.id !== 'risk-coverage')
        .map((p) => (p.id === 'outcomes' ? { ...p, title: 'Outcomes per replicate' } : p));
    const plots = [...lead, ...more];
    const [vega, lite, embed] = vegaScripts();
    const replicates = new Set(results.filter((r) => r.kind === 'evaluate' && r.status === 'done').map((r) => r.seedIndex ?? 0)).size;
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(plan.experiment)} · Mismatch Lab report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:1.2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{margin:.2em 0}h2{font-size:1.2em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,td:nth-child(2){text-align:left}#arm-summary td{white-space:nowrap}.note{color:#666}.plot{margin:.5em 0 1.5em;overflow-x:auto}
.verdict{border-left:5px solid #999;padding:.3em .8em;margin:.6em 0;background:#fafafa}.verdict p{margin:.15em 0}
.claim{font-size:1.15em}.badge{font-weight:600;text-transform:uppercase;font-size:.85em;padding:1px 6px;border-radius:3px;color:#fff;background:#777;margin-right:.4em}
.v-holds{border-color:#2e7d32}.v-holds .badge{background:#2e7d32}.v-does-not-hold{border-color:#c62828}.v-does-not-hold .badge{background:#c62828}
.v-inconclusive{border-color:#b08800}.v-inconclusive .badge{background:#b08800}.warn{color:#8a5a00}
.pair{display:flex;flex-wrap:wrap;gap:1.5em}.pair>div{flex:1 1 520px;min-width:0}
details{margin:.3em 0}summary{cursor:pointer}summary h2{display:inline;font-size:1.05em}
</style>
<script>${vega}</script>
<script>${lite}</script>
<script>${embed}</script>
</head><body>
<h1>${esc(plan.experiment)}</h1>
<p class="note">${esc(plan.file)} · generated ${esc(new Date().toISOString())}${stale.length ? ` · <b>stale</b> (the spec changed since they were computed): ${esc(stale.join(', '))}` : ''}</p>
${verdicts.length ? `<section id="verdicts"><h2>Verdicts</h2><p class="note">Effect: the difference in wrong-answer rate (A − B, percentage points) with its 95% interval. Tests are one-sided in the stated direction${family > 1 ? `; p is Holm-adjusted across the experiment's ${family} hypotheses (raw beside it), and the verdict comes from the adjusted p` : ''}.</p>${verdicts.join('\n')}</section>` : '<p>No hypothesis results yet.</p>'}
${[...mixedProvenance(plan, stored)].map(([h, text]) => `<p class="warn"><b>⚠ ${esc(title(h))}</b>: ${esc(text)} (results computed differently are compared here)</p>`).join('\n')}
${lead.length ? `<h2>Outcomes per arm${replicates > 1 ? ` <span class="note">(mean over ${replicates} replicates, 95% t interval)</span>` : ''}</h2><div class="plot" id="plot-arm-intervals"></div>` : ''}
${armRows.length ? `${oneEvaluation === undefined ? '' : `<p class="note">evaluate ${esc(oneEvaluation)}</p>`}${table([...(oneEvaluation === undefined ? ['evaluation'] : []), 'arm', 'replicates', 'wrong', 'abstained', 'correct', 'wrong / answered'], armRows, 'arm-summary')}` : '<p>No evaluation results yet.</p>'}
<div class="pair">${lead
        .filter((p) => p.id !== 'arm-intervals')
        .map((p) => `<div><h2>${esc(p.title)}</h2><div class="plot" id="plot-${esc(p.id)}"></div></div>`)
        .join('')}</div>
${hypRows.length ? collapsed('Hypotheses: tests and units', `<p class="note">Tests are one-sided in the stated direction: one run, exact McNemar over questions; replicates on the same test questions, the exact sign-flip permutation test over questions (each question's difference summed over the replicates); independent replicates, a paired t test over replicates.</p>${table(['hypothesis', 'wrong A − B, pts (95% CI)', 'p', 'verdict', 'replicated', 'test; independent units', 'coverage'], hypRows)}`, hypRows.length) : ''}
${outcomeRows.length ? collapsed('Outcomes', table(['evaluation', 'arm', 'correct', 'wrong', 'abstained', 'empty', 'total', 'wrong/total', 'wrong/answered', 'AURC'], outcomeRows), outcomeRows.length) : ''}
${selectiveRows.length ? collapsed('Selective prediction', `<p class="note">Accuracy given attempted and the F-score (harmonic mean of accuracy and accuracy given attempted) as in SimpleQA; abstentions and empty answers are not attempts. AURC: area under the risk–coverage curve over [0, coverage] (mean of the selective risks at coverages k/n, k = 1..answered, times 1/n). ECE: expected calibration error of the answer's sequence probability, 10 equal-width bins, attempted answers only.</p>${table(['evaluation', 'arm', 'accuracy', 'accuracy | attempted', 'SimpleQA F', 'AURC', 'ECE'], selectiveRows)}`, selectiveRows.length) : ''}
${gridRows.length ? collapsed('Teacher × student knowledge', `<p class="note">Each question by whether the teacher (whose answers labelled the arm) and the student (the model it was fine-tuned from) know it: the facts each was taught in the embedded world, SliCK categories on real data (known = not Unknown). "Teacher knows, student does not" is where teacher labels teach the student facts it does not hold.</p>${table(['evaluation', 'arm', 'cell', 'correct', 'wrong', 'abstained', 'empty', 'total', 'wrong/total'], gridRows)}`, gridRows.length) : ''}
${knowledgeRows.length ? collapsed('Outcome × knowledge', table(['evaluation', 'arm', 'knowledge', 'correct', 'wrong', 'abstained', 'total'], knowledgeRows), knowledgeRows.length) : ''}
${more.map((p) => `<h2>${esc(p.title)}</h2><div class="plot" id="plot-${esc(p.id)}"></div>`).join('\n')}
<script>
const plots = ${scriptJson(plots)};
for (const p of plots) vegaEmbed('#plot-' + p.id, p.spec, { actions: false, renderer: 'svg' }).catch((e) => { document.getElementById('plot-' + p.id).textContent = String(e); });
</script>
</body></html>
`;
}
