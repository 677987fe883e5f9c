// The results webview (bundled by esbuild as an IIFE into dist/webview/main.js): step table,
// hypotheses, Vega-Lite plots through vega-embed (AST interpreter: no eval under the CSP), and the
// per-question records with filters (e.g. questions one arm got right and another got wrong).
// Colors follow the VS Code theme through its CSS variables, re-read when the theme changes.
import embedImport, { type EmbedOptions, type Result, type VisualizationSpec } from 'vega-embed';
import type { FromWebview, RecordSet, ToWebview, ViewData } from './protocol.js';
import { formatP, formatSeconds } from '../../engine/format.js';

// vega-embed's types are CommonJS-flavoured under NodeNext; esbuild hands us the ESM default.
type Embed = (el: HTMLElement, spec: VisualizationSpec, opts: EmbedOptions) => Promise<Result>;
const embed = ((embedImport as unknown as { default?: Embed }).default ?? embedImport) as unknown as Embed;

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void; setState(s: unknown): void; getState(): unknown };
const vscode = acquireVsCodeApi();

const app = document.getElementById('app')!;
let current: ViewData | undefined;
let views: Result[] = [];

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    for (const c of children) if (c !== undefined) el.append(c);
    return el;
}

function cssVar(name: string, fallback: string): string {
    return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** Vega config from the VS Code theme. */
function themeConfig(): Record<string, unknown> {
    const fg = cssVar('--vscode-foreground', '#333');
    const muted = cssVar('--vscode-descriptionForeground', '#777');
    const grid = cssVar('--vscode-panel-border', '#ccc');
    const font = cssVar('--vscode-font-family', 'sans-serif');
    return {
        background: 'transparent',
        font,
        view: { stroke: grid },
        axis: { labelColor: muted, titleColor: fg, gridColor: grid, domainColor: grid, tickColor: grid, labelFont: font, titleFont: font },
        legend: { labelColor: muted, titleColor: fg, labelFont: font, titleFont: font },
        title: { color: fg, font },
        header: { labelColor: fg, titleColor: fg },
        range: {
            category: [
                cssVar('--vscode-charts-blue', '#1f77b4'),
                cssVar('--vscode-charts-orange', '#ff7f0e'),
                cssVar('--vscode-charts-green', '#2ca02c'),
                cssVar('--vscode-charts-red', '#d62728'),
                cssVar('--vscode-charts-purple', '#9467bd'),
                cssVar('--vscode-charts-yellow', '#bcbd22'),
            ],
        },
    };
}

function stepLink(step: string, title = step): HTMLElement {
    const a = h('a', { class: 'step', title: 'Show in the spec' }, title);
    a.addEventListener('click', () => vscode.postMessage({ type: 'reveal', step }));
    return a;
}

function stepsTable(data: ViewData): HTMLElement {
    const t = h('table', { id: 'steps' }, h('tr', {}, h('th', {}, 'step'), h('th', {}, 'kind'), h('th', {}, 'line'), h('th', {}, 'status'), h('th', {}, 'time'), h('th', {}, 'result')));
    for (const s of data.steps) {
        t.append(
            h(
                'tr',
                s.stale ? { class: 'stale' } : {},
                h('td', {}, stepLink(s.step, s.title)),
                h('td', {}, s.kind),
                h('td', { class: 'num' }, String(s.line)),
                h('td', {}, s.stale ? `${s.status} (stale)` : s.status),
                h('td', { class: 'num' }, s.instances ? formatSeconds(s.seconds) : ''),
                h('td', {}, s.summary),
            ),
        );
    }
    return t;
}

function hypothesesTable(data: ViewData): HTMLElement {
    if (!data.hypotheses.length) return h('p', { class: 'muted' }, 'No hypothesis results yet.');
    const t = h(
        'table',
        { id: 'hypotheses' },
        h('tr', {}, h('th', {}, 'hypothesis'), h('th', {}, 'verdict'), h('th', {}, 'test'), h('th', {}, 'p'), h('th', {}, 'coverage'), h('th', {}, 'seeds holding'), h('th', {}, 'across seeds')),
    );
    for (const x of data.hypotheses) {
        const held = x.perSeed.filter((s) => s.holds).length;
        t.append(
            h(
                'tr',
                x.stale ? { class: 'stale' } : {},
                h('td', {}, stepLink(x.step, x.title), ' ', h('span', { class: 'muted' }, x.name)),
                h('td', { class: `verdict-${x.verdict.replace(/ /g, '-')}` }, x.verdict),
                h('td', {}, x.test === 'mcnemar' ? 'McNemar' : x.test),
                h('td', { class: 'num' }, formatP(x.p)),
                h('td', { class: 'num' }, x.coverage === null ? 'raw' : `${(x.coverage * 100).toFixed(0)}%`),
                h('td', { class: 'num' }, x.perSeed.length ? `${held}/${x.perSeed.length}` : ''),
                h('td', {}, x.acrossSeeds ? `${x.acrossSeeds.test} p = ${formatP(x.acrossSeeds.p)}` : ''),
            ),
        );
    }
    return t;
}

async function renderPlots(data: ViewData, container: HTMLElement): Promise<void> {
    for (const v of views) v.finalize();
    views = [];
    const errors: string[] = [];
    if (data.plotError) errors.push(data.plotError);
    const config = themeConfig();
    for (const p of data.plots) {
        const target = h('div', { class: 'plot-body' });
        container.append(h('div', { class: 'plot', 'data-plot': p.id }, h('h3', {}, p.title), target));
        try {
            views.push(
                await embed(target, p.spec as VisualizationSpec, {
                    actions: false,
                    defaultStyle: false,
                    renderer: 'canvas',
                    ast: true,
                    config: config as never,
                    tooltip: { theme: 'custom', disableDefaultStyle: true },
                }),
            );
        } catch (e) {
            errors.push(`${p.id}: ${e instanceof Error ? e.message : String(e)}`);
            target.append(h('p', { class: 'error' }, `Could not draw this plot: ${e instanceof Error ? e.message : String(e)}`));
        }
    }
    if (data.plotError) container.append(h('p', { class: 'error' }, `Plots unavailable: ${data.plotError}`));
    vscode.postMessage({ type: 'rendered', plots: views.length, errors });
}

interface Filters {
    set: number;
    /** arm -> required outcome ('' = any). */
    outcome: Record<string, string>;
    text: string;
}

function recordsSection(data: ViewData): HTMLElement {
    const section = h('div', { id: 'records' });
    if (!data.records.length) {
        section.append(h('p', { class: 'muted' }, 'No per-question records yet (they come from evaluate steps).'));
        return section;
    }
    const saved = (vscode.getState() as { filters?: Filters } | undefined)?.filters;
    const filters: Filters = saved && saved.set < data.records.length ? saved : { set: 0, outcome: {}, text: '' };
    const controls = h('div', { class: 'filters' });
    const body = h('div', {});
    section.append(controls, body);

    const label = (s: RecordSet) => `${s.evaluation}${s.seedIndex !== undefined ? ` · seed ${s.seedIndex + 1}` : ''}`;
    const draw = () => {
        vscode.setState({ filters });
        controls.replaceChildren();
        body.replaceChildren();
        const set = data.records[filters.set]!;
        const setSelect = h('select', { id: 'record-set' });
        data.records.forEach((s, i) => setSelect.append(h('option', i === filters.set ? { value: String(i), selected: '' } : { value: String(i) }, label(s))));
        setSelect.addEventListener('change', () => {
            filters.set = Number(setSelect.value);
            filters.outcome = {};
            draw();
        });
        controls.append(setSelect);
        for (const arm of set.arms) {
            const sel = h('select', { 'data-arm': arm, title: `outcome of ${arm}` });
            for (const o of ['', 'correct', 'wrong', 'abstained']) {
                const attrs: Record<string, string> = { value: o };
                if ((filters.outcome[arm] ?? '') === o) attrs.selected = '';
                sel.append(h('option', attrs, o ? `${arm}: ${o}` : `${arm}: any`));
            }
            sel.addEventListener('change', () => {
                filters.outcome[arm] = sel.value;
                draw();
            });
            controls.append(sel);
        }
        const search = h('input', { type: 'search', placeholder: 'filter questions…', value: filters.text });
        search.addEventListener('change', () => {
            filters.text = search.value;
            draw();
        });
        controls.append(search);
        if (set.arms.length >= 2) {
            // The common question: the first arm (e.g. the base model) right, another wrong.
            const base = set.arms[set.arms.length - 1]!;
            for (const other of set.arms.slice(0, -1)) {
                const b = h('button', { title: `questions ${base} got right and ${other} got wrong` }, `${base} ✓ & ${other} ✗`);
                b.addEventListener('click', () => {
                    filters.outcome = { [base]: 'correct', [other]: 'wrong' };
                    draw();
                });
                controls.append(b);
            }
        }
        const clear = h('button', {}, 'clear');
        clear.addEventListener('click', () => {
            filters.outcome = {};
            filters.text = '';
            draw();
        });
        controls.append(clear);

        // Pivot: one row per question, one column per arm.
        const byId = new Map<string, { question: string; gold: string[]; arms: Record<string, { prediction: string; outcome: string; confidence: number | null; knowledge?: string }> }>();
        for (const r of set.rows) {
            let q = byId.get(r.id);
            if (!q) {
                q = { question: r.question, gold: r.gold, arms: {} };
                byId.set(r.id, q);
            }
            q.arms[r.arm] = { prediction: r.prediction, outcome: r.outcome, confidence: r.confidence, knowledge: r.knowledge };
        }
        const text = filters.text.trim().toLowerCase();
        const rows = [...byId.entries()].filter(([, q]) => {
            for (const [arm, want] of Object.entries(filters.outcome)) if (want && q.arms[arm]?.outcome !== want) return false;
            return !text || q.question.toLowerCase().includes(text) || q.gold.some((g) => g.toLowerCase().includes(text));
        });
        const shown = rows.slice(0, 500);
        body.append(
            h(
                'p',
                { class: 'muted', id: 'record-count' },
                `${rows.length} of ${byId.size} questions${rows.length > shown.length ? ` (first ${shown.length} shown)` : ''}${set.truncated ? `; ${set.truncated} rows not loaded` : ''}`,
            ),
        );
        const t = h('table', { id: 'record-table' }, h('tr', {}, h('th', {}, 'question'), h('th', {}, 'gold'), ...set.arms.map((a) => h('th', {}, a))));
        for (const [, q] of shown) {
            t.append(
                h(
                    'tr',
                    {},
                    h('td', {}, q.question),
                    h('td', {}, q.gold.slice(0, 3).join(' / ')),
                    ...set.arms.map((a) => {
                        const x = q.arms[a];
                        if (!x) return h('td', {}, '');
                        const mark = x.outcome === 'correct' ? '✓' : x.outcome === 'wrong' ? '✗' : '∅';
                        const conf = x.confidence === null || x.confidence === undefined ? '' : ` (${Math.exp(x.confidence).toFixed(2)})`;
                        return h('td', { class: `outcome-${x.outcome}`, title: x.knowledge ? `knowledge: ${x.knowledge}` : '' }, `${mark} ${x.prediction}${conf}`);
                    }),
                ),
            );
        }
        body.append(t);
    };
    draw();
    return section;
}

async function render(data: ViewData): Promise<void> {
    current = data;
    const plots = h('div', { class: 'plots', id: 'plots' });
    app.replaceChildren(h('h1', {}, data.experiment), h('p', { class: 'muted' }, `${data.file} · store ${data.storeDir}`));
    if (data.empty) {
        app.append(h('p', { id: 'empty' }, data.empty));
        vscode.postMessage({ type: 'rendered', plots: 0, errors: [] });
        return;
    }
    app.append(h('h2', {}, 'Hypotheses'), hypothesesTable(data), h('h2', {}, 'Plots'), plots, h('h2', {}, 'Steps'), stepsTable(data), h('h2', {}, 'Questions'), recordsSection(data));
    await renderPlots(data, plots);
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
    if (event.data?.type === 'data') void render(event.data.data);
});

// Theme changes switch the body's class (vscode-light / vscode-dark / high contrast): redraw plots.
new MutationObserver(() => {
    if (current && !current.empty) {
        const plots = document.getElementById('plots');
        if (plots) {
            plots.replaceChildren();
            void renderPlots(current, plots);
        }
    }
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

vscode.postMessage({ type: 'ready' });
