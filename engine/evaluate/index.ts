/**
 * Answer matching and outcomes: SQuAD-style normalisation, exact or containment matching over the
 * gold aliases, abstention phrases and /regex/ patterns, per-question records, counts, rates and
 * outcome × knowledge tables.
 */
import type { ArmMetrics, Outcomes, QuestionRecord } from '../results-types.js';
import { riskCoverage } from '../stats/index.js';

/** SQuAD's normalize_answer: lowercase, drop punctuation, drop articles (a/an/the), collapse whitespace. */
export function normalizeAnswer(s: string): string {
    let t = s.toLowerCase();
    // Unicode-aware punctuation removal (SQuAD removes string.punctuation; we also drop other
    // punctuation and symbols such as curly quotes and dashes).
    t = t.replace(/[\p{P}\p{S}]/gu, ' ');
    t = t.replace(/\b(a|an|the)\b/g, ' ');
    return t.split(/\s+/).filter(Boolean).join(' ');
}

export type MatchMode = 'exact' | 'contains';

/** Whether a prediction matches any gold alias (after normalisation). 'contains': the normalised
 * prediction contains a normalised alias as whole words. */
export function matchesGold(prediction: string, aliases: string[], mode: MatchMode = 'exact'): boolean {
    const p = normalizeAnswer(prediction);
    if (!p) return false;
    for (const alias of aliases) {
        const g = normalizeAnswer(alias);
        if (!g) continue;
        if (p === g) return true;
        if (mode === 'contains' && (` ${p} `).includes(` ${g} `)) return true;
    }
    return false;
}

export interface AbstentionMatcher {
    (prediction: string): boolean;
    phrases: string[];
    patterns: RegExp[];
}

/**
 * Abstention: a prediction abstains when, normalised, it equals or starts with a normalised phrase
 * ("I don't know" matches "i don t know." and "I don't know, sorry"), or when it matches a pattern
 * written `/.../flags`. An empty prediction abstains too (the model said nothing).
 */
export function abstentionMatcher(specs: string[]): AbstentionMatcher {
    const phrases: string[] = [];
    const patterns: RegExp[] = [];
    for (const s of specs) {
        const m = /^\/(.*)\/([a-z]*)$/s.exec(s);
        if (m) {
            try {
                patterns.push(new RegExp(m[1], m[2]));
            } catch (e) {
                throw new Error(`abstain pattern ${s} is not a valid regular expression: ${(e as Error).message}`);
            }
        } else {
            const n = normalizeAnswer(s);
            if (n) phrases.push(n);
        }
    }
    const fn = ((prediction: string) => {
        const n = normalizeAnswer(prediction);
        if (!n) return true;
        for (const p of phrases) if (n === p || n.startsWith(p + ' ')) return true;
        for (const r of patterns) if (r.test(prediction)) return true;
        return false;
    }) as AbstentionMatcher;
    fn.phrases = phrases;
    fn.patterns = patterns;
    return fn;
}

export function outcomeOf(prediction: string, gold: string[], abstains: (p: string) => boolean, mode: MatchMode): QuestionRecord['outcome'] {
    if (matchesGold(prediction, gold, mode)) return 'correct';
    if (abstains(prediction)) return 'abstained';
    return 'wrong';
}

export function countOutcomes(records: Pick<QuestionRecord, 'outcome'>[]): Outcomes {
    const o: Outcomes = { correct: 0, wrong: 0, abstained: 0, total: records.length };
    for (const r of records) o[r.outcome]++;
    return o;
}

/** outcome × knowledge category (records without a category go under 'unknown category'). */
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

export function armMetrics(arm: string, records: QuestionRecord[]): ArmMetrics {
    const o = countOutcomes(records);
    const answered = o.correct + o.wrong;
    const rc = riskCoverage(records);
    return {
        arm,
        ...o,
        wrongRate: o.total ? o.wrong / o.total : 0,
        wrongAnsweredRate: answered ? o.wrong / answered : 0,
        aurc: rc.aurc,
        riskCoverage: thinCurve(rc.points, 200),
        byKnowledge: outcomesByKnowledge(records),
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
