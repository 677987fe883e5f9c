/**
 * Answer matching: the normalisations of the official SQuAD v1.1 and TriviaQA evaluation scripts,
 * the tool's own Unicode normalisation (`exact`, `contains`), abstention phrases and empty answers.
 *
 * The official scripts are Python 3 (`re` on `str` patterns is Unicode-aware): their `\b` treats
 * every letter and digit as a word character, so "España" keeps its final "a", and `str.split()`
 * splits on Python's whitespace set. JavaScript's `\b` and `\s` differ from both, so the
 * boundaries and whitespace below are spelled out to behave as Python 3 does.
 *
 * - `squad` (SQuAD v1.1 `evaluate-v1.1.py`, `normalize_answer`): lower(); remove the characters of
 *   Python's `string.punctuation` (removed, not replaced: "U.S.A." → "usa"); replace the words a/an/the
 *   with a space; collapse whitespace. Curly quotes and dashes are kept ("don’t" stays "don’t").
 * - `triviaqa` (TriviaQA `utils/dataset_utils.py` and `evaluation/triviaqa_evaluation.py`,
 *   `normalize_answer`): replace "_" with a space; lower(); REPLACE each character of
 *   `string.punctuation` and ‘ ’ ´ ` with a space ("U.S.A." → "u s a", so it does not match "USA",
 *   where SQuAD's does); replace the words a/an/the; collapse whitespace; strip.
 *   Where they differ: punctuation is deleted by SQuAD and becomes a space in TriviaQA ("don't" →
 *   "dont" vs "don t"; "U.S.A." matches "USA" only under SQuAD); TriviaQA also splits on ‘ ’ ´ `.
 * - `exact` (the default): SQuAD's rule widened to all of Unicode: every punctuation mark and
 *   symbol (\p{P}, \p{S}: curly quotes, dashes, ´) is deleted, so "don’t" and "don't" both give
 *   "dont"; then the SQuAD steps. A prediction matches when it equals a gold alias.
 * - `contains`: the `exact` normalisation; a prediction matches when a gold alias occurs in it as
 *   whole words ("the Danube river" contains "Danube").
 *
 * Not reproduced: Python's str.lower() and JavaScript's toLowerCase() agree except for a handful
 * of special casings; none concern Latin, Greek or Cyrillic answers.
 */

export type MatchMode = 'exact' | 'contains' | 'squad' | 'triviaqa';
export const MATCH_MODES: MatchMode[] = ['exact', 'contains', 'squad', 'triviaqa'];

/** Python's `string.punctuation`. */
const PY_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const SQUAD_EXCLUDE = new Set(PY_PUNCTUATION);
const TRIVIA_EXCLUDE = new Set(PY_PUNCTUATION + '\u2018\u2019\u00b4`');
/** Python 3's `\b(a|an|the)\b` on str: word characters are letters, digits (all of Unicode) and "_". */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
/** Python's str.split() separators (str.isspace()): JavaScript's \s less U+FEFF, plus U+001C–U+001F and U+0085. */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

function whiteSpaceFix(t: string): string {
    return t.split(PY_WHITESPACE).filter(Boolean).join(' ');
}

/** SQuAD v1.1's normalize_answer, as the official script computes it under Python 3. */
export function normalizeSquad(s: string): string {
    const lower = s.toLowerCase();
    let noPunc = '';
    for (const ch of lower) if (!SQUAD_EXCLUDE.has(ch)) noPunc += ch;
    return whiteSpaceFix(noPunc.replace(ARTICLES, ' '));
}

/** TriviaQA's normalize_answer, as the official script computes it under Python 3. */
export function normalizeTriviaqa(s: string): string {
    const lower = s.replaceAll('_', ' ').toLowerCase();
    let punc = '';
    for (const ch of lower) punc += TRIVIA_EXCLUDE.has(ch) ? ' ' : ch;
    return whiteSpaceFix(punc.replace(ARTICLES, ' ')).trim();
}

/**
 * Question identity (engine/datasets: ids of questions without one, and deduplication): lowercase,
 * punctuation and symbols become spaces, English articles dropped, whitespace collapsed. Kept as it
 * was when question ids were first derived from it, so ids and stores stay stable; answers are
 * matched with the normalisations below, not with this.
 */
export function normalizeAnswer(s: string): string {
    let t = s.toLowerCase();
    t = t.replace(/[\p{P}\p{S}]/gu, ' ');
    t = t.replace(/\b(a|an|the)\b/g, ' ');
    return t.split(/\s+/).filter(Boolean).join(' ');
}

/** The tool's normalisation (`exact`, `contains`, abstention phrases): SQuAD's, over all Unicode punctuation and symbols. */
export function normalizeExact(s: string): string {
    const t = s.toLowerCase().replace(/[\p{P}\p{S}]/gu, '');
    return whiteSpaceFix(t.replace(ARTICLES, ' '));
}

export function normalizerFor(mode: MatchMode): (s: string) => string {
    return mode === 'squad' ? normalizeSquad : mode === 'triviaqa' ? normalizeTriviaqa : normalizeExact;
}

/** Whether a prediction matches any gold alias under `mode` (exact match after the mode's normalisation; `contains`: as whole words). */
export function matchesGold(prediction: string, aliases: string[], mode: MatchMode = 'exact'): boolean {
    const norm = normalizerFor(mode);
    const p = norm(prediction);
    if (!p) return false;
    for (const alias of aliases) {
        const g = norm(alias);
        if (!g) continue;
        if (p === g) return true;
        if (mode === 'contains' && ` ${p} `.includes(` ${g} `)) return true;
    }
    return false;
}

/** Abstention phrases used when a spec names none (the `otherwise` texts of its labels are added to them). */
export { DEFAULT_ABSTENTIONS } from '../../language/abstentions.js';

export interface AbstentionMatcher {
    (prediction: string): boolean;
    phrases: string[];
    patterns: RegExp[];
}

/**
 * Abstention, after the tool's normalisation (whatever the match mode, so "I don’t know" with a
 * curly apostrophe is the same phrase): a prediction abstains when it equals a phrase, or, for a
 * phrase of two words or more, begins with it ("I don't know, sorry"); a one-word phrase such as
 * "Unknown" must be the whole answer, so "Unknown Soldier" is an answer. `/.../flags` are regular
 * expressions tested on the raw prediction.
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
            const n = normalizeExact(s);
            if (n) phrases.push(n);
        }
    }
    const fn = ((prediction: string) => {
        const n = normalizeExact(prediction);
        for (const p of phrases) if (n === p || (p.includes(' ') && n.startsWith(p + ' '))) return true;
        for (const r of patterns) if (r.test(prediction)) return true;
        return false;
    }) as AbstentionMatcher;
    fn.phrases = phrases;
    fn.patterns = patterns;
    return fn;
}

export type Outcome = 'correct' | 'wrong' | 'abstained' | 'empty';

/** Whether an answer is empty or unparseable: nothing but whitespace, punctuation, symbols or articles, or a failed generation. */
export function isEmptyAnswer(prediction: string, finish?: string): boolean {
    return finish === 'error' || normalizeExact(prediction) === '';
}

/** Empty (an outcome of its own, neither wrong nor an abstention), else correct, else abstained, else wrong. */
export function outcomeOf(prediction: string, gold: string[], abstains: (p: string) => boolean, mode: MatchMode, finish?: string): Outcome {
    if (isEmptyAnswer(prediction, finish)) return 'empty';
    if (matchesGold(prediction, gold, mode)) return 'correct';
    if (abstains(prediction)) return 'abstained';
    return 'wrong';
}
