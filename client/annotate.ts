/**
 * What the editor shows after each step's line, decided from the Plan and the run store's results
 * alone: a pure function, no `vscode` import, so every text is unit-tested without an editor
 * (test/client/annotate.test.ts) and the extension only renders what it returns.
 */
import type { Plan, SourceRange, Step, StepKind } from '../language/plan-types.js';
import type { ArmMetrics, EvaluateMetrics, FinetuneMetrics, FitCounts, HypothesisMetrics, KnowledgeCheck, LabelMetrics, Outcomes, StepResult } from '../engine/results-types.js';
import { adjustFamilyOf, effectText, pText, replicationText, statements, testText } from '../engine/stats/family.js';
import { withPremises } from '../engine/stats/premise.js';
import { epochFitColumns, formatEpochFitCell, formatNumber, formatP, formatPercent as formatPct, formatSeconds, MISSING, pooledEpochFit, stepTitle } from '../engine/format.js';

/** How the after-line text is colored. */
export type Tone = 'neutral' | 'holds' | 'does-not-hold' | 'inconclusive' | 'stale' | 'error' | 'running';

export interface Annotation {
    step: string;
    kind: StepKind;
    /** File and 0-based line the text goes after (the statement's last line). */
    file: string;
    line: number;
    /** The after-line text (one line, no newlines). */
    text: string;
    tone: Tone;
    /** The result is older than the step as now written (greyed until re-run). */
    stale: boolean;
    /** Markdown shown on hover: the full table. */
    hover: string;
    /** A failed step's error, shown as a diagnostic on the step's name. */
    diagnostic?: { message: string; range: SourceRange };
}

/** Live state of a run, to show progress on the line of the step in flight. */
export interface LiveState {
    /** `unit` 'job' with a `message`: the step waits for an external trainer's adapter (the message says where). */
    running?: { step: string; seedIndex?: number; done?: number; total?: number; unit?: string; message?: string };
    /** Steps waiting in the current run (shown as "queued"). */
    queued?: string[];
}

const SEP = ' · ';

export { formatP, formatSeconds } from '../engine/format.js';

/** Percent with no decimals unless asked: the after-line texts are short. */
export function formatPercent(x: number | null | undefined, digits = 0): string {
    return formatPct(x, digits);
}

function formatLoss(x: number): string {
    if (!Number.isFinite(x)) return String(x);
    return Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2);
}

/** Wrong first (what the experiments are about); empty or unparseable answers only when there are some. */
export function outcomeText(o: Outcomes): string {
    return `✗ ${o.wrong} wrong${SEP}✓ ${o.correct} correct${SEP}∅ ${o.abstained} abstained${o.empty ? `${SEP}${o.empty} empty` : ''}`;
}

function sumOutcomes(list: Outcomes[]): Outcomes {
    return list.reduce<Outcomes>(
        (a, o) => ({ correct: a.correct + o.correct, wrong: a.wrong + o.wrong, abstained: a.abstained + o.abstained, empty: (a.empty ?? 0) + (o.empty ?? 0), total: a.total + o.total }),
        { correct: 0, wrong: 0, abstained: 0, empty: 0, total: 0 },
    );
}

// --- after-line width ----------------------------------------------------------------------

/** Columns a line and its after-line text may take together before the text is cut (about 1,100 px
 * at the default font): a laptop's editor shows the whole of it beside the side bar. */
export const AFTER_LINE_COLUMNS = 140;
/** The text keeps at least this many characters however long the line is. */
export const AFTER_LINE_MIN = 40;

/**
 * The after-line text for a line of `lineLength` characters: the annotation's text, cut with "…" so
 * that line and text fit `columns` (at a separator or a space where one is near the cut). The whole
 * text is on the hover (`hoverFor`).
 */
export function afterLineText(text: string, lineLength: number, columns = AFTER_LINE_COLUMNS): string {
    const max = Math.max(AFTER_LINE_MIN, columns - lineLength);
    const chars = Array.from(text); // code points: never cut a surrogate pair
    if (chars.length <= max) return text;
    let head = chars.slice(0, max - 1).join('');
    // Prefer a cut between two items, else between two words, unless that loses over a third.
    const item = Math.max(head.lastIndexOf(SEP), head.lastIndexOf('  │  '));
    const word = head.lastIndexOf(' ');
    const at = item >= (2 * head.length) / 3 ? item : word >= (2 * head.length) / 3 ? word : -1;
    if (at > 0) head = head.slice(0, at);
    return `${head.trimEnd()} …`;
}

