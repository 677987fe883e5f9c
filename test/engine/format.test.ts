/** The one formatter of numbers every surface uses, and the names of unnamed steps. */
import { describe, expect, it } from 'vitest';
import {
    formatInterval,
    formatNumber,
    formatP,
    formatPercent,
    formatPercentWithInterval,
    formatPoints,
    formatSeconds,
    hypothesisWords,
    isGeneratedId,
    stepTitle,
    stepTitles,
} from '../../engine/format.js';
import { formatP as annotateP } from '../../client/annotate.js';
import { effectText, pText } from '../../engine/stats/family.js';
import type { HypothesisMetrics } from '../../engine/results-types.js';
import type { EvaluateStep, HypothesisStep, Step } from '../../language/plan-types.js';

const range = (line: number) => ({ file: '/x/e.mismatch', start: { line, character: 0 }, end: { line, character: 10 } });
const base = (id: string, line: number) => ({ id, range: range(line), nameRange: range(line), inputs: [], key: 'k', stochastic: false, files: [] });
const hyp = (id: string, line: number, a: string, b: string, matchedCoverage: boolean, direction: 'more' | 'less' = 'more'): HypothesisStep => ({
    ...base(id, line),
    kind: 'hypothesis',
    params: { a, b, direction, matchedCoverage, evaluation: 'evaluate@31', alpha: 0.05 },
});
const ev = (id: string, line: number): EvaluateStep => ({
    ...base(id, line),
    kind: 'evaluate',
    params: {
        arms: [{ model: 'smallOnLarge' }, { model: 'small' }],
        dataset: 'trivia',
        split: 'test',
        decoding: {} as EvaluateStep['params']['decoding'],
        abstain: [],
        match: 'exact' as EvaluateStep['params']['match'],
    },
});

describe('formatP: one rule for the CLI, the report, the annotations and the webview', () => {
    it('two significant digits down to 0.001, the exponent form below', () => {
        // By hand: 5e-4 is below 0.001 → "5.0e-4" (the CLI and the report used to print 0.00050).
        expect([0.41, 0.041, 0.0412, 0.003, 0.0082, 0.00099, 5e-4, 1.23e-12].map(formatP)).toEqual(['0.41', '0.041', '0.041', '0.003', '0.0082', '9.9e-4', '5.0e-4', '1.2e-12']);
        expect([0, 1, 0.9999, 0.995, 0.994].map(formatP)).toEqual(['0', '1', '1', '1', '0.99']);
        expect([NaN, Infinity, null, undefined].map(formatP)).toEqual(['—', '—', '—', '—']);
    });
    it('is what the editor and pText use', () => {
        expect(annotateP(5e-4)).toBe('5.0e-4');
        const h = { p: 1.2e-4, family: { method: 'holm', size: 3, missing: 0, pAdjusted: 3.6e-4, verdictUnadjusted: 'holds' } } as unknown as HypothesisMetrics;
        expect(pText(h)).toBe('p = 3.6e-4 (Holm, 3 hypotheses; raw 1.2e-4)');
    });
});

describe('numbers, percentages, points and intervals', () => {
    it('formats each by its rule', () => {
        expect(formatNumber(0.15625)).toBe('0.156');
        expect(formatNumber(2.5, 1)).toBe('2.5');
        expect(formatNumber(null)).toBe('—');
        expect(formatPercent(0.34444)).toBe('34.4%');
        expect(formatPercent(0.34444, 0)).toBe('34%');
        expect(formatPercent(undefined)).toBe('—');
        expect(formatPoints(0.234)).toBe('+23.4');
        expect(formatPoints(-0.032)).toBe('−3.2');
        expect(formatPoints(-0.0001)).toBe('+0.0'); // no sign on a rounded zero
        expect(formatInterval([0.182, 0.287], formatPoints)).toBe('[+18.2, +28.7]');
        expect(formatInterval([NaN, 1])).toBe('');
        expect(formatPercentWithInterval(0.344, [0.269, 0.42])).toBe('34.4% [26.9%, 42.0%]');
        expect(formatPercentWithInterval(0.344, [NaN, NaN])).toBe('34.4%');
        expect([4.25, 41.2, 125, 3600 + 300, -1].map(formatSeconds)).toEqual(['4.3 s', '41 s', '2 min 5 s', '1 h 5 min', '?']);
    });
    it('effectText writes the difference and its interval in points', () => {
        const h = { p: 0.01, effect: { difference: 0.234, ci95: [0.182, 0.287], interval: 't' }, perSeed: [] } as unknown as HypothesisMetrics;
        expect(effectText(h)).toBe('+23.4 pts [+18.2, +28.7]');
    });
});

describe('names of unnamed steps', () => {
    it('a hypothesis by its comparison, an evaluation by its arms and split; named steps keep their name', () => {
        expect(stepTitle(hyp('hypothesis@33', 32, 'smallOnLarge', 'smallOnSmall', true))).toBe('smallOnLarge > smallOnSmall (matched)');
        expect(stepTitle(hyp('hypothesis@34', 33, 'a', 'b', false, 'less'))).toBe('a < b');
        expect(stepTitle(hyp('mine', 33, 'a', 'b', false))).toBe('mine');
        expect(stepTitle(ev('evaluate@31', 30))).toBe('smallOnLarge, small on trivia.test');
        expect(isGeneratedId(hyp('hypothesis@33#2', 32, 'a', 'b', false))).toBe(true);
        expect(isGeneratedId(hyp('hypothesisX', 32, 'a', 'b', false))).toBe(false);
        expect(hypothesisWords(hyp('hypothesis@33', 32, 'smallOnLarge', 'smallOnSmall', true))).toBe('smallOnLarge hallucinates more than smallOnSmall at matched coverage');
    });
    it('two unnamed steps with the same words stay apart; unknown ids stay as they are', () => {
        const steps: Step[] = [hyp('hypothesis@33', 32, 'a', 'b', false), hyp('hypothesis@40', 39, 'a', 'b', false), hyp('hypothesis@41', 40, 'a', 'b', true)];
        const t = stepTitles(steps);
        expect(['hypothesis@33', 'hypothesis@40', 'hypothesis@41', 'other'].map(t)).toEqual(['a > b (line 33)', 'a > b (line 40)', 'a > b (matched)', 'other']);
    });
});
