/**
 * Rendering of run results for the terminal (cli-table3) and the `--json` shape of `mismatch run`.
 * Shared by `mismatch run` and `mismatch report`.
 */
import CliTable from 'cli-table3';
import colors from '@colors/colors/safe.js';
import type { Plan } from '../language/plan-types.js';
import type { ArmMetrics, EvaluateMetrics, FinetuneMetrics, FitCounts, HypothesisMetrics, HypothesisSeedResult, KnowledgeCheck, RunSummary, StepResult } from '../engine/results-types.js';
import { adjustFamilyOf, effectText, pText, replicationText, statements, testText } from '../engine/stats/family.js';
import { withPremises } from '../engine/stats/premise.js';
import { mixTrends } from '../engine/stats/linfit.js';
import { tInterval } from '../engine/stats/index.js';
import {
    epochFitColumns,
    type EpochFitRow,
    formatEpochFitCell,
    formatFitShare,
    formatNumber,
    formatP,
    formatPercent,
    formatInterval,
    formatPoints,
    hypothesisWords,
    isGeneratedId,
    pooledEpochFit as pooledFit,
    stepTitles,
} from '../engine/format.js';

const pct = (x: number) => formatPercent(x, 1);

/**
 * cli-table3's default header style is red, which reads as an error: bold headers, plain borders.
 * Its colours come from @colors/colors, which decides once, when loaded, from process.stdout; the
 * streams we write to decide instead (cli/output.ts strips the codes where colour is off), so a
 * table is always drawn with them.
 */
class Table extends CliTable {
    constructor(options: ConstructorParameters<typeof CliTable>[0]) {
        super({ ...options, style: { head: ['bold'], border: [], ...options?.style } });
    }

    override toString(): string {
        const was = colors.enabled;
        colors.enable();
        try {
            return super.toString();
        } finally {
            if (!was) colors.disable();
        }
    }
}
const seedTag = (r: { seedIndex?: number }) => (r.seedIndex === undefined ? '' : ` (seed ${r.seedIndex})`);

export function outcomesTable(steps: StepResult[]): string | undefined {
    const evals = steps.filter((r) => r.kind === 'evaluate' && r.status === 'done' && r.metrics);
    if (!evals.length) return undefined;
    const t = new Table({ head: ['evaluation', 'arm', '✓ correct', '✗ wrong', '∅ abstained', '· empty', 'total', 'wrong/total', 'wrong/answered', 'AURC'] });
    for (const r of evals) {
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            t.push([r.step + seedTag(r), a.arm, a.correct, a.wrong, a.abstained, a.empty ?? 0, a.total, pct(a.wrongRate), pct(a.wrongAnsweredRate), a.aurc === null ? '—' : a.aurc.toFixed(3)]);
        }
    }
    return t.toString();
}

const num = (x: number | null | undefined, digits = 3) => formatNumber(x, digits);

/** Selective prediction and hallucination metrics per arm (results made before they existed show —). */
export function selectiveTable(steps: StepResult[]): string | undefined {
    const evals = steps.filter((r) => r.kind === 'evaluate' && r.status === 'done' && r.metrics);
    if (!evals.some((r) => (r.metrics as EvaluateMetrics).arms.some((a) => a.fScore !== undefined))) return undefined;
    const t = new Table({ head: ['evaluation', 'arm', 'accuracy', 'accuracy | attempted', 'SimpleQA F', 'AURC', 'ECE (10 bins)'] });
    for (const r of evals) {
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            t.push([
                r.step + seedTag(r),
                a.arm,
                a.accuracy === undefined ? '—' : pct(a.accuracy),
                a.accuracyGivenAttempted == null ? '—' : pct(a.accuracyGivenAttempted),
                num(a.fScore),
                num(a.aurc),
                num(a.ece),
            ]);
        }
    }
    return t.toString();
}

