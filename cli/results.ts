/**
 * Rendering of run results for the terminal (cli-table3) and the `--json` shape of `mismatch run`.
 * Shared by `mismatch run` and `mismatch report`.
 */
import Table from 'cli-table3';
import type { ArmMetrics, EvaluateMetrics, FinetuneMetrics, HypothesisMetrics, HypothesisSeedResult, KnowledgeCheck, RunSummary, StepResult } from '../engine/results-types.js';
import { adjustFamilyOf, effectText, pText, replicationText, statements, testText } from '../engine/stats/family.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
export const fmtP = (p: number) => (!Number.isFinite(p) ? '—' : p < 1e-4 ? p.toExponential(1) : p.toPrecision(2));
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

const num = (x: number | null | undefined, digits = 3) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));

/** Selective prediction and hallucination metrics per arm (results made before they existed show —). */
export function selectiveTable(steps: StepResult[]): string | undefined {
    const evals = steps.filter((r) => r.kind === 'evaluate' && r.status === 'done' && r.metrics);
    if (!evals.some((r) => (r.metrics as EvaluateMetrics).arms.some((a) => a.fScore !== undefined))) return undefined;
    const t = new Table({ head: ['evaluation', 'arm', 'accuracy', 'accuracy | attempted', 'SimpleQA F', 'AURC', 'ECE (10 bins)'] });
    for (const r of evals) {
        for (const a of (r.metrics as EvaluateMetrics).arms) {
            t.push([r.step + seedTag(r), a.arm, a.accuracy === undefined ? '—' : pct(a.accuracy), a.accuracyGivenAttempted == null ? '—' : pct(a.accuracyGivenAttempted), num(a.fScore), num(a.aurc), num(a.ece)]);
        }
    }
    return t.toString();
}

