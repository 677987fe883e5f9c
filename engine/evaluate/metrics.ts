/**
 * Metrics of selective-prediction and hallucination papers, from per-question records:
 *
 * - AURC (Geifman & El-Yaniv 2017; the discrete estimator of Geifman et al. 2019): answers are
 *   ranked by confidence, most confident first; at coverage k/n (k = 1..m, n questions, m answered)
 *   the selective risk is the share of wrong answers among the k kept. AURC = (1/n) Σ_{k=1..m} risk_k:
 *   the area under the step-shaped risk–coverage curve over [0, m/n] (each step 1/n wide). An arm
 *   that answers everything gets the mean selective risk over all coverage levels; an arm that
 *   abstains more spans a shorter interval. Ties in confidence are broken at random in expectation:
 *   within a tie group the wrong answers are spread evenly, so no ordering of ids enters the value.
 * - Accuracy given attempted and the SimpleQA F-score (Wei et al. 2024): attempted = correct + wrong
 *   (abstentions and empty answers are not attempts); F = harmonic mean of correct / all questions
 *   and correct / attempted.
 * - Expected calibration error (Guo et al. 2017; Naeini et al. 2015) with 10 equal-width bins of
 *   [0, 1] ([0, .1), …, [.9, 1]): the confidence of an answer is its sequence probability
 *   exp(Σ token log-probabilities); over attempted answers, ECE = Σ_b (|b| / N) · |acc(b) − conf(b)|.
 *   Null for an arm without log-probabilities.
 * - The teacher × student knowledge grid: each question falls in one of four cells by whether the
 *   teacher and the student know it, and every arm's outcomes are counted per cell.
 */
import type { Outcomes } from '../results-types.js';
import type { Outcome } from './match.js';

interface Scored {
    outcome: Outcome;
    confidence: number | null;
}

const attempted = (o: Outcome) => o === 'correct' || o === 'wrong';

/** Area under the risk–coverage curve over [0, coverage] (see above); null without a finite confidence on every answered record. */
export function aurcOf(records: Scored[]): number | null {
    const n = records.length;
    const answered = records.filter((r) => attempted(r.outcome));
    if (answered.length === 0 || answered.some((r) => r.confidence === null || !Number.isFinite(r.confidence))) return null;
    answered.sort((x, y) => y.confidence! - x.confidence!);
    let area = 0;
    let before = 0; // answers ranked above the current tie group
    let wrongBefore = 0;
    for (let i = 0; i < answered.length;) {
        let j = i;
        while (j < answered.length && answered[j].confidence === answered[i].confidence) j++;
        const g = j - i;
        const w = answered.slice(i, j).filter((r) => r.outcome === 'wrong').length;
        for (let t = 1; t <= g; t++) area += (wrongBefore + (t * w) / g) / (before + t);
        before += g;
        wrongBefore += w;
        i = j;
    }
    return area / n;
}

export interface SimpleQaScores {
    /** correct / all questions. */
    accuracy: number;
    /** correct / (correct + wrong); null when nothing was attempted. */
    accuracyGivenAttempted: number | null;
    /** Harmonic mean of the two (0 when either is 0). */
    fScore: number;
}

export function simpleQaScores(o: { correct: number; wrong: number; total: number }): SimpleQaScores {
    const accuracy = o.total ? o.correct / o.total : 0;
    const att = o.correct + o.wrong;
    const aga = att ? o.correct / att : null;
    const fScore = aga !== null && accuracy + aga > 0 ? (2 * accuracy * aga) / (accuracy + aga) : 0;
    return { accuracy, accuracyGivenAttempted: aga, fScore };
}

export const ECE_BINS = 10;

/** Expected calibration error over attempted answers with a sequence log-probability; null when any lacks one or none was attempted. */
export function expectedCalibrationError(records: { outcome: Outcome; logprob: number | null }[], bins = ECE_BINS): number | null {
    const rs = records.filter((r) => attempted(r.outcome));
    if (rs.length === 0 || rs.some((r) => r.logprob === null || !Number.isFinite(r.logprob))) return null;
    const count = new Array<number>(bins).fill(0);
    const conf = new Array<number>(bins).fill(0);
    const acc = new Array<number>(bins).fill(0);
    for (const r of rs) {
        const p = Math.min(1, Math.exp(r.logprob!));
        const b = Math.min(bins - 1, Math.floor(p * bins));
        count[b]++;
        conf[b] += p;
        if (r.outcome === 'correct') acc[b]++;
    }
    let ece = 0;
    for (let b = 0; b < bins; b++) if (count[b]) ece += (count[b] / rs.length) * Math.abs(acc[b] / count[b] - conf[b] / count[b]);
    return ece;
}

export type GridCell = 'both' | 'teacherOnly' | 'studentOnly' | 'neither';
export const GRID_CELLS: GridCell[] = ['both', 'teacherOnly', 'studentOnly', 'neither'];
export const GRID_CELL_LABELS: Record<GridCell, string> = {
    both: 'both know',
    teacherOnly: 'teacher knows, student does not',
    studentOnly: 'student knows, teacher does not',
    neither: 'neither knows',
};

export function gridCell(teacherKnows: boolean, studentKnows: boolean): GridCell {
    return teacherKnows ? (studentKnows ? 'both' : 'teacherOnly') : studentKnows ? 'studentOnly' : 'neither';
}

/** Outcomes per grid cell (questions missing from either knowledge map are left out and counted). */
export function outcomesByGrid(
    records: { id: string; outcome: Outcome }[],
    teacher: Map<string, boolean>,
    student: Map<string, boolean>,
): { cells: Record<GridCell, Outcomes>; uncategorised: number } {
    const cells = Object.fromEntries(GRID_CELLS.map((c) => [c, { correct: 0, wrong: 0, abstained: 0, empty: 0, total: 0 }])) as Record<GridCell, Outcomes & { empty: number }>;
    let uncategorised = 0;
    for (const r of records) {
        const t = teacher.get(r.id);
        const s = student.get(r.id);
        if (t === undefined || s === undefined) {
            uncategorised++;
            continue;
        }
        const c = cells[gridCell(t, s)];
        c[r.outcome]++;
        c.total++;
    }
    return { cells, uncategorised };
}