/** The teacher × student knowledge grid: every arm's outcomes per cell. */
export function gridTables(steps: StepResult[]): string | undefined {
    const cells = [
        ['both', 'both know'],
        ['teacherOnly', 'teacher knows, student not'],
        ['studentOnly', 'student knows, teacher not'],
        ['neither', 'neither knows'],
    ] as const;
    const parts: string[] = [];
    for (const r of steps.filter((x) => x.kind === 'evaluate' && x.status === 'done' && x.metrics)) {
        const arms = (r.metrics as EvaluateMetrics).arms.filter((a) => a.grid);
        if (!arms.length) continue;
        const g = arms[0].grid!;
        const t = new Table({ head: ['arm', 'cell', '✓ correct', '✗ wrong', '∅ abstained', '· empty', 'total', 'wrong/total'] });
        for (const a of arms)
            for (const [key, label] of cells) {
                const o = a.grid!.cells[key];
                t.push([a.arm, label, o.correct, o.wrong, o.abstained, o.empty ?? 0, o.total, o.total ? pct(o.wrong / o.total) : '—']);
            }
        parts.push(
            `${r.step}${seedTag(r)}: teacher ${g.teacher} × student ${g.student} (${g.source === 'taught' ? 'ground truth: the facts each was taught' : 'SliCK: known = not Unknown'})\n${t.toString()}`,
        );
    }
    return parts.length ? parts.join('\n') : undefined;
}

export function knowledgeTables(steps: StepResult[]): string | undefined {
    const evals = steps.filter((r) => r.kind === 'evaluate' && r.status === 'done' && r.metrics);
    const parts: string[] = [];
    for (const r of evals) {
        const arms = (r.metrics as EvaluateMetrics).arms.filter((a: ArmMetrics) => Object.keys(a.byKnowledge ?? {}).some((k) => k !== 'uncategorised'));
        if (!arms.length) continue;
        const t = new Table({ head: ['arm', 'knowledge', '✓ correct', '✗ wrong', '∅ abstained', 'total', 'wrong/total'] });
        for (const a of arms) {
            for (const [k, o] of Object.entries(a.byKnowledge)) t.push([a.arm, k, o.correct, o.wrong, o.abstained, o.total, o.total ? pct(o.wrong / o.total) : '—']);
        }
        parts.push(`outcome × knowledge: ${r.step}${seedTag(r)}\n${t.toString()}`);
    }
    return parts.length ? parts.join('\n') : undefined;
}

/** Each replicate's own comparison of a replicated hypothesis (raw p of that replicate alone). */
export function perReplicateTable(steps: StepResult[]): string | undefined {
    const multi = steps.filter((r) => r.kind === 'hypothesis' && r.status === 'done' && r.metrics && (r.metrics as HypothesisMetrics).perSeed?.length > 1);
    if (!multi.length) return undefined;
    const s = new Table({ head: ['hypothesis', 'replicate', 'wrong A − B, pts (95% CI)', 'own McNemar p (raw)', 'discordant b/c', 'coverage'] });
    for (const r of multi) {
        for (const x of (r.metrics as HypothesisMetrics).perSeed) {
            s.push([
                r.step,
                x.seed + 1,
                `${formatPoints(x.wrongRateA - x.wrongRateB)} ${formatInterval(x.ci95, formatPoints)}`.trim(),
                formatP(x.p),
                `${x.discordant.b}/${x.discordant.c}`,
                x.coverage === null ? 'raw' : pct(x.coverage),
            ]);
        }
    }
    return s.toString();
}

export function finetuneTable(steps: StepResult[]): string | undefined {
    const fs = steps.filter((r) => r.kind === 'finetune' && r.status === 'done' && r.metrics);
    if (!fs.length) return undefined;
    const t = new Table({ head: ['finetune', 'loss', 'epochs', 'steps', 'seconds', 'train acc. (base → tuned)', 'Known', 'Unknown', 'Unknown share'] });
    for (const r of fs) {
        const m = r.metrics as FinetuneMetrics;
        const f = m.fit;
        const fitText = (c: FitCounts | undefined) => (c && c.total ? `${pct(c.base / c.total)} → ${pct(c.fitted / c.total)}` : '—');
        const flag = (r.warnings ?? []).some((w) => w.startsWith('the fine-tune did not fit')) ? ' ⚠ not fitted' : '';
        t.push([
            r.step + seedTag(r),
            `${m.lossStart?.toFixed?.(2) ?? '?'} → ${m.lossEnd?.toFixed?.(2) ?? '?'}`,
            m.epochs,
            m.steps,
            m.trainSeconds?.toFixed?.(1) ?? '',
            fitText(f?.all) + flag,
            fitText(f?.known),
            fitText(f?.unknown),
            f?.unknownShare === undefined ? '—' : pct(f.unknownShare),
        ]);
    }
    return t.toString();
}