/** The hover of an annotated line: the whole after-line text first when the line shows it cut. */
export function hoverFor(a: Pick<Annotation, 'text' | 'hover'>, lineLength: number, columns = AFTER_LINE_COLUMNS): string {
    return afterLineText(a.text, lineLength, columns) === a.text ? a.hover : `${esc(a.text)}\n\n${a.hover}`;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function isEvaluate(m: unknown): m is EvaluateMetrics {
    return !!m && Array.isArray((m as EvaluateMetrics).arms);
}
function isFinetune(m: unknown): m is FinetuneMetrics {
    return !!m && typeof (m as FinetuneMetrics).lossStart === 'number' && typeof (m as FinetuneMetrics).lossEnd === 'number';
}
function isLabel(m: unknown): m is LabelMetrics {
    return !!m && typeof (m as LabelMetrics).kept === 'number' && typeof (m as LabelMetrics).replaced === 'number';
}
function isKnowledgeCheck(m: unknown): m is KnowledgeCheck {
    return !!m && typeof (m as KnowledgeCheck).taughtAccuracy === 'number';
}
function isHypothesis(m: unknown): m is HypothesisMetrics {
    return !!m && typeof (m as HypothesisMetrics).verdict === 'string' && typeof (m as HypothesisMetrics).p === 'number';
}

function esc(s: string): string {
    return s.replace(/[|\\`*_[\]<>]/g, (c) => `\\${c}`);
}

function table(head: string[], rows: (string | number)[][]): string {
    const line = (cells: (string | number)[]) => `| ${cells.map((c) => (typeof c === 'number' ? String(c) : c)).join(' | ')} |`;
    return [line(head), line(head.map((_, i) => (i === 0 ? ':--' : '--:'))), ...rows.map(line)].join('\n');
}

function seedLabel(r: StepResult): string {
    return r.seedIndex === undefined ? '' : `seed ${r.seedIndex + 1}`;
}

function footer(step: Step, results: StepResult[]): string {
    const r = results[results.length - 1]!;
    const parts: string[] = [];
    const secs = results.reduce((a, x) => a + (x.seconds || 0), 0);
    parts.push(`${results.length > 1 ? `${results.length} instances, ` : ''}${formatSeconds(secs)}`);
    if (results.every((x) => x.cached)) parts.push('from the run store');
    if (r.finishedAt) parts.push(`computed ${r.finishedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`);
    parts.push(`key \`${r.key.slice(0, 12)}\``);
    const warnings = [...new Set(results.flatMap((x) => x.warnings ?? []))];
    const lines = [`*${step.kind} \`${stepTitle(step)}\`*: ${parts.join(SEP)}`];
    if (results.some((x) => x.stale)) lines.push('', '**Stale**: the step changed since this result was computed (greyed until re-run).');
    for (const w of warnings) lines.push('', `⚠ ${esc(w)}`);
    return lines.join('\n');
}

// --- per kind ------------------------------------------------------------------------------

function armsBySeed(results: StepResult[]): { seed: StepResult; arms: ArmMetrics[] }[] {
    return results.filter((r) => isEvaluate(r.metrics)).map((r) => ({ seed: r, arms: (r.metrics as EvaluateMetrics).arms }));
}

function evaluateAnnotation(step: Step, results: StepResult[]): { text: string; hover: string } | undefined {
    const seeds = armsBySeed(results);
    if (!seeds.length) return undefined;
    const armNames = [...new Set(seeds.flatMap((s) => s.arms.map((a) => a.arm)))];
    const perArm = armNames.map((arm) => ({ arm, outcomes: sumOutcomes(seeds.flatMap((s) => s.arms.filter((a) => a.arm === arm))) }));
    const seedNote = seeds.length > 1 ? ` (sum of ${seeds.length} seeds)` : '';
    const text = perArm.length === 1 ? outcomeText(perArm[0]!.outcomes) + seedNote : perArm.map((a) => `${a.arm}: ${outcomeText(a.outcomes)}`).join('  │  ') + seedNote;
    const rows: (string | number)[][] = [];
    for (const s of seeds) {
        for (const a of s.arms) {
            rows.push([
                `\`${a.arm}\`${seeds.length > 1 ? ` (${seedLabel(s.seed)})` : ''}`,
                a.correct,
                a.wrong,
                a.abstained,
                a.empty ?? 0,
                a.total,
                formatPercent(a.wrongRate, 1),
                formatPercent(a.wrongAnsweredRate, 1),
                formatNumber(a.aurc),
            ]);
        }
    }
    let hover = table(['arm', '✓ correct', '✗ wrong', '∅ abstained', 'empty', 'total', 'wrong rate', 'wrong among answered', 'AURC'], rows);
    const selective = selectiveTable(armNames, seeds);
    if (selective) hover += `\n\n${selective}`;
    const grid = gridTable(armNames, seeds);
    if (grid) hover += `\n\n${grid}`;
    // Outcome × knowledge summed over replicates: one row per arm and category.
    const knowledgeRows: (string | number)[][] = [];
    for (const arm of armNames) {
        const cats = [...new Set(seeds.flatMap((s) => s.arms.filter((a) => a.arm === arm).flatMap((a) => Object.keys(a.byKnowledge ?? {}))))];
        for (const cat of cats) {
            const o = sumOutcomes(seeds.flatMap((s) => s.arms.filter((a) => a.arm === arm).flatMap((a) => (a.byKnowledge?.[cat] ? [a.byKnowledge[cat]] : []))));
            knowledgeRows.push([`\`${arm}\``, esc(cat), o.correct, o.wrong, o.abstained, o.empty ?? 0, o.total]);
        }
    }
    if (knowledgeRows.length) hover += `\n\n**Outcome × knowledge**${seedNote}\n\n` + table(['arm', 'knowledge', '✓', '✗', '∅', 'empty', 'total'], knowledgeRows);
    return { text, hover };
}

/** Mean of the finite values among `xs`; undefined when there is none. */
function finiteMean(xs: readonly (number | null | undefined)[]): number | undefined {
    const ok = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return ok.length ? mean(ok) : undefined;
}

/**
 * The selective-prediction and hallucination metrics per arm, as the hallucination papers report
 * them (means over the replicates that have them): accuracy, SimpleQA's accuracy given attempted and
 * F-score, AURC as an area, ECE where the arm gave log-probabilities. Absent for results written
 * before the engine computed them.
 */
function selectiveTable(armNames: string[], seeds: { arms: ArmMetrics[] }[]): string | undefined {
    const of = (arm: string) => seeds.flatMap((s) => s.arms.filter((a) => a.arm === arm));
    if (!seeds.some((s) => s.arms.some((a) => a.accuracy !== undefined || a.fScore !== undefined))) return undefined;
    const rows = armNames.map((arm) => {
        const xs = of(arm);
        return [
            `\`${arm}\``,
            formatPercent(finiteMean(xs.map((a) => a.accuracy)), 1),
            formatPercent(finiteMean(xs.map((a) => a.accuracyGivenAttempted)), 1),
            formatNumber(finiteMean(xs.map((a) => a.fScore))),
            formatNumber(finiteMean(xs.map((a) => a.aurc))),
            formatNumber(finiteMean(xs.map((a) => a.ece))),
        ];
    });
    const over = seeds.length > 1 ? ` (mean of ${seeds.length} replicates)` : '';
    return (
        `**Selective prediction**${over}\n\n` +
        table(['arm', 'accuracy', 'accuracy given attempted', 'SimpleQA F', 'AURC', 'ECE'], rows) +
        `\n\nAttempted: answered, neither abstained nor empty. F: harmonic mean of accuracy and accuracy given attempted (SimpleQA). ` +
        `AURC: area under the risk–coverage curve over [0, coverage], answers ranked by confidence (Geifman & El-Yaniv). ` +
        `ECE: 10 equal-width bins of the answer's probability, attempted answers only; ${MISSING} without log-probabilities.`
    );
}

const GRID_CELLS = [
    ['both', 'both know'],
    ['teacherOnly', 'teacher only'],
    ['studentOnly', 'student only'],
    ['neither', 'neither'],
] as const;

/** The teacher × student knowledge grid in short: per arm, wrong answers of the questions in each cell (summed over replicates). */
function gridTable(armNames: string[], seeds: { arms: ArmMetrics[] }[]): string | undefined {
    const withGrid = armNames.map((arm) => ({ arm, grids: seeds.flatMap((s) => s.arms.filter((a) => a.arm === arm && a.grid).map((a) => a.grid!)) })).filter((x) => x.grids.length);
    if (!withGrid.length) return undefined;
    const rows = withGrid.map(({ arm, grids }) => [
        `\`${arm}\`${grids[0]!.teacher !== grids[0]!.student ? ` (${esc(grids[0]!.teacher)} → ${esc(grids[0]!.student)})` : ''}`,
        ...GRID_CELLS.map(([cell]) => {
            const o = sumOutcomes(grids.map((g) => g.cells[cell]));
            return o.total ? `${o.wrong}/${o.total} (${formatPercent(o.wrong / o.total)})` : MISSING;
        }),
    ]);
    const uncategorised = withGrid.reduce((n, x) => n + x.grids.reduce((m, g) => m + g.uncategorised, 0), 0);
    const source = withGrid[0]!.grids[0]!.source === 'taught' ? 'the facts each model was taught' : 'SliCK categories (known = not Unknown)';
    return (
        `**Teacher × student knowledge**: wrong / questions per cell${seeds.length > 1 ? `, summed over ${seeds.length} replicates` : ''}; who knows from ${source}\n\n` +
        table(['arm (teacher → student)', ...GRID_CELLS.map(([, label]) => label)], rows) +
        (uncategorised ? `\n\n${uncategorised} question${uncategorised > 1 ? 's' : ''} left out: a knowledge does not cover them.` : '')
    );
}

function finetuneAnnotation(step: Step, results: StepResult[]): { text: string; hover: string } | undefined {
    const ms = results.map((r) => r.metrics).filter(isFinetune);
    if (!ms.length) return undefined;
    const secs = results.filter((r) => isFinetune(r.metrics)).reduce((a, r) => a + (r.metrics as FinetuneMetrics).trainSeconds, 0);
    const epochs = ms[0]!.epochs;
    const parts = [`loss ${formatLoss(mean(ms.map((m) => m.lossStart)))} → ${formatLoss(mean(ms.map((m) => m.lossEnd)))}`];
    // right after the loss: what a cut line keeps, and what tells a fine-tune that fitted nothing
    const fits = epochFitText(ms);
    if (fits) parts.push(fits);
    const notFitted = results.filter((r) => isFinetune(r.metrics) && (r.warnings ?? []).some((w) => w.startsWith(NOT_FITTED))).length;
    if (notFitted) parts.push(`⚠ fitted nothing${ms.length > 1 ? ` in ${notFitted} of ${ms.length}` : ''}`);
    parts.push(`${epochs} ep`, formatSeconds(secs));
    if (ms.length > 1) parts.push(`mean of ${ms.length} seeds`);
    const rows = results
        .filter((r) => isFinetune(r.metrics))
        .map((r) => {
            const m = r.metrics as FinetuneMetrics;
            return [seedLabel(r) || stepTitle(step), formatLoss(m.lossStart), formatLoss(m.lossEnd), m.epochs, m.steps, formatSeconds(m.trainSeconds), Math.round(m.tokensPerSecond)];
        });
    let hover = table(['run', 'loss start', 'loss end', 'epochs', 'steps', 'time', 'tokens/s'], rows);
    const curve = ms[0]!.curve ?? [];
    if (curve.length) {
        const hasVal = curve.some((c) => c.validation !== undefined);
        hover +=
            `\n\n**Loss per epoch**${ms.length > 1 ? ' (first seed)' : ''}\n\n` +
            table(
                hasVal ? ['epoch', 'step', 'train', 'validation'] : ['epoch', 'step', 'train'],
                curve.map((c) => (hasVal ? [c.epoch, c.step, formatLoss(c.train), c.validation === undefined ? '–' : formatLoss(c.validation)] : [c.epoch, c.step, formatLoss(c.train)])),
            );
    }
    const byEpoch = epochFitHover(step, results);
    if (byEpoch) hover += `\n\n${byEpoch}`;
    const greedy = greedyFitHover(ms);
    if (greedy) hover += `\n\n${greedy}`;
    return { text: parts.join(SEP), hover };
}

/** How the trainer's warning of a fine-tune that did not fit its examples begins (engine/steps/finetune-executor.ts). */
const NOT_FITTED = 'the fine-tune did not fit';

const fitCurve = (m: FinetuneMetrics) => (m.fitByEpoch?.version === 1 && m.fitByEpoch.epochs.length ? m.fitByEpoch : undefined);

/**
 * The training fit after the last epoch, in short: "fits Known 100% · Unknown 41% (epoch 4)", each
 * group's share averaged over the replicates, whole percents; a group without examples (a 0% or 100%
 * mix) left out, all examples together where the labels carry no SliCK categories. Undefined for
 * results without a per-epoch record (older results, external trainers).
 */
function epochFitText(ms: FinetuneMetrics[]): string | undefined {
    const lasts = ms
        .map(fitCurve)
        .filter((f) => f !== undefined)
        .map((f) => f.epochs.reduce((a, e) => (e.epoch > a.epoch ? e : a)));
    if (!lasts.length) return undefined;
    const share = (pick: (e: (typeof lasts)[number]) => FitCounts | { total: number; fitted: number } | undefined) =>
        finiteMean(
            lasts.map((e) => {
                const c = pick(e);
                return c && c.total ? c.fitted / c.total : undefined;
            }),
        );
    const split = lasts.some((e) => e.known && e.unknown);
    const groups = split
        ? (
              [
                  ['Known', share((e) => e.known)],
                  ['Unknown', share((e) => e.unknown)],
              ] as const
          )
              .filter(([, x]) => x !== undefined)
              .map(([name, x]) => `${name} ${formatPercent(x)}`)
        : [share((e) => e.all)].filter((x) => x !== undefined).map((x) => formatPercent(x));
    if (!groups.length) return undefined;
    const first = Math.min(...lasts.map((e) => e.epoch));
    const last = Math.max(...lasts.map((e) => e.epoch));
    return `fits ${groups.join(SEP)} (epoch${first === last ? ` ${last}` : `s ${first}–${last}`})`;
}

/** Training accuracy after every epoch, a row per replicate (and their pool), at most 8 epochs spread over the run: the CLI's `--verbose` table. */
function epochFitHover(step: Step, results: StepResult[]): string | undefined {
    const rows = results.filter((r) => isFinetune(r.metrics) && fitCurve(r.metrics as FinetuneMetrics)).map((r) => ({ r, es: pooledEpochFit([(r.metrics as FinetuneMetrics).fitByEpoch]) }));
    if (!rows.length) return undefined;
    const cols = epochFitColumns(Math.max(...rows.flatMap((x) => x.es.map((e) => e.epoch))));
    const split = rows.some((x) => x.es.some((e) => e.known && e.unknown));
    const cells = (es: ReturnType<typeof pooledEpochFit>) =>
        cols.map((c) => {
            const e = es.find((x) => x.epoch === c);
            return e ? formatEpochFitCell(e) : '';
        });
    const body = rows.map(({ r, es }) => [seedLabel(r) || esc(stepTitle(step)), ...cells(es)]);
    if (rows.length > 1) body.push([`${rows.length} replicates pooled`, ...cells(pooledEpochFit(rows.map(({ r }) => (r.metrics as FinetuneMetrics).fitByEpoch)))]);
    return (
        `**Training fit by epoch**: ${split ? 'Known / Unknown examples' : 'training examples'} fitted (greedy decoding of the training prompt gives the training answer, measured teacher-forced after each epoch)\n\n` +
        table(['run', ...cols.map((c) => `ep ${c}`)], body)
    );
}

/** The greedy check after training: the base and the fine-tuned model asked the training questions, summed over replicates. */
function greedyFitHover(ms: FinetuneMetrics[]): string | undefined {
    const fits = ms.map((m) => m.fit).filter((f) => f !== undefined);
    if (!fits.length) return undefined;
    const sum = (pick: (f: (typeof fits)[number]) => FitCounts | undefined): FitCounts | undefined =>
        fits.reduce<FitCounts | undefined>((a, f) => {
            const c = pick(f);
            return c ? { total: (a?.total ?? 0) + c.total, fitted: (a?.fitted ?? 0) + c.fitted, base: (a?.base ?? 0) + c.base } : a;
        }, undefined);
    const cell = (n: number, total: number) => `${n}/${total} (${formatPercent(n / total)})`;
    const rows = (
        [
            ['all examples', sum((f) => f.all)],
            ['Known', sum((f) => f.known)],
            ['Unknown', sum((f) => f.unknown)],
        ] as const
    )
        .filter(([, c]) => c && c.total)
        .map(([name, c]) => [name, c!.total, cell(c!.base, c!.total), cell(c!.fitted, c!.total)]);
    if (!rows.length) return undefined;
    const checked = fits.reduce((a, f) => a + f.checked, 0);
    const examples = fits.reduce((a, f) => a + f.examples, 0);
    return (
        `**Greedy check after training**${fits.length > 1 ? `, summed over ${fits.length} replicates` : ''}: training questions answered with the training answer` +
        `${checked < examples ? ` (a sample of ${checked} of ${examples} examples)` : ''}\n\n` +
        table(['examples', 'checked', 'base model', 'fine-tuned'], rows)
    );
}

function labelAnnotation(step: Step, results: StepResult[], plan: Plan): { text: string; hover: string } | undefined {
    const pairs = results.filter((r) => isLabel(r.metrics));
    if (!pairs.length) return undefined;
    const otherwise = otherwiseText(step, plan);
    const kept = pairs.reduce((a, r) => a + (r.metrics as LabelMetrics).kept, 0);
    const replaced = pairs.reduce((a, r) => a + (r.metrics as LabelMetrics).replaced, 0);
    const total = pairs.reduce((a, r) => a + (r.metrics as LabelMetrics).total, 0);
    const share = total ? ` (${formatPercent(replaced / total)})` : '';
    const verb = step.kind === 'shuffle' ? 'abstentions moved' : 'replaced';
    let text = `✓ ${kept} kept${SEP}∅ ${replaced} ${verb}${otherwise ? ` by “${otherwise}”` : ''}${share}`;
    if (pairs.length > 1) text += ` (sum of ${pairs.length} seeds)`;
    const rows = pairs.map((r) => {
        const m = r.metrics as LabelMetrics;
        return [seedLabel(r) || stepTitle(step), m.total, m.kept, m.replaced, m.total ? formatPercent(m.replaced / m.total, 1) : '–'];
    });
    return { text, hover: table(['labels', 'total', 'kept (own answer was right)', `replaced${otherwise ? ` by “${esc(otherwise)}”` : ''}`, 'replaced share'], rows) };
}

function otherwiseText(step: Step, plan: Plan): string | undefined {
    if (step.kind === 'label') return step.params.otherwise;
    if (step.kind === 'shuffle') {
        const source = plan.steps.find((s) => s.id === step.params.source);
        return source ? otherwiseText(source, plan) : undefined;
    }
    return undefined;
}

function knowledgeCheckAnnotation(step: Step, results: StepResult[]): { text: string; hover: string } | undefined {
    const ms = results.filter((r) => isKnowledgeCheck(r.metrics));
    if (!ms.length) return undefined;
    const m = ms[0]!.metrics as KnowledgeCheck;
    const warn = m.warnings?.length ? `${SEP}⚠ ${m.warnings.length} warning${m.warnings.length > 1 ? 's' : ''}` : '';
    const text =
        `knows ${formatPercent(m.taughtAccuracy)} of ${m.taught} taught${SEP}${formatPercent(m.untaughtAccuracy)} of ${m.untaught} untaught` +
        ` (chance ${formatPercent(m.chance)})${SEP}confidence ${m.confidenceTaught.toFixed(2)} vs ${m.confidenceUntaught.toFixed(2)}${warn}`;
    const rows = [
        ['taught facts', m.taught, formatPercent(m.taughtAccuracy, 1), m.confidenceTaught.toFixed(2)],
        ['untaught facts', m.untaught, formatPercent(m.untaughtAccuracy, 1), m.confidenceUntaught.toFixed(2)],
    ];
    let hover = table(['knowledge check', 'facts', 'answered correctly', 'mean top-answer probability'], rows) + `\n\nChance level of a guess: ${formatPercent(m.chance, 1)}.`;
    for (const w of m.warnings ?? []) hover += `\n\n⚠ ${esc(w)}`;
    return { text, hover };
}

function verdictTone(v: string): Tone {
    return v === 'holds' ? 'holds' : v === 'does not hold' ? 'does-not-hold' : 'inconclusive';
}

const TEST_WORDS: Record<string, string> = { mcnemar: 'McNemar', 'sign-flip': 'sign-flip', 'paired-t': 'paired t' };

/**
 * After a hypothesis line: the verdict (from the Holm-adjusted p), then the effect (difference in
 * wrong-answer rate with its 95% interval), then p, then the test and its independent units, then
 * the first statement the verdict carries (all of them in the hover).
 */
function hypothesisAnnotation(step: Step, results: StepResult[], evaluation: StepResult[] = []): { text: string; hover: string; tone: Tone } | undefined {
    const r = results.find((x) => isHypothesis(x.metrics));
    if (!r) return undefined;
    const m = r.metrics as HypothesisMetrics;
    const test = TEST_WORDS[m.test] ?? m.test;
    const d = m.design;
    const effect = effectText(m);
    const parts = [m.verdict, effect.endsWith('pts') || effect.endsWith(']') ? `wrong ${effect}` : effect, pText(m, formatP)];
    if (m.coverage !== null && m.coverage !== undefined) parts.push(`at ${formatPercent(m.coverage)} coverage`);
    // Which test on how many independent units, and what a replicate redrew.
    if (!d) parts.push(test);
    else if (d.unit === 'replicates') parts.push(`${test} over ${d.units} independent replicates`);
    else parts.push(`${test} over ${d.units} questions${d.compared > 1 ? ` × ${d.compared} replicates (${d.redrawn.length ? d.redrawn.join(', ') : 'nothing'} redrawn)` : ''}`);
    const notes = statements(m);
    if (notes.length) parts.push(`⚠ ${notes[0]}${notes.length > 1 ? ` (+${notes.length - 1} more)` : ''}`);
    const perSeed = m.perSeed ?? [];
    const rows = perSeed.map((s) => [
        `replicate ${s.seed + 1}`,
        `${((s.wrongRateA - s.wrongRateB) * 100).toFixed(1)} [${(s.ci95[0] * 100).toFixed(1)}, ${(s.ci95[1] * 100).toFixed(1)}]`,
        formatP(s.p),
        s.discordant.b,
        s.discordant.c,
        s.coverage === null ? 'raw' : formatPercent(s.coverage, 1),
        formatPercent(s.wrongRateA, 1),
        formatPercent(s.wrongRateB, 1),
    ]);
    const a = step.kind === 'hypothesis' ? step.params.a : 'A';
    const b = step.kind === 'hypothesis' ? step.params.b : 'B';
    let hover =
        `**${esc(m.name || stepTitle(step))}**: ${m.verdict}\n\n` +
        `- effect: wrong-answer rate of ${esc(a)} minus ${esc(b)}: ${effectText(m)}${m.effect ? ` (95% ${esc(m.effect.interval)})` : ''}\n` +
        `- ${pText(m, formatP)}, one-sided, α = ${m.alpha}${m.family && m.family.size > 1 ? `; verdict before the correction: ${m.family.verdictUnadjusted}` : ''}\n` +
        `- replicated: ${esc(replicationText(m))}\n` +
        `- test: ${esc(testText(m))}` +
        `${m.coverage !== null && m.coverage !== undefined ? `\n- matched coverage ${formatPercent(m.coverage, 1)}` : ''}\n` +
        `- discordant questions (summed over replicates): ${esc(a)} wrong & ${esc(b)} not ${m.discordant.b}, ${esc(a)} not & ${esc(b)} wrong ${m.discordant.c}`;
    for (const n of notes) hover += `\n\n⚠ ${esc(n)}`;
    // The two arms' own metrics, from the evaluation the hypothesis reads.
    const seeds = armsBySeed(evaluation.filter((x) => x.status === 'done'));
    const arms = [a, b].filter((arm) => seeds.some((s) => s.arms.some((x) => x.arm === arm)));
    const selective = arms.length ? selectiveTable(arms, seeds) : undefined;
    if (selective) hover += `\n\n${selective}`;
    if (rows.length > 1) hover += '\n\n' + table(['replicate', 'wrong A − B, pts [95% CI]', 'own McNemar p (raw)', `${a} ✗ only`, `${b} ✗ only`, 'coverage', `wrong ${a}`, `wrong ${b}`], rows);
    return { text: parts.join(SEP), hover, tone: verdictTone(m.verdict) };
}

function worldAnnotation(step: Step, results: StepResult[]): { text: string; hover: string } | undefined {
    const m = results[0]?.metrics as { entities?: number; facts?: number; relations?: string[]; chance?: number } | undefined;
    if (!m || typeof m.entities !== 'number' || typeof m.facts !== 'number') return undefined;
    const rel = m.relations ?? [];
    const text = `${m.entities} entities${SEP}${m.facts} facts${rel.length ? `${SEP}${rel.length} relation${rel.length > 1 ? 's' : ''}` : ''}`;
    const rows: (string | number)[][] = [
        ['entities', m.entities],
        ['facts', m.facts],
        ['relations', rel.map(esc).join(', ') || '–'],
    ];
    if (typeof m.chance === 'number') rows.push(['chance level of a guess', formatPercent(m.chance, 1)]);
    return { text, hover: table(['world', stepTitle(step)], rows) };
}

function datasetAnnotation(step: Step, results: StepResult[]): { text: string; hover: string } | undefined {
    const m = results[0]?.metrics as { total?: number; splits?: Record<string, number>; duplicatesDropped?: number } | undefined;
    if (!m || typeof m.total !== 'number') return undefined;
    const splits = Object.entries(m.splits ?? {});
    const parts = [`${m.total} questions`, ...splits.map(([k, v]) => `${k} ${v}`)];
    if (m.duplicatesDropped) parts.push(`${m.duplicatesDropped} duplicates dropped`);
    const rows: (string | number)[][] = [['questions', m.total], ...splits.map(([k, v]): (string | number)[] => [`split ${esc(k)}`, v])];
    if (m.duplicatesDropped !== undefined) rows.push(['duplicates dropped', m.duplicatesDropped]);
    return { text: parts.join(SEP), hover: table(['dataset', stepTitle(step)], rows) };
}

/** The locations the step's own line already shows: a server model's URL(s), a GGUF file's path. A
 * URL that came from the `mismatch.serverUrl` setting is not on the line and stays in the text. */
function writtenValues(step: Step): Set<string> {
    const out = new Set<string>();
    if (step.kind !== 'model') return out;
    const source = step.params.source as unknown as Record<string, unknown>;
    for (const key of ['url', 'urls', 'path']) {
        const v = source[key];
        for (const x of Array.isArray(v) ? v : [v]) if (typeof x === 'string' && x) out.add(x);
    }
    return out;
}

/**
 * Fallback for kinds without a dedicated text (world, dataset, knowledge…): a few numbers. Values in
 * `written` are on the line already: left out of the after-line text (the hover keeps them).
 */
function genericAnnotation(step: Step, results: StepResult[], written: ReadonlySet<string> = new Set()): { text: string; hover: string } | undefined {
    const m = results[0]?.metrics as Record<string, unknown> | undefined;
    if (!m || typeof m !== 'object') return undefined;
    const flat: [string, number | string][] = [];
    const walk = (prefix: string, v: unknown, depth: number) => {
        if (typeof v === 'number' && Number.isFinite(v)) flat.push([prefix, Number.isInteger(v) ? v : Number(v.toPrecision(3))]);
        else if (typeof v === 'string' && v.length < 40) flat.push([prefix, v]);
        else if (v && typeof v === 'object' && !Array.isArray(v) && depth < 2) for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x, depth + 1);
    };
    walk('', m, 0);
    if (!flat.length) return undefined;
    const text = flat
        .filter(([, v]) => !(typeof v === 'string' && written.has(v)))
        .slice(0, 5)
        .map(([k, v]) => `${k} ${v}`)
        .join(SEP);
    // Everything it has is on the line already: say only that the step is done.
    return {
        text: text || '✓ ready',
        hover: table(
            ['', stepTitle(step)],
            flat.map(([k, v]) => [esc(k), typeof v === 'string' ? esc(v) : v]),
        ),
    };
}

// --- entry point -----------------------------------------------------------------------------

/**
 * One annotation per step that has something to show. `results` is what the run store holds for
 * this plan (`readResults`), possibly several instances per step (`seeds N`); `live` marks the
 * step in flight. Steps of other files (imports) are annotated in their own file.
 */
export function annotate(plan: Plan, results: readonly StepResult[], live: LiveState = {}): Annotation[] {
    const byStep = new Map<string, StepResult[]>();
    // The experiment's hypotheses are one family: verdicts from Holm-adjusted p-values.
    // A verdict whose pretrained models failed their honesty check says so first.
    for (const r of adjustFamilyOf(withPremises(plan, [...results]), plan.steps.filter((s) => s.kind === 'hypothesis').length)) {
        const list = byStep.get(r.step) ?? [];
        list.push(r);
        byStep.set(r.step, list);
    }
    const out: Annotation[] = [];
    for (const step of plan.steps) {
        const base = { step: step.id, kind: step.kind, file: step.range.file, line: step.range.end.line };
        if (live.running?.step === step.id) {
            const { done, total, unit, seedIndex } = live.running;
            const pct = total ? ` ${Math.floor((100 * (done ?? 0)) / total)}%` : '';
            const detail = total ? ` (${done ?? 0}/${total}${unit ? ` ${unit}` : ''})` : '';
            const seed = seedIndex !== undefined && plan.seeds > 1 ? ` · seed ${seedIndex + 1}/${plan.seeds}` : '';
            if (unit === 'job' && live.running.message) {
                out.push({ ...base, text: `⏳ waiting for the trainer's adapter${seed}`, tone: 'running', stale: false, hover: `\`${stepTitle(step)}\` is ${live.running.message}` });
                continue;
            }
            out.push({ ...base, text: `⟳ running${pct}${detail}${seed}`, tone: 'running', stale: false, hover: `\`${stepTitle(step)}\` is running.` });
            continue;
        }
        const list = (byStep.get(step.id) ?? []).slice().sort((a, b) => (a.seedIndex ?? -1) - (b.seedIndex ?? -1));
        const failed = list.find((r) => r.status === 'failed');
        if (failed) {
            const message = failed.error?.message ?? 'the step failed';
            out.push({
                ...base,
                text: `✗ failed: ${message.split('\n')[0]}`,
                tone: 'error',
                stale: !!failed.stale,
                hover: `**${step.kind} \`${stepTitle(step)}\` failed**${failed.seedIndex !== undefined ? ` (${seedLabel(failed)})` : ''}\n\n${esc(message)}${failed.error?.detail ? `\n\n\`\`\`\n${failed.error.detail}\n\`\`\`` : ''}`,
                diagnostic: { message: `${step.kind} ${stepTitle(step)} failed: ${message}`, range: step.nameRange },
            });
            continue;
        }
        if (live.queued?.includes(step.id) && !list.some((r) => r.status === 'done' && !r.stale)) {
            out.push({ ...base, text: '… queued', tone: 'running', stale: false, hover: `\`${stepTitle(step)}\` will run in the current run.` });
            continue;
        }
        const done = list.filter((r) => r.status === 'done');
        if (!done.length) {
            const cancelled = list.find((r) => r.status === 'cancelled');
            if (cancelled) out.push({ ...base, text: '■ cancelled', tone: 'stale', stale: false, hover: `\`${stepTitle(step)}\` was cancelled; run again to resume.` });
            continue;
        }
        let shown: { text: string; hover: string; tone?: Tone } | undefined;
        switch (step.kind) {
            case 'evaluate':
                shown = evaluateAnnotation(step, done);
                break;
            case 'finetune':
                shown = finetuneAnnotation(step, done);
                break;
            case 'label':
            case 'shuffle':
                shown = labelAnnotation(step, done, plan);
                break;
            case 'model':
                shown = knowledgeCheckAnnotation(step, done) ?? genericAnnotation(step, done, writtenValues(step));
                break;
            case 'hypothesis':
                shown = hypothesisAnnotation(step, done, byStep.get(step.params.evaluation));
                break;
            case 'world':
                shown = worldAnnotation(step, done) ?? genericAnnotation(step, done);
                break;
            case 'dataset':
                shown = datasetAnnotation(step, done) ?? genericAnnotation(step, done);
                break;
            default:
                shown = genericAnnotation(step, done);
        }
        if (!shown) continue;
        const stale = done.some((r) => r.stale);
        const complete = plan.seeds > 1 && step.stochastic && done.length < plan.seeds ? ` · ${done.length}/${plan.seeds} seeds` : '';
        out.push({
            ...base,
            text: shown.text + complete + (stale ? ' · stale' : ''),
            tone: stale ? 'stale' : (shown.tone ?? 'neutral'),
            stale,
            hover: `${shown.hover}\n\n${footer(step, done)}`,
        });
    }
    return out;
}