/** The teacher × student knowledge grid: every arm's outcomes per cell. */
export function gridTables(steps: StepResult[]): string | undefined {
    const cells = [['both', 'both know'], ['teacherOnly', 'teacher knows, student not'], ['studentOnly', 'student knows, teacher not'], ['neither', 'neither knows']] as const;
    const parts: string[] = [];
    for (const r of steps.filter((x) => x.kind === 'evaluate' && x.status === 'done' && x.metrics)) {
        const arms = (r.metrics as EvaluateMetrics).arms.filter((a) => a.grid);
        if (!arms.length) continue;
        const g = arms[0].grid!;
        const t = new Table({ head: ['arm', 'cell', '✓ correct', '✗ wrong', '∅ abstained', '· empty', 'total', 'wrong/total'] });
        for (const a of arms) for (const [key, label] of cells) {
            const o = a.grid!.cells[key];
            t.push([a.arm, label, o.correct, o.wrong, o.abstained, o.empty ?? 0, o.total, o.total ? pct(o.wrong / o.total) : '—']);
        }
        parts.push(`${r.step}${seedTag(r)}: teacher ${g.teacher} × student ${g.student} (${g.source === 'taught' ? 'ground truth: the facts each was taught' : 'SliCK: known = not Unknown'})\n${t.toString()}`);
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

/**
 * The hypotheses, effect first (difference in wrong-answer rate with its 95% interval), p second
 * (Holm-adjusted across the experiment's `familySize` hypotheses, raw beside it), then the verdict;
 * under the table, what was replicated, which test on how many independent units, and every note.
 */
export function hypothesesTable(steps: StepResult[], familySize?: number): string | undefined {
    const hs = adjustFamilyOf(steps.filter((r) => r.kind === 'hypothesis' && r.status === 'done' && r.metrics), familySize);
    if (!hs.length) return undefined;
    const t = new Table({ head: ['hypothesis', 'wrong A − B, pts (95% CI)', 'p', 'verdict', 'coverage'] });
    const lines: string[] = [];
    for (const r of hs) {
        const h = r.metrics as HypothesisMetrics;
        t.push([r.step, effectText(h), pText(h, fmtP), h.verdict, h.coverage === null ? 'raw' : pct(h.coverage)]);
        lines.push(`  ${r.step}: ${replicationText(h)}; ${testText(h)}`);
        for (const note of statements(h)) lines.push(`    ⚠ ${note}`);
    }
    let out = t.toString() + '\n' + lines.join('\n');
    const multi = hs.filter((r) => (r.metrics as HypothesisMetrics).perSeed.length > 1);
    if (multi.length) {
        const s = new Table({ head: ['hypothesis', 'replicate', 'wrong A − B, pts (95% CI)', 'own McNemar p (raw)', 'discordant b/c', 'coverage'] });
        for (const r of multi) {
            for (const x of (r.metrics as HypothesisMetrics).perSeed) {
                s.push([r.step, x.seed + 1, `${((x.wrongRateA - x.wrongRateB) * 100).toFixed(1)} (${x.ci95.map((v) => (v * 100).toFixed(1)).join(', ')})`, fmtP(x.p), `${x.discordant.b}/${x.discordant.c}`, x.coverage === null ? 'raw' : pct(x.coverage)]);
            }
        }
        out += `\nPer replicate\n${s.toString()}`;
    }
    return out;
}

export function finetuneTable(steps: StepResult[]): string | undefined {
    const fs = steps.filter((r) => r.kind === 'finetune' && r.status === 'done' && r.metrics);
    if (!fs.length) return undefined;
    const t = new Table({ head: ['finetune', 'loss', 'epochs', 'steps', 'seconds'] });
    for (const r of fs) {
        const m = r.metrics as FinetuneMetrics;
        t.push([r.step + seedTag(r), `${m.lossStart?.toFixed?.(2) ?? '?'} → ${m.lossEnd?.toFixed?.(2) ?? '?'}`, m.epochs, m.steps, m.trainSeconds?.toFixed?.(1) ?? '']);
    }
    return t.toString();
}

/** Honesty checks of the embedded pretrained models (embedded: engine/models/pretrain.ts). */
export function knowledgeCheckTable(steps: StepResult[]): string | undefined {
    const rows = steps.filter((r) => r.kind === 'model' && r.metrics && typeof (r.metrics as { taughtAccuracy?: unknown }).taughtAccuracy === 'number');
    if (!rows.length) return undefined;
    const t = new Table({ head: ['model', 'taught facts', 'answered (taught)', 'answered (untaught)', 'chance', 'top-answer p taught / untaught'] });
    for (const r of rows) {
        const k = r.metrics as KnowledgeCheck;
        t.push([r.step, `${k.taught} of ${k.taught + k.untaught}`, pct(k.taughtAccuracy), pct(k.untaughtAccuracy), pct(k.chance), `${k.confidenceTaught.toFixed(2)} / ${k.confidenceUntaught.toFixed(2)}`]);
    }
    return t.toString();
}

/** Everything printed after a run (or by `report` without --html). */
export function renderResults(steps: StepResult[], options: { familySize?: number } = {}): string {
    const parts: string[] = [];
    const add = (title: string, s: string | undefined) => s && parts.push(`${title}\n${s}`);
    add('Knowledge checks (greedy answers of the pretrained models to every fact of their world)', knowledgeCheckTable(steps));
    add('Fine-tuning', finetuneTable(steps));
    add('Outcomes', outcomesTable(steps));
    add('Outcome × knowledge', knowledgeTables(steps));
    add('Selective prediction (accuracy | attempted and F: SimpleQA; AURC: area under the risk–coverage curve over [0, coverage]; ECE: 10 equal-width bins of the answer probability)', selectiveTable(steps));
    add('Teacher × student knowledge grid', gridTables(steps));
    add('Hypotheses (one-sided in the stated direction; p Holm-adjusted across the experiment\'s hypotheses)', hypothesesTable(steps, options.familySize));
    const warnings = steps.flatMap((r) => (r.warnings ?? []).map((w) => `  ⚠ ${r.step}${seedTag(r)}: ${w}`));
    if (warnings.length) parts.push(`Warnings\n${warnings.join('\n')}`);
    return parts.join('\n\n');
}

type Counts = { correct: number; wrong: number; abstained: number; empty: number; total: number };

/** The `--json` shape of issue 6. */
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
            ? { perSeed: h.perSeed.map((s: HypothesisSeedResult) => ({ seed: s.seed, holds: s.holds, verdict: s.verdict, test: s.test, p: Number.isFinite(s.p) ? s.p : null, discordant: s.discordant, coverage: s.coverage, wrongRateA: s.wrongRateA, wrongRateB: s.wrongRateB, ci95: s.ci95 })) }
            : { wrongRateA: h.perSeed[0]?.wrongRateA, wrongRateB: h.perSeed[0]?.wrongRateB, ci95: h.perSeed[0]?.ci95 }),
        ...(h.acrossSeeds ? { acrossSeeds: h.acrossSeeds } : {}),
        ...(h.effect ? { effect: { difference: h.effect.difference, ci95: h.effect.ci95.map((x) => (Number.isFinite(x) ? x : null)), interval: h.effect.interval } } : {}),
        ...(h.family ? { pAdjusted: h.family.pAdjusted, family: h.family } : {}),
        ...(h.design ? { design: h.design } : {}),
        ...(statements(h).length ? { notes: statements(h) } : {}),
    }));
    return { experiment: summary.experiment, status: summary.status, seconds: summary.seconds, steps, evaluations, hypotheses, ...(summary.error ? { error: summary.error.message } : {}) };
}