/**
 * Whether each fine-tune fitted its examples, Known and Unknown apart (pooled counts over the
 * replicates), with the fine-tunes that fitted nothing marked on their line.
 */
export function trainingFitTable(steps: StepResult[]): string | undefined {
    const fs = steps.filter((r) => r.kind === 'finetune' && r.status === 'done' && (r.metrics as FinetuneMetrics | undefined)?.fit);
    if (!fs.length) return undefined;
    const t = new Table({ head: ['finetune', 'replicates', 'Unknown share', 'all examples', 'Known', 'Unknown', 'note'] });
    const names = [...new Set(fs.map((r) => r.step))];
    for (const name of names) {
        const rs = fs.filter((r) => r.step === name);
        const fits = rs.map((r) => (r.metrics as FinetuneMetrics).fit!);
        const sum = (pick: (f: NonNullable<FinetuneMetrics['fit']>) => FitCounts | undefined): FitCounts =>
            fits.reduce(
                (a, f) => {
                    const c = pick(f);
                    return c ? { total: a.total + c.total, fitted: a.fitted + c.fitted, base: a.base + c.base } : a;
                },
                { total: 0, fitted: 0, base: 0 },
            );
        const text = (c: FitCounts) => (c.total ? `${pct(c.base / c.total)} → ${pct(c.fitted / c.total)}` : '—');
        const notFitted = rs.filter((r) => (r.warnings ?? []).some((w) => w.startsWith('the fine-tune did not fit'))).length;
        const share = fits[0].unknownShare;
        t.push([
            name,
            rs.length,
            share === undefined ? '—' : pct(share),
            text(sum((f) => f.all)),
            text(sum((f) => f.known)),
            text(sum((f) => f.unknown)),
            notFitted ? `⚠ fitted nothing${rs.length > 1 ? ` in ${notFitted} of ${rs.length}` : ''}` : '',
        ]);
    }
    return t.toString();
}

type EpochCounts = EpochFitRow;

/** Per-epoch fit pooled over the replicates of one fine-tune (counts summed per epoch number). */
const pooledEpochFit = (rs: StepResult[]): EpochCounts[] => pooledFit(rs.map((r) => (r.metrics as FinetuneMetrics).fitByEpoch));
const epochShare = formatFitShare;
const epochCell = formatEpochFitCell;

/** Fine-tunes (by step) with a per-epoch fit record, in order. */
function epochFitGroups(steps: StepResult[]): [string, StepResult[]][] {
    const fs = steps.filter((r) => r.kind === 'finetune' && r.status === 'done' && (r.metrics as FinetuneMetrics | undefined)?.fitByEpoch?.version === 1);
    return [...new Set(fs.map((r) => r.step))].map((name) => [name, fs.filter((r) => r.step === name)]);
}

/**
 * One line per fine-tune: the training accuracy after its last epoch, Known and Unknown apart (pooled
 * over replicates), and the first epoch at which each reached half of its examples.
 */
export function epochFitLines(steps: StepResult[]): string | undefined {
    const lines: string[] = [];
    for (const [name, rs] of epochFitGroups(steps)) {
        const es = pooledEpochFit(rs);
        if (!es.length) continue;
        const last = es.at(-1)!;
        const half = (pick: (e: EpochCounts) => { total: number; fitted: number } | undefined) => {
            const e = es.find((x) => {
                const c = pick(x);
                return !!c && c.total > 0 && c.fitted >= c.total / 2;
            });
            return e ? `epoch ${e.epoch}` : 'never';
        };
        // Known and Unknown apart where the labels carry SliCK categories; a group without examples (a 0%
        // or 100% mix) is left out
        const groups = (
            [
                ['Known', (e: EpochCounts) => e.known],
                ['Unknown', (e: EpochCounts) => e.unknown],
            ] as const
        ).filter(([, pick]) => (pick(last)?.total ?? 0) > 0);
        const split = !!(last.known && last.unknown) && groups.length > 0;
        const what = split ? groups.map(([name, pick]) => `${name} ${epochShare(pick(last))}`).join(' / ') : `${epochShare(last.all)} of its examples`;
        const reach = split ? `half fitted: ${groups.map(([name, pick]) => `${name} ${half(pick)}`).join(', ')}` : `half fitted: ${half((e) => e.all)}`;
        lines.push(`  ${name}: fitted ${what} after epoch ${last.epoch} (${reach})${rs.length > 1 ? `; ${rs.length} replicates pooled` : ''}`);
    }
    return lines.length ? lines.join('\n') : undefined;
}

