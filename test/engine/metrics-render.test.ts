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
    const records = [rec('1', 'correct', -0.1), rec('2', 'correct', -0.2), rec('3', 'correct', -0.3), rec('4', 'wrong', -0.4), rec('5', 'abstained', null), rec('6', 'abstained', null), rec('7', 'empty', null)];
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
        expect(cell.split('│').map((c) => c.trim()).filter(Boolean)).toEqual(['smallOnLarge', 'teacher knows, student not', '1', '1', '0', '0', '2', '50.0%']);
    });

    it('in the HTML report', () => {
        const html = reportHtml(makePlan('/x/e.mismatch', []), steps);
        expect(html).toContain('<h2>Selective prediction</h2>');
        expect(html).toContain('<td>0.545</td>');
        expect(html).toContain('<h2>Teacher × student knowledge</h2>');
        expect(html).toContain('teacher knows, student does not (teacher large, student small)');
    });
});
