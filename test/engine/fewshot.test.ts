import { describe, expect, it } from 'vitest';
import { fewShotFor, fewShotPool } from '../../engine/steps/fewshot.js';
import { buildPrompt } from '../../engine/models/types.js';

const records = [
    ...Array.from({ length: 30 }, (_, i) => ({ id: `t${i}`, question: `Train question ${i}?`, answers: [`A${i}`], split: 'train' })),
    ...Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, question: `Test question ${i}?`, answers: [`B${i}`], split: 'test' })),
];

describe('few-shot exemplars', () => {
    it('no prompt holds its own question (labelling the train split with exemplars from it)', () => {
        const pool = fewShotPool(records, 'train', false, 'label byLarge');
        const train = records.filter((r) => r.split === 'train');
        for (const r of train) {
            const shots = fewShotFor(pool, r, 4, 7);
            expect(shots).toHaveLength(4);
            expect(new Set(shots.map((s) => s.question)).size).toBe(4);
            const prompt = buildPrompt('raw', r.question, shots);
            const lines = prompt.split('\n');
            expect(lines.at(-1)).toBe(r.question);
            expect(lines.slice(0, -1).some((l) => l.includes(r.question) || l.includes(r.answers[0] + ' ') || l.endsWith(` ${r.answers[0]}`))).toBe(false);
        }
        // With 29 other questions and k = 28 the asked one is still never drawn.
        for (const r of train) expect(fewShotFor(pool, r, 28, 3).map((s) => s.question)).not.toContain(r.question);
    });
    it('drawn per question, seeded, per prompt', () => {
        const pool = fewShotPool(records, 'test', true, 'evaluate');
        const q = (i: number) => ({ id: `e${i}`, question: `Test question ${i}?` });
        const sets = Array.from({ length: 10 }, (_, i) =>
            fewShotFor(pool, q(i), 4, 1)
                .map((s) => s.question)
                .join('|'),
        );
        expect(new Set(sets).size).toBeGreaterThan(1); // not the same k exemplars for every question
        expect(fewShotFor(pool, q(0), 4, 1)).toEqual(fewShotFor(pool, q(0), 4, 1)); // seeded
        // independent of the order of the pool's records
        const reversed = fewShotPool([...records].reverse(), 'test', true, 'evaluate');
        expect(fewShotFor(reversed, q(0), 4, 1)).toEqual(fewShotFor(pool, q(0), 4, 1));
        const prompts = Array.from({ length: 10 }, (_, j) =>
            fewShotFor(pool, q(0), 4, 1, j)
                .map((s) => s.question)
                .join('|'),
        );
        expect(new Set(prompts).size).toBeGreaterThan(1); // SliCK's prompts differ
        for (const s of fewShotFor(pool, q(0), 4, 1)) expect(s.question.startsWith('Train')).toBe(true);
    });
    it('refuses the split under evaluation, a dataset without a train split, a pool too small', () => {
        expect(() => fewShotPool(records, 'train', true, 'evaluate@3')).toThrow(/split under evaluation/);
        expect(() =>
            fewShotPool(
                records.filter((r) => r.split === 'test'),
                'test',
                true,
                'evaluate@3',
            ),
        ).toThrow(/`train` split, and it has none/);
        const pool = fewShotPool(records, 'train', false, 'label');
        expect(() => fewShotFor(pool, { id: 't0', question: 'Train question 0?' }, 30, 1)).toThrow(/only 29 other questions/);
        // the same question text under another id is the asked question too
        expect(fewShotFor(pool, { id: 'x', question: 'Train question 5?' }, 29, 1).map((s) => s.question)).not.toContain('Train question 5?');
    });
});