/** Training accuracy after every epoch (Known / Unknown, or all examples), a row per fine-tune and replicate; longer runs show 8 epochs spread over the run, the first and the last included. */
export function epochFitTable(steps: StepResult[]): string | undefined {
    const groups = epochFitGroups(steps);
    if (!groups.length) return undefined;
    const rows = groups.flatMap(([, rs]) => rs.map((r) => ({ r, es: pooledEpochFit([r]) })));
    const maxEpoch = Math.max(...rows.flatMap((x) => x.es.map((e) => e.epoch)));
    const cols = epochFitColumns(maxEpoch);
    const split = rows.some((x) => x.es.some((e) => e.known && e.unknown));
    const t = new Table({ head: [split ? 'finetune (Known / Unknown)' : 'finetune', ...cols.map((c) => `ep ${c}`)] });
    for (const { r, es } of rows)
        t.push([
            r.step + seedTag(r),
            ...cols.map((c) => {
                const e = es.find((x) => x.epoch === c);
                return e ? epochCell(e) : '';
            }),
        ]);
    return t.toString();
}

/** Test accuracy against the fine-tunes' Unknown share, with the least-squares line (Gekhman et al. 2024). */
export function mixTrendText(steps: StepResult[]): string | undefined {
    const trends = mixTrends(steps);
    if (!trends.length) return undefined;
    const parts: string[] = [];
    for (const tr of trends) {
        const t = new Table({ head: ['arm', 'Unknown share', 'test accuracy per replicate', 'mean'] });
        const arms = [...new Set(tr.points.map((p) => p.arm))];
        for (const arm of arms) {
            const ps = tr.points.filter((p) => p.arm === arm);
            t.push([arm, pct(ps[0].unknownShare), ps.map((p) => pct(p.accuracy)).join(', '), pct(ps.reduce((s, p) => s + p.accuracy, 0) / ps.length)]);
        }
        const f = tr.fit;
        const pts = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '—');
        parts.push(
            `${tr.evaluation}\n${t.toString()}\n  accuracy = ${pts(f.intercept)}% ${f.slope < 0 ? '−' : '+'} ${pts(Math.abs(f.slope))} pts × Unknown share; slope ${pts(f.slope)} pts per 100% Unknown (95% CI ${pts(f.slopeCi[0])} to ${pts(f.slopeCi[1])}, t with ${f.df} df), R² ${Number.isFinite(f.r2) ? f.r2.toFixed(2) : '—'}, ${f.n} points (fine-tune × replicate; points of one replicate share their test questions)${tr.replicates ? `\n  slope per replicate ${tr.replicates.slopes.map(pts).join(', ')}: mean ${pts(tr.replicates.mean)} pts (95% CI ${pts(tr.replicates.ci[0])} to ${pts(tr.replicates.ci[1])}, t across ${tr.replicates.slopes.length} replicates, ${tr.replicates.df} df)` : ''}`,
        );
    }
    return parts.join('\n');
}

/** Honesty checks of the embedded pretrained models (embedded: engine/models/pretrain.ts). */
export function knowledgeCheckTable(steps: StepResult[]): string | undefined {
    const rows = steps.filter((r) => r.kind === 'model' && r.metrics && typeof (r.metrics as { taughtAccuracy?: unknown }).taughtAccuracy === 'number');
    if (!rows.length) return undefined;
    const t = new Table({ head: ['model', 'taught facts', 'answered (taught)', 'answered (untaught)', 'chance', 'top-answer p taught / untaught'] });
    for (const r of rows) {
        const k = r.metrics as KnowledgeCheck;
        t.push([
            r.step,
            `${k.taught} of ${k.taught + k.untaught}`,
            pct(k.taughtAccuracy),
            pct(k.untaughtAccuracy),
            pct(k.chance),
            `${k.confidenceTaught.toFixed(2)} / ${k.confidenceUntaught.toFixed(2)}`,
        ]);
    }
    return t.toString();
}

