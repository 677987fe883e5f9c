import { describe, expect, it } from 'vitest';
import {
    abstentionMatcher,
    armMetrics,
    aurcOf,
    confidenceFromLogprobs,
    DEFAULT_ABSTENTIONS,
    expectedCalibrationError,
    matchesGold,
    normalizeAnswer,
    normalizeExact,
    normalizeSquad,
    normalizeTriviaqa,
    outcomeOf,
    outcomesByGrid,
    outcomesByKnowledge,
    simpleQaScores,
} from '../../engine/evaluate/index.js';
import type { QuestionRecord } from '../../engine/results-types.js';

/*
 * Expectations of the official scripts: the normalize_answer functions of SQuAD v1.1's
 * evaluate-v1.1.py and TriviaQA's utils/dataset_utils.py, run under Python 3:
 *   python3 norm.py < cases.json   (norm.py: the two functions verbatim, printing [case, squad(case), trivia(case)])
 */
const OFFICIAL: [string, string, string][] = [
    ['U.S.A.', 'usa', 'u s'], // TriviaQA: punctuation → spaces, and the trailing "a" is then an article
    ['The  Eiffel Tower!', 'eiffel tower', 'eiffel tower'],
    ['  A cat, an apple; THE end. ', 'cat apple end', 'cat apple end'],
    ["Don't", 'dont', 'don t'],
    ['don’t', 'don’t', 'don t'], // SQuAD keeps curly quotes; TriviaQA splits on ’
    ['España', 'españa', 'españa'], // \b is Unicode-aware in Python 3: the final "a" is no article
    ['the España', 'españa', 'españa'],
    ["Ça, c'est la vie", 'ça cest la vie', 'ça c est la vie'],
    ['São_Paulo', 'sãopaulo', 'são paulo'],
    ['rock`n´roll', 'rockn´roll', 'rock n roll'],
    ['“Quoted” — dash', '“quoted” — dash', '“quoted” — dash'],
    ['theatre', 'theatre', 'theatre'],
    ['A1 a_b', 'a1 ab', 'a1 b'],
    ['Ångström the', 'ångström', 'ångström'],
    ['a\u00a0b\u3000c', 'b c', 'b c'],
    ['x\u001cy', 'x y', 'x y'], // Python's str.split() splits on U+001C
    ['Zoë & the band', 'zoë band', 'zoë band'],
    ['ΣΟΦΟΣ', 'σοφος', 'σοφος'],
    ['an–dash', '–dash', '–dash'],
    ['Washington, D.C.', 'washington dc', 'washington d c'],
    ["Æsop's fables", 'æsops fables', 'æsop s fables'],
    ['nai\u0308ve a\u0301', 'nai\u0308ve \u0301', 'nai\u0308ve \u0301'], // a combining mark is not a word character in Python's re
];

describe('official normalisations', () => {
    it.each(OFFICIAL)('%j: SQuAD and TriviaQA as their scripts compute it', (input, squad, trivia) => {
        expect(normalizeSquad(input)).toBe(squad);
        expect(normalizeTriviaqa(input)).toBe(trivia);
    });
    it('where they differ, matching differs', () => {
        expect(matchesGold('U.S.A.', ['USA'], 'squad')).toBe(true);
        expect(matchesGold('U.S.A.', ['USA'], 'triviaqa')).toBe(false);
        expect(matchesGold('São_Paulo', ['São Paulo'], 'triviaqa')).toBe(true);
        expect(matchesGold('São_Paulo', ['São Paulo'], 'squad')).toBe(false);
        expect(matchesGold('España', ['Espan'], 'squad')).toBe(false);
    });
});

describe("the tool's normalisation (exact, contains)", () => {
    it('deletes all Unicode punctuation and symbols, keeps letters whole', () => {
        expect(normalizeExact('The  Eiffel Tower!')).toBe('eiffel tower');
        expect(normalizeExact("Don't")).toBe('dont');
        expect(normalizeExact('don’t')).toBe('dont');
        expect(normalizeExact('“Quoted” — dash')).toBe('quoted dash');
        expect(normalizeExact('España')).toBe('españa');
        expect(normalizeExact('U.S.A.')).toBe('usa');
        expect(normalizeExact('theatre')).toBe('theatre');
    });
    it('matches over aliases, exact or containment', () => {
        expect(matchesGold('the Danube', ['Donau', 'Danube'])).toBe(true);
        expect(matchesGold('U.S.A.', ['USA'])).toBe(true);
        expect(matchesGold('Danube River', ['Danube'])).toBe(false);
        expect(matchesGold('Danube River', ['Danube'], 'contains')).toBe(true);
        expect(matchesGold('Danubes', ['Danube'], 'contains')).toBe(false);
        expect(matchesGold('', ['x'])).toBe(false);
    });
});

