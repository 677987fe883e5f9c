/**
 * Answer matching and outcomes: the official SQuAD and TriviaQA normalisations and the tool's own
 * (match.ts), abstention phrases and /regex/ patterns, empty answers, per-question records, counts,
 * rates, the metrics of selective-prediction papers (metrics.ts) and outcome × knowledge tables.
 */
import type { ArmMetrics, KnowledgeGrid, Outcomes, QuestionRecord } from '../results-types.js';
import { riskCoverage } from '../stats/index.js';
import { aurcOf, expectedCalibrationError, outcomesByGrid, simpleQaScores } from './metrics.js';

export * from './match.js';
export * from './metrics.js';

export function countOutcomes(records: Pick<QuestionRecord, 'outcome'>[]): Outcomes & { empty: number } {
    const o = { correct: 0, wrong: 0, abstained: 0, empty: 0, total: records.length };
    for (const r of records) o[r.outcome]++;
    return o;
}

/** outcome × knowledge category (records without a category go under 'uncategorised'). */
export function outcomesByKnowledge(records: QuestionRecord[]): Record<string, Outcomes> {
    const groups = new Map<string, QuestionRecord[]>();
    for (const r of records) {
        const k = r.knowledge ?? 'uncategorised';
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k)!.push(r);
    }
    const out: Record<string, Outcomes> = {};
    for (const [k, rs] of [...groups].sort((x, y) => x[0].localeCompare(y[0]))) out[k] = countOutcomes(rs);
    return out;
}

/** Which questions a model knows (true/false per question id), with where that came from. */
export interface KnowledgeMap {
    model: string;
    source: 'taught' | 'slick';
    knows: Map<string, boolean>;
}

export function armMetrics(arm: string, records: QuestionRecord[], grid?: { teacher: KnowledgeMap; student: KnowledgeMap }): ArmMetrics {
    const o = countOutcomes(records);
    const answered = o.correct + o.wrong;
    // The curve's points (for plots) come from stats; empty answers are not answers there either.
    const rc = riskCoverage(records.map((r) => (r.outcome === 'empty' ? { ...r, outcome: 'abstained' as const } : r)) as Parameters<typeof riskCoverage>[0]);
    let g: KnowledgeGrid | undefined;
    if (grid) {
        const byCell = outcomesByGrid(records, grid.teacher.knows, grid.student.knows);
        g = { teacher: grid.teacher.model, student: grid.student.model, source: grid.teacher.source === 'taught' && grid.student.source === 'taught' ? 'taught' : 'slick', ...byCell };
    }
    return {
        arm,
        ...o,
        wrongRate: o.total ? o.wrong / o.total : 0,
        wrongAnsweredRate: answered ? o.wrong / answered : 0,
        aurc: aurcOf(records),
        riskCoverage: thinCurve(rc.points, 200),
        byKnowledge: outcomesByKnowledge(records),
        ...simpleQaScores(o),
        ece: expectedCalibrationError(records),
        ...(g ? { grid: g } : {}),
    };
}

/** Keep at most `max` points of a curve (evenly spaced, always the last) so metrics stay small. */
function thinCurve<T>(points: T[], max: number): T[] {
    if (points.length <= max) return points;
    const out: T[] = [];
    const step = points.length / max;
    for (let i = 0; i < max - 1; i++) out.push(points[Math.floor(i * step)]);
    out.push(points[points.length - 1]);
    return out;
}

/** Confidence of an answer from its tokens' log-probabilities: the mean (length-normalised). */
export function confidenceFromLogprobs(logprobs: number[] | null | undefined): { logprob: number | null; confidence: number | null } {
    if (!logprobs || logprobs.length === 0 || logprobs.some((x) => !Number.isFinite(x))) return { logprob: null, confidence: null };
    const sum = logprobs.reduce((s, x) => s + x, 0);
    return { logprob: sum, confidence: sum / logprobs.length };
}
