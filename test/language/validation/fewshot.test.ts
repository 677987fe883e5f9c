/** Few-shot exemplars that would leak are refused by `mismatch check` (language/validation/fewshot.ts). */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codes, diagnose } from '../helpers.js';

let dir = '';
let n = 0;
const check = async (text: string) => (await diagnose(text, join(dir, `spec-${++n}.mismatch`))).filter((d) => d.severity !== 4);

const spec = (splits: string, body: string) => `experiment T {
  seed 1
  world atlas { entities 100 }
  dataset d from atlas { ${splits} }
  model large = pretrain on atlas { layers 4  width 128  knows 90% }
  model small = pretrain on atlas { layers 2  width 128  knows 40% }
  decoding greedy { temperature 0 }
  decoding shots { temperature 0  fewShot 4 }
${body}
}`;
const TT = 'split train 60%  split test 40%';

beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mm-fewshot-'));
});

describe('few-shot exemplars', () => {
    it('labelling the train split and evaluating the test split with exemplars is clean', async () => {
        const d = await check(spec(TT, `  label byLarge = answers of large on d.train using shots
  finetune f = small on byLarge
  evaluate f, small on d.test using shots`));
        // (the embedded models never saw exemplars: a warning, tested below)
        expect(codes(d).filter((c) => c !== 'fewshot-embedded-model')).toEqual([]);
    });

    it('fewshot-evaluated-split: an evaluation of the split the exemplars come from', async () => {
        const d = await check(spec('split train 50%  split dev 20%  split test 30%', `  label byLarge = answers of large on d.dev using greedy
  finetune f = small on byLarge
  evaluate f, small on d.train using shots`));
        expect(codes(d)).toContain('fewshot-evaluated-split');
        const e = d.find((x) => x.code === 'fewshot-evaluated-split')!;
        expect(e.severity).toBe(1);
        expect(e.line).toBe(11); // the evaluate line
        expect(e.message).toMatch(/d\.train, which it evaluates/);
        // the same evaluation without exemplars is fine on that account
        const ok = await check(spec('split train 50%  split dev 20%  split test 30%', `  label byLarge = answers of large on d.dev using greedy
  finetune f = small on byLarge
  evaluate f, small on d.train using greedy`));
        expect(codes(ok)).not.toContain('fewshot-evaluated-split');
    });

    it('fewshot-no-train-split: no train split to draw from', async () => {
        const d = await check(spec('split dev 60%  split test 40%', `  label byLarge = answers of large on d.dev using shots
  finetune f = small on byLarge
  evaluate f, small on d.test using greedy`));
        expect(codes(d)).toContain('fewshot-no-train-split');
        expect(d.find((x) => x.code === 'fewshot-no-train-split')!.message).toMatch(/its splits: dev, test/);
    });

    it('a knowledge step takes SliCK\'s 4 exemplars by default, so it needs a train split unless fewShot 0', async () => {
        const body = (k: string) => `  knowledge k = small on d.test ${k}
  label m = mix k { unknown 50% }
  finetune f = small on m
  evaluate f, small on d.test using greedy by k`;
        expect(codes(await check(spec('split dev 60%  split test 40%', body('{ samples 4  seed 1 }'))))).toContain('fewshot-no-train-split');
        expect(codes(await check(spec('split dev 60%  split test 40%', body('{ samples 4  seed 1  fewShot 0 }'))))).not.toContain('fewshot-no-train-split');
        expect(codes(await check(spec(TT, body('{ samples 4  seed 1 }'))))).not.toContain('fewshot-no-train-split');
    });

    it('`by K1, K2`: SliCK of student and teacher; each must categorise the evaluated questions', async () => {
        const body = (kTeacherData: string) => `  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge
  knowledge kS = small on d.test { samples 4  seed 1  fewShot 0 }
  knowledge kT = large on ${kTeacherData} { samples 4  seed 1  fewShot 0 }
  evaluate f, small on d.test using greedy by kS, kT`;
        expect(codes(await check(spec(TT, body('d.test'))))).toEqual([]);
        const d = await check(spec(TT, body('d.train')));
        expect(codes(d)).toEqual(['knowledge-other-data']);
        expect(d[0].message).toMatch(/'kT' categorises d\.train/);
    });

    it('fewshot-embedded-model: exemplars for a model pretrained here draw a warning', async () => {
        const d = await check(spec(TT, `  label byLarge = answers of large on d.train using shots
  finetune f = small on byLarge
  evaluate f, small on d.test using greedy`));
        const w = d.filter((x) => x.code === 'fewshot-embedded-model');
        expect(w).toHaveLength(1);
        expect(w[0].severity).toBe(2);
        expect(w[0].message).toMatch(/'large' was pretrained here/);
        // an evaluation of a fine-tune of an embedded model with exemplars: its root model is named
        const e = await check(spec(TT, `  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge
  evaluate f on d.test using shots`));
        expect(e.filter((x) => x.code === 'fewshot-embedded-model').map((x) => x.data.model)).toEqual(['small']);
    });

    it('match modes squad and triviaqa are accepted; others are not', async () => {
        const ev = (m: string) => spec(TT, `  label byLarge = answers of large on d.train using greedy { match ${m} }
  finetune f = small on byLarge
  evaluate f, small on d.test using greedy { match ${m} }`);
        expect(codes(await check(ev('squad')))).toEqual([]);
        expect(codes(await check(ev('triviaqa')))).toEqual([]);
        expect(codes(await check(ev('fuzzy')))).toContain('invalid-value');
    });
});
