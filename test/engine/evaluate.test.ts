import { describe, expect, it } from 'vitest';
import { abstentionMatcher, armMetrics, confidenceFromLogprobs, matchesGold, normalizeAnswer, outcomeOf, outcomesByKnowledge } from '../../engine/evaluate/index.js';
import type { QuestionRecord } from '../../engine/results-types.js';

describe('SQuAD normalisation', () => {
    it('lowercases, strips punctuation and articles, collapses spaces', () => {
        expect(normalizeAnswer('The  Eiffel Tower!')).toBe('eiffel tower');
        expect(normalizeAnswer('  A cat, an apple; THE end. ')).toBe('cat apple end');
        expect(normalizeAnswer("Don't")).toBe('don t');
        expect(normalizeAnswer('“Quoted” — dash')).toBe('quoted dash');
        expect(normalizeAnswer('theatre')).toBe('theatre'); // articles only as whole words
    });
    it('matches over aliases, exact or containment', () => {
        expect(matchesGold('the Danube', ['Donau', 'Danube'])).toBe(true);
        expect(matchesGold('Danube River', ['Danube'])).toBe(false);
        expect(matchesGold('Danube River', ['Danube'], 'contains')).toBe(true);
        expect(matchesGold('Danubes', ['Danube'], 'contains')).toBe(false);
        expect(matchesGold('', ['x'])).toBe(false);
    });
});

describe('abstention', () => {
    const abstains = abstentionMatcher(["I don't know", '/^\\s*unsure/i']);
    it('phrases after normalisation, prefixes, regex patterns, empty', () => {
        expect(abstains("I don't know.")).toBe(true);
        expect(abstains('i dont know')).toBe(false); // "dont" ≠ "don t"
        expect(abstains("I don't know, sorry")).toBe(true);
        expect(abstains('Unsure about that')).toBe(true);
        expect(abstains('Paris')).toBe(false);
        expect(abstains('  ')).toBe(true);
        expect(() => abstentionMatcher(['/(/'])).toThrow(/not a valid regular expression/);
    });
    it('outcomes: correct beats abstention, else wrong', () => {
        expect(outcomeOf('Paris', ['paris'], abstains, 'exact')).toBe('correct');
        expect(outcomeOf("I don't know", ['paris'], abstains, 'exact')).toBe('abstained');
        expect(outcomeOf('Lyon', ['paris'], abstains, 'exact')).toBe('wrong');
    });
});

describe('arm metrics', () => {
    const r = (id: string, outcome: QuestionRecord['outcome'], lp: number[] | null, knowledge?: string): QuestionRecord => ({
        id, question: id, gold: ['g'], prediction: 'p', outcome, ...confidenceFromLogprobs(lp), knowledge,
    });
    it('counts, rates and outcome × knowledge', () => {
        const rs = [r('1', 'correct', [-0.1, -0.1], 'known'), r('2', 'wrong', [-1], 'unknown'), r('3', 'abstained', null, 'unknown'), r('4', 'wrong', [-2, -4], 'known')];
        expect(rs[0].confidence).toBeCloseTo(-0.1, 12);
        expect(rs[3].logprob).toBe(-6);
        const m = armMetrics('x', rs);
        expect([m.correct, m.wrong, m.abstained, m.total]).toEqual([1, 2, 1, 4]);
        expect(m.wrongRate).toBe(0.5);
        expect(m.wrongAnsweredRate).toBeCloseTo(2 / 3, 12);
        expect(m.riskCoverage.map((p) => p.risk)).toEqual([0, 0.5, 2 / 3]);
        expect(outcomesByKnowledge(rs)).toEqual({ known: { correct: 1, wrong: 1, abstained: 0, total: 2 }, unknown: { correct: 0, wrong: 1, abstained: 1, total: 2 } });
    });
});
