/** The new metrics reach the terminal tables and the HTML report. */
import { describe, expect, it } from 'vitest';
import { renderResults } from '../../cli/results.js';
import { reportHtml } from '../../engine/report/html.js';
import { armMetrics, type KnowledgeMap } from '../../engine/evaluate/index.js';
import type { QuestionRecord, StepResult } from '../../engine/results-types.js';
import { makePlan } from './plan-helpers.js';

const rec = (id: string, outcome: QuestionRecord['outcome'], logprob: number | null): QuestionRecord => ({ id, question: id, gold: ['g'], prediction: 'p', outcome, logprob, confidence: logprob });

describe('rendering the selective-prediction metrics and the knowledge grid', () => {
    // 3 correct, 1 wrong, 2 abstained, 1 empty: accuracy 3/7 = 42.9%, given attempted 75.0%, F = 6/11 = 0.545
    const records = [
        rec('1', 'correct', -0.1),
        rec('2', 'correct', -0.2),
        rec('3', 'correct', -0.3),
        rec('4', 'wrong', -0.4),
        rec('5', 'abstained', null),
        rec('6', 'abstained', null),
        rec('7', 'empty', null),
    ];
    const knows = (ids: string[]): Map<string, boolean> => new Map(records.map((r) => [r.id, ids.includes(r.id)]));
    const teacher: KnowledgeMap = { model: 'large', source: 'taught', knows: knows(['1', '2', '4']) };
    const student: KnowledgeMap = { model: 'small', source: 'taught', knows: knows(['1']) };
    const arm = armMetrics('smallOnLarge', records, { teacher, student });
    const steps: StepResult[] = [{ step: 'ev', kind: 'evaluate', key: 'k', status: 'done', cached: false, seconds: 1, metrics: { arms: [arm] } }];

    it('in the CLI', () => {
        const text = renderResults(steps, { verbose: true }).replace(/\u001b\[[0-9;]*m/g, '');
        expect(text).toMatch(/SimpleQA F/);
        const row = text.split('\n').find((l) => l.includes('smallOnLarge') && l.includes('42.9%'))!;
        expect(row).toContain('75.0%');
        expect(row).toContain('0.545');
        expect(text).toMatch(/teacher large × student small \(ground truth/);
        // teacher knows 2 and 4, the student does not: one correct, one wrong
        const cell = text.split('\n').find((l) => l.includes('teacher knows, student not'))!;
        expect(
            cell
                .split('│')
                .map((c) => c.trim())
                .filter(Boolean),
        ).toEqual(['smallOnLarge', 'teacher knows, student not', '1', '1', '0', '0', '2', '50.0%']);
    });

    it('in the HTML report', () => {
        const html = reportHtml(makePlan('/x/e.mismatch', []), steps);
        expect(html).toContain('<h2>Selective prediction</h2>');
        expect(html).toContain('<td>0.545</td>');
        expect(html).toContain('<h2>Teacher × student knowledge</h2>');
        expect(html).toContain('teacher knows, student does not (teacher large, student small)');
    });
});

describe('the CLI summary: verdicts first, outcomes per arm over the replicates', () => {
    // Three replicates of one arm, 10 questions each: wrong 2, 3, 4 and abstained 5, 4, 3.
    // Mean wrong share 30.0%, sd 0.1, t(0.975, 2) = 4.3027 → half-width 24.84 pts → [5.2, 54.8];
    // abstained 40.0% [15.2, 64.8]; correct 3 in each, 30.0% with no spread (python3, by hand).
    const arm = (wrong: number, abstained: number) => ({
        arm: 'x',
        correct: 10 - wrong - abstained,
        wrong,
        abstained,
        empty: 0,
        total: 10,
        wrongRate: wrong / 10,
        wrongAnsweredRate: wrong / (10 - abstained),
        aurc: null,
        riskCoverage: [],
        byKnowledge: {},
    });
    const steps: StepResult[] = [
        [2, 5],
        [3, 4],
        [4, 3],
    ].map(([w, a], seed) => ({ step: 'evaluate@9', kind: 'evaluate', key: `k${seed}`, seedIndex: seed, status: 'done', cached: false, seconds: 1, metrics: { arms: [arm(w, a)] } }));

    it('prints the mean with its 95% t interval per arm, the per-replicate rows only with verbose', () => {
        const plan = makePlan('/x/e.mismatch', [
            { id: 'evaluate@9', kind: 'evaluate', inputs: [], params: { arms: [{ model: 'x' }], dataset: 'qa', split: 'test', decoding: {}, abstain: [], match: 'exact' } },
        ] as never);
        const text = renderResults(steps, { plan }).replace(/\u001b\[[0-9;]*m/g, '');
        const row = text
            .split('\n')
            .find((l) => l.startsWith('│ x '))!
            .split('│')
            .map((c) => c.trim())
            .filter(Boolean);
        expect(row.slice(0, 6)).toEqual(['x', '3', '10', '30.0 [5.2, 54.8]', '30.0 [30.0, 30.0]', '40.0 [15.2, 64.8]']);
        expect(text).toContain('x on qa.test');
        expect(text).not.toContain('evaluate@9');
        expect(text).not.toContain('Outcomes per replicate');
        expect(renderResults(steps, { plan, verbose: true })).toContain('Outcomes per replicate');
    });
});