/**
 * The answer first: each hypothesis in words with its verdict, the effect (difference in
 * wrong-answer rate, A − B) with its 95% interval, p (Holm-adjusted across the experiment's
 * hypotheses, raw beside it), what was replicated and which test on how many units, then its notes.
 * `words(id)` gives the hypothesis as written (absent: the step's name); `named(id)`: the step has a
 * name of its own, shown beside the words.
 */
export function verdictsText(steps: StepResult[], familySize?: number, words: (id: string) => string | undefined = () => undefined, named: (id: string) => boolean = () => true): string | undefined {
    const hs = adjustFamilyOf(
        steps.filter((r) => r.kind === 'hypothesis' && r.status === 'done' && r.metrics),
        familySize,
    );
    if (!hs.length) return undefined;
    const mark: Record<string, string> = { holds: '✓', 'does not hold': '✗', inconclusive: '?' };
    const lines: string[] = [];
    for (const r of hs) {
        const h = r.metrics as HypothesisMetrics;
        const said = words(r.step);
        lines.push(`${mark[h.verdict] ?? '·'} ${h.verdict.toUpperCase()}: ${said ?? r.step}${said && named(r.step) ? ` (${r.step})` : ''}`);
        lines.push(`    wrong-answer rate A − B ${effectText(h)} (95% interval) · ${pText(h)}${h.coverage === null ? '' : ` · at ${pct(h.coverage)} matched coverage`}`);
        lines.push(`    ${replicationText(h)}; ${testText(h)}`);
        for (const note of statements(h)) lines.push(`    ⚠ ${note}`);
    }
    return lines.join('\n');
}

/**
 * Per evaluation, one row per arm aggregated over the replicates: the mean share of each outcome
 * (percent) with its 95% t interval across replicates, clipped to [0, 100] (a share cannot leave
 * it; one replicate: its value alone), and the mean AURC.
 */
export function armSummaryTable(steps: StepResult[]): string | undefined {
    const evals = steps.filter((r) => r.kind === 'evaluate' && r.status === 'done' && r.metrics);
    if (!evals.length) return undefined;
    const byEvaluation = new Map<string, Map<string, ArmMetrics[]>>();
    for (const r of evals) {
        const arms = byEvaluation.get(r.step) ?? new Map<string, ArmMetrics[]>();
        for (const a of (r.metrics as EvaluateMetrics).arms) arms.set(a.arm, [...(arms.get(a.arm) ?? []), a]);
        byEvaluation.set(r.step, arms);
    }
    const percent = (x: number) => formatNumber(100 * Math.min(1, Math.max(0, x)), 1);
    const cell = (xs: number[]) => {
        const v = xs.filter(Number.isFinite);
        if (!v.length) return '—';
        const t = tInterval(v);
        return v.length > 1 ? `${percent(t.mean)} ${formatInterval(t.ci, percent)}` : percent(t.mean);
    };
    const parts: string[] = [];
    for (const [evaluation, arms] of byEvaluation) {
        const unit = '%';
        const t = new Table({ head: ['arm', 'runs', 'questions', `✗ wrong ${unit}`, `✓ correct ${unit}`, `∅ abstained ${unit}`, `· empty ${unit}`, `wrong/answered ${unit}`, 'AURC'] });
        for (const [arm, xs] of arms) {
            const share = (f: (a: ArmMetrics) => number) => cell(xs.map((a) => (a.total ? f(a) / a.total : NaN)));
            const aurc = xs.map((a) => a.aurc).filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x));
            const totals = [...new Set(xs.map((a) => a.total))];
            t.push([
                arm,
                xs.length,
                totals.length === 1 ? totals[0] : `${Math.min(...totals)}–${Math.max(...totals)}`,
                cell(xs.map((a) => a.wrongRate)),
                share((a) => a.correct),
                share((a) => a.abstained),
                share((a) => a.empty ?? 0),
                cell(xs.map((a) => a.wrongAnsweredRate)),
                aurc.length ? formatNumber(aurc.reduce((x, y) => x + y, 0) / aurc.length) : '—',
            ]);
        }
        parts.push(`${evaluation}\n${t.toString()}`);
    }
    return parts.join('\n');
}

