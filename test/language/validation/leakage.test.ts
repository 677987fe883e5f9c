/**
 * language/validation/leakage.ts: splits that add up, evaluations that never see their training
 * questions, knowledge categories of the evaluated questions.
 */
import { describe, expect, it } from 'vitest';
import { arms, codes, spec, validationFolder, withCode } from './fixtures.js';

const folder = validationFolder('mm-leakage-');
const { check } = folder;

describe('honest splits', () => {
    it('missing-unit: splits written as counts that add up to exactly 100', async () => {
        const d = await check(spec(arms).replace('split train 60%  split test 40%', 'split train 60  split test 40'));
        const w = withCode(d, 'missing-unit');
        expect(w.map((x) => x.data.replacement)).toEqual(['60%', '40%']);
        expect(w[0].severity).toBe(2);
        expect(codes(await check(spec(arms).replace('split train 60%  split test 40%', 'split train 600  split test 400')))).toEqual([]);
    });

    it('splits-over-100', async () => {
        const d = await check(spec(arms).replace('split test 40%', 'split test 50%'));
        expect(withCode(d, 'splits-over-100')[0].message).toBe("The splits of 'd' add up to 110%; they must not exceed 100%, or the same questions land in two splits.");
        expect(codes(await check(spec(arms).replace('split test 40%', 'split test 30%')))).toEqual([]);
    });

    it('train-test-leakage: evaluating on the split the labels came from, or on the whole dataset', async () => {
        const d = await check(spec(arms.replace('evaluate f, small on d.test', 'evaluate f, small on d.train')));
        const [l] = withCode(d, 'train-test-leakage');
        expect(l.message).toMatch(/^Train\/test leakage: 'f' is evaluated on d.train, but it was fine-tuned on d.train \(fine-tune 'f', label set 'byLarge'\)/);
        expect(codes(await check(spec(arms.replace('evaluate f, small on d.test', 'evaluate f, small on d'))))).toContain('train-test-leakage');
        // Through a shuffle too.
        const s = await check(spec(`  label byLarge = answers of large on d.test using greedy
  label sh = shuffle byLarge { seed 2 }
  finetune f = small on sh
  evaluate f, small on d.test using greedy`));
        expect(codes(s)).toContain('train-test-leakage');
    });

    it('possible-leakage: two datasets split separately from the same world', async () => {
        const d = await check(spec(arms.replace('on d.test', 'on e.test')).replace('decoding greedy', 'dataset e from atlas { split test 30% }\n  decoding greedy'));
        expect(withCode(d, 'possible-leakage')[0].severity).toBe(2);
    });
});

describe('knowledge of other questions', () => {
    const gek = (kData: string, kModel = 'small') => spec(`  knowledge k = ${kModel} on ${kData} { samples 4  fewShot 0 }
  label m = mix k { unknown 50% }
  finetune f = small on m
  evaluate f, small on d.test using greedy by k2
  knowledge k2 = small on d.test { samples 4  fewShot 0 }
  hypothesis f hallucinates more than small`);

    it('knowledge-other-data: slicing an evaluation by categories of other questions', async () => {
        const d = await check(gek('d.train').replace('by k2', 'by k'));
        expect(codes(d)).toContain('knowledge-other-data');
    });
});