describe('abstention and empty answers', () => {
    const abstains = abstentionMatcher(["I don't know", '/^\\s*unsure/i']);
    it('phrases after normalisation, prefixes of longer phrases, regex patterns', () => {
        expect(abstains("I don't know.")).toBe(true);
        expect(abstains('I don’t know')).toBe(true);
        expect(abstains("I don't know, sorry")).toBe(true);
        expect(abstains('Unsure about that')).toBe(true);
        expect(abstains('Paris')).toBe(false);
        expect(() => abstentionMatcher(['/(/'])).toThrow(/not a valid regular expression/);
    });
    it('the default phrases', () => {
        const d = abstentionMatcher([...DEFAULT_ABSTENTIONS]);
        for (const p of ['I do not know.', 'Unknown', "I'm not sure", 'I have no idea.', 'I dont know']) expect(d(p)).toBe(true);
        expect(d('Unknown Soldier')).toBe(false); // a one-word phrase must be the whole answer
        expect(d('Paris')).toBe(false);
    });
    it('outcomes: empty apart, then correct, abstained, wrong', () => {
        expect(outcomeOf('Paris', ['paris'], abstains, 'exact')).toBe('correct');
        expect(outcomeOf("I don't know", ['paris'], abstains, 'exact')).toBe('abstained');
        expect(outcomeOf('Lyon', ['paris'], abstains, 'exact')).toBe('wrong');
        expect(outcomeOf('  ', ['paris'], abstains, 'exact')).toBe('empty');
        expect(outcomeOf('...', ['paris'], abstains, 'squad')).toBe('empty');
        expect(outcomeOf('The', ['paris'], abstains, 'exact')).toBe('empty');
        expect(outcomeOf('Paris', ['paris'], abstains, 'exact', 'error')).toBe('empty');
    });
});

const rec = (id: string, outcome: QuestionRecord['outcome'], lp: number[] | null, knowledge?: string): QuestionRecord => ({
    id,
    question: id,
    gold: ['g'],
    prediction: 'p',
    outcome,
    ...confidenceFromLogprobs(lp),
    ...(knowledge ? { knowledge } : {}),
});