export interface RenderOptions {
    /** The number of hypotheses the experiment states (the Holm family). */
    familySize?: number;
    /** Every table: per replicate, per knowledge category, selective prediction, the grid, fine-tuning. */
    verbose?: boolean;
    /** The plan the results belong to: unnamed steps are shown by their text, hypotheses in words. */
    plan?: Pick<Plan, 'steps'>;
}

/**
 * Everything printed after a run (or by `report` without --html): the verdicts first, then the
 * outcomes per arm over the replicates; the per-replicate and per-knowledge tables with `verbose`.
 * Step ids stay what the store and `--json` use; the text shows the names people read.
 */
export function renderResults(stored: StepResult[], options: RenderOptions = {}): string {
    // A verdict whose models failed their honesty check says so beside the verdict.
    const steps = withPremises(options.plan, stored);
    const title = stepTitles(options.plan?.steps ?? []);
    const byId = new Map((options.plan?.steps ?? []).map((s) => [s.id, s]));
    const shown = steps.map((r) => ({ ...r, step: title(r.step) }));
    const words = new Map(steps.map((r) => [title(r.step), byId.has(r.step) ? hypothesisWords(byId.get(r.step)!) : undefined]));
    const named = new Set(steps.filter((r) => byId.has(r.step) && !isGeneratedId(byId.get(r.step)!)).map((r) => r.step));
    const parts: string[] = [];
    const add = (heading: string, s: string | undefined) => s && parts.push(`${heading}\n${s}`);
    const n = options.familySize ?? steps.filter((r) => r.kind === 'hypothesis').length;
    add(
        `Hypotheses: verdicts (one-sided in the stated direction${n > 1 ? `; p Holm-adjusted across the experiment's ${n} hypotheses, raw beside it` : ''})`,
        verdictsText(
            shown,
            options.familySize,
            (id) => words.get(id),
            (id) => named.has(id),
        ),
    );
    const replicates = new Set(steps.filter((r) => r.kind === 'evaluate' && r.status === 'done').map((r) => r.seedIndex ?? 0)).size;
    add(`Outcomes per arm (% of the questions${replicates > 1 ? `: mean over ${replicates} replicates [95% t interval across them]` : ''})`, armSummaryTable(shown));
    add('Training accuracy of each fine-tune on its own examples (greedy answers matched to the taught label, base model → fine-tuned; pooled over replicates)', trainingFitTable(steps));
    add('How fast each fine-tune fitted its examples (greedy reproduces the training answer, measured by the trainer after every epoch)', epochFitLines(steps));
    add('Test accuracy vs Unknown share of the fine-tuning set (least-squares line)', mixTrendText(steps));
    if (options.verbose) {
        add('Knowledge checks (greedy answers of the pretrained models to every fact of their world)', knowledgeCheckTable(shown));
        add('Fine-tuning', finetuneTable(shown));
        add('Training accuracy by epoch', epochFitTable(shown));
        add('Outcomes per replicate', outcomesTable(shown));
        add('Outcome × knowledge', knowledgeTables(shown));
        add(
            'Selective prediction (accuracy | attempted and F: SimpleQA; AURC: area under the risk–coverage curve over [0, coverage]; ECE: 10 equal-width bins of the answer probability)',
            selectiveTable(shown),
        );
        add('Teacher × student knowledge grid', gridTables(shown));
        add('Hypotheses per replicate', perReplicateTable(shown));
    } else {
        const more = [knowledgeCheckTable, finetuneTable, outcomesTable, knowledgeTables, selectiveTable, gridTables].some((f) => f(shown) !== undefined);
        if (more) parts.push('Per-replicate, per-knowledge, selective-prediction, grid, fine-tuning and knowledge-check tables: --verbose, or `mismatch report --html`.');
    }
    const warnings = shown.flatMap((r) => (r.warnings ?? []).map((w) => `  ⚠ ${r.step}${seedTag(r)}: ${w}`));
    if (warnings.length) parts.push(`Warnings\n${warnings.join('\n')}`);
    return parts.join('\n\n');
}

