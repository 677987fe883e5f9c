/**
 * language/validation/leakage.ts: splits that add up, evaluations that never see their training
 * questions, knowledge categories of the evaluated questions. Langium's validationHelper,
 * diagnostics matched by code, severity and the node they sit on.
 */
import { describe, expect, it } from 'vitest';
import { expectError, expectWarning } from 'langium/test';
import { arms, code, expectNoProblems, spec, validationFolder } from './fixtures.js';

const folder = validationFolder('mm-leakage-');
const { validate } = folder;

describe('honest splits', () => {
    it('missing-unit: splits written as counts that add up to exactly 100', async () => {
        const r = await validate(spec(arms).replace('split train 60%  split test 40%', 'split train 60  split test 40'));
        expectWarning(r, /./, { data: { code: 'missing-unit', replacement: '60%' } });
        expectWarning(r, /./, { data: { code: 'missing-unit', replacement: '40%' } });
        // exactly these two, in this order
        expect(r.diagnostics.filter((d) => (d.data as { code?: string }).code === 'missing-unit').map((d) => (d.data as { replacement?: string }).replacement)).toEqual(['60%', '40%']);
        expectNoProblems(await validate(spec(arms).replace('split train 60%  split test 40%', 'split train 600  split test 400')));
    });

    it('splits-over-100', async () => {
        const r = await validate(spec(arms).replace('split test 40%', 'split test 50%'));
        expectError(r, "The splits of 'd' add up to 110%; they must not exceed 100%, or the same questions land in two splits.", { data: code('splits-over-100') });
        expectNoProblems(await validate(spec(arms).replace('split test 40%', 'split test 30%')));
    });

    it('train-test-leakage: evaluating on the split the labels came from, or on the whole dataset', async () => {
        const r = await validate(spec(arms.replace('evaluate f, small on d.test', 'evaluate f, small on d.train')));
        expectError(r, /^Train\/test leakage: 'f' is evaluated on d.train, but it was fine-tuned on d.train \(fine-tune 'f', label set 'byLarge'\)/, { data: code('train-test-leakage') });
        expectError(await validate(spec(arms.replace('evaluate f, small on d.test', 'evaluate f, small on d'))), /./, { data: code('train-test-leakage') });
        // Through a shuffle too.
        const s = await validate(
            spec(`  label byLarge = answers of large on d.test using greedy
  label sh = shuffle byLarge { seed 2 }
  finetune f = small on sh
  evaluate f, small on d.test using greedy`),
        );
        expectError(s, /./, { data: code('train-test-leakage') });
    });

    it('possible-leakage: two datasets split separately from the same world', async () => {
        const r = await validate(spec(arms.replace('on d.test', 'on e.test')).replace('decoding greedy', 'dataset e from atlas { split test 30% }\n  decoding greedy'));
        expectWarning(r, /./, { data: code('possible-leakage') });
    });
});

describe('knowledge of other questions', () => {
    const gek = (kData: string, kModel = 'small') =>
        spec(`  knowledge k = ${kModel} on ${kData} { samples 4  fewShot 0 }
  label m = mix k { unknown 50% }
  finetune f = small on m
  evaluate f, small on d.test using greedy by k2
  knowledge k2 = small on d.test { samples 4  fewShot 0 }
  hypothesis f hallucinates more than small`);

    it('knowledge-other-data: slicing an evaluation by categories of other questions', async () => {
        expectError(await validate(gek('d.train').replace('by k2', 'by k')), /./, { data: code('knowledge-other-data') });
    });
});