describe('metrics', () => {
    it('AURC: area under the risk–coverage curve over [0, coverage] (by hand)', () => {
        // answered by confidence: correct (.9), wrong (.8), correct (.7); one abstention; n = 4.
        // risks at k = 1, 2, 3: 0, 1/2, 1/3 → area = (0 + 1/2 + 1/3) / 4 = 0.2083…
        const rs = [
            { outcome: 'correct' as const, confidence: 0.9 },
            { outcome: 'wrong' as const, confidence: 0.8 },
            { outcome: 'correct' as const, confidence: 0.7 },
            { outcome: 'abstained' as const, confidence: null },
        ];
        expect(aurcOf(rs)).toBeCloseTo((0 + 1 / 2 + 1 / 3) / 4, 12);
        // Ties: correct (.9) then a tie of one wrong and one correct at .5; over the two orders the
        // risks are (0, 1/2, 1/3) and (0, 0, 1/3): expected (0, 1/4, 1/3) → (1/4 + 1/3) / 3.
        expect(
            aurcOf([
                { outcome: 'correct', confidence: 0.9 },
                { outcome: 'wrong', confidence: 0.5 },
                { outcome: 'correct', confidence: 0.5 },
            ]),
        ).toBeCloseTo((1 / 4 + 1 / 3) / 3, 12);
        expect(aurcOf([{ outcome: 'correct', confidence: null }])).toBeNull();
        expect(aurcOf([{ outcome: 'abstained', confidence: null }])).toBeNull();
    });
    it('SimpleQA: accuracy given attempted and F-score', () => {
        // 3 correct, 1 wrong, 3 not attempted: 3/7 and 3/4, F = 2·(3/7)(3/4)/((3/7)+(3/4)) = 6/11
        const s = simpleQaScores({ correct: 3, wrong: 1, total: 7 });
        expect(s.accuracy).toBeCloseTo(3 / 7, 12);
        expect(s.accuracyGivenAttempted).toBeCloseTo(0.75, 12);
        expect(s.fScore).toBeCloseTo(6 / 11, 12);
        expect(simpleQaScores({ correct: 0, wrong: 0, total: 5 })).toEqual({ accuracy: 0, accuracyGivenAttempted: null, fScore: 0 });
    });
    it('ECE with 10 equal-width bins of the sequence probability (by hand)', () => {
        // p = .95 correct (bin 9), .85 wrong (bin 8), .15 wrong and .12 correct (bin 1); abstention ignored.
        // ECE = ¼|1 − .95| + ¼|0 − .85| + ½|½ − .135| = .0125 + .2125 + .1825 = .4075
        const rs = [
            { outcome: 'correct' as const, logprob: Math.log(0.95) },
            { outcome: 'wrong' as const, logprob: Math.log(0.85) },
            { outcome: 'wrong' as const, logprob: Math.log(0.15) },
            { outcome: 'correct' as const, logprob: Math.log(0.12) },
            { outcome: 'abstained' as const, logprob: Math.log(0.99) },
        ];
        expect(expectedCalibrationError(rs)).toBeCloseTo(0.4075, 12);
        expect(expectedCalibrationError([{ outcome: 'correct', logprob: null }])).toBeNull();
    });
    it('teacher × student grid: every outcome lands in its cell', () => {
        const rs = [rec('1', 'correct', null), rec('2', 'wrong', null), rec('3', 'abstained', null), rec('4', 'wrong', null), rec('5', 'empty', null), rec('6', 'correct', null)];
        const teacher = new Map([
            ['1', true],
            ['2', true],
            ['3', false],
            ['4', false],
            ['5', true],
        ]);
        const student = new Map([
            ['1', true],
            ['2', false],
            ['3', true],
            ['4', false],
            ['5', false],
            ['6', true],
        ]);
        const g = outcomesByGrid(rs, teacher, student);
        expect(g.uncategorised).toBe(1); // question 6: the teacher's knowledge is not known
        expect(g.cells.both).toEqual({ correct: 1, wrong: 0, abstained: 0, empty: 0, total: 1 });
        expect(g.cells.teacherOnly).toEqual({ correct: 0, wrong: 1, abstained: 0, empty: 1, total: 2 });
        expect(g.cells.studentOnly).toEqual({ correct: 0, wrong: 0, abstained: 1, empty: 0, total: 1 });
        expect(g.cells.neither).toEqual({ correct: 0, wrong: 1, abstained: 0, empty: 0, total: 1 });
    });
    it('arm metrics: counts, rates, outcome × knowledge, empty apart', () => {
        const rs = [
            rec('1', 'correct', [-0.1, -0.1], 'known'),
            rec('2', 'wrong', [-1], 'unknown'),
            rec('3', 'abstained', null, 'unknown'),
            rec('4', 'wrong', [-2, -4], 'known'),
            rec('5', 'empty', null, 'known'),
        ];
        expect(rs[0].confidence).toBeCloseTo(-0.1, 12);
        expect(rs[3].logprob).toBe(-6);
        const m = armMetrics('x', rs);
        expect([m.correct, m.wrong, m.abstained, m.empty, m.total]).toEqual([1, 2, 1, 1, 5]);
        expect(m.wrongRate).toBe(0.4);
        expect(m.wrongAnsweredRate).toBeCloseTo(2 / 3, 12);
        expect(m.riskCoverage.map((p) => p.risk)).toEqual([0, 0.5, 2 / 3]);
        // confidences −.1, −1, −3: risks 0, 1/2, 2/3 over n = 5
        expect(m.aurc).toBeCloseTo((0 + 1 / 2 + 2 / 3) / 5, 12);
        expect(m.accuracyGivenAttempted).toBeCloseTo(1 / 3, 12);
        expect(outcomesByKnowledge(rs)).toEqual({ known: { correct: 1, wrong: 1, abstained: 0, empty: 1, total: 3 }, unknown: { correct: 0, wrong: 1, abstained: 1, empty: 0, total: 2 } });
    });
});

describe('question identity', () => {
    it('keeps the normalisation question ids were first derived from (punctuation → space)', () => {
        expect(normalizeAnswer("What's the capital of the U.S.?")).toBe('what s capital of u s');
        expect(normalizeAnswer('  A cat, an apple; THE end. ')).toBe('cat apple end');
    });
});