type Counts = { correct: number; wrong: number; abstained: number; empty: number; total: number };

/** The `--json` shape of `mismatch run` (documented in the README). */
export function jsonSummary(summary: RunSummary): Record<string, unknown> {
    const steps = summary.steps.map((r) => ({
        name: r.step,
        kind: r.kind,
        ...(r.seedIndex !== undefined ? { seed: r.seedIndex } : {}),
        status: r.status,
        cached: r.cached,
        key: r.key,
        seconds: r.seconds,
        metrics: r.metrics ?? null,
        ...(r.error ? { error: r.error.message } : {}),
        ...(r.warnings?.length ? { warnings: r.warnings } : {}),
    }));
    const evaluations: Record<string, Counts & { evaluation: string; perSeed?: (Counts & { seed: number })[] }> = {};
    const armCount = new Map<string, Set<string>>();
    for (const e of summary.evaluations) armCount.set(e.arm, new Set([...(armCount.get(e.arm) ?? []), e.evaluation]));
    for (const e of summary.evaluations) {
        const name = (armCount.get(e.arm)?.size ?? 1) > 1 ? `${e.evaluation}.${e.arm}` : e.arm;
        const c = { correct: e.correct, wrong: e.wrong, abstained: e.abstained, empty: e.empty ?? 0, total: e.total };
        const cur = evaluations[name] ?? { evaluation: e.evaluation, correct: 0, wrong: 0, abstained: 0, empty: 0, total: 0 };
        cur.correct += c.correct;
        cur.wrong += c.wrong;
        cur.abstained += c.abstained;
        cur.empty += c.empty;
        cur.total += c.total;
        if (e.seedIndex !== undefined) (cur.perSeed ??= []).push({ seed: e.seedIndex, ...c });
        evaluations[name] = cur;
    }
    const hypotheses = summary.hypotheses.map((h) => ({
        name: h.step,
        holds: h.holds,
        verdict: h.verdict,
        test: h.test,
        p: Number.isFinite(h.p) ? h.p : null,
        discordant: h.discordant,
        coverage: h.coverage,
        alpha: h.alpha,
        ...(h.perSeed.length > 1
            ? {
                  perSeed: h.perSeed.map((s: HypothesisSeedResult) => ({
                      seed: s.seed,
                      holds: s.holds,
                      verdict: s.verdict,
                      test: s.test,
                      p: Number.isFinite(s.p) ? s.p : null,
                      discordant: s.discordant,
                      coverage: s.coverage,
                      wrongRateA: s.wrongRateA,
                      wrongRateB: s.wrongRateB,
                      ci95: s.ci95,
                  })),
              }
            : { wrongRateA: h.perSeed[0]?.wrongRateA, wrongRateB: h.perSeed[0]?.wrongRateB, ci95: h.perSeed[0]?.ci95 }),
        ...(h.acrossSeeds ? { acrossSeeds: h.acrossSeeds } : {}),
        ...(h.effect ? { effect: { difference: h.effect.difference, ci95: h.effect.ci95.map((x) => (Number.isFinite(x) ? x : null)), interval: h.effect.interval } } : {}),
        ...(h.family ? { pAdjusted: h.family.pAdjusted, family: h.family } : {}),
        ...(h.design ? { design: h.design } : {}),
        ...(statements(h).length ? { notes: statements(h) } : {}),
    }));
    const trends = mixTrends(summary.steps).map((t) => ({
        evaluation: t.evaluation,
        points: t.points,
        fit: { ...t.fit, slopeCi: t.fit.slopeCi.map((x) => (Number.isFinite(x) ? x : null)) },
        ...(t.replicates ? { replicates: t.replicates } : {}),
    }));
    return {
        experiment: summary.experiment,
        status: summary.status,
        seconds: summary.seconds,
        steps,
        evaluations,
        hypotheses,
        ...(trends.length ? { accuracyVsUnknown: trends } : {}),
        ...(summary.error ? { error: summary.error.message } : {}),
    };
}
