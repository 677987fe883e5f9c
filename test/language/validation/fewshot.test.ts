/**
 * Few-shot exemplars that would leak are refused by `mismatch check` (language/validation/fewshot.ts).
 * Langium's validationHelper, diagnostics matched by code, severity and the node they sit on.
 */
import { describe, expect, it } from 'vitest';
import { expectError, expectIssue, expectNoIssues, expectWarning } from 'langium/test';
import type { Declaration, Evaluate } from '../../../language/generated/ast.js';
import { code, expectNoProblems, validationFolder, withCodeOf, type Result } from './fixtures.js';

const folder = validationFolder('mm-fewshot-');
const { validate } = folder;
const evaluateOf = (r: Result) => r.document.parseResult.value.experiments[0]!.declarations.find((d: Declaration): d is Evaluate => d.$type === 'Evaluate')!;

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

describe('few-shot exemplars', () => {
    it('labelling the train split and evaluating the test split with exemplars is clean', async () => {
        const r = await validate(
            spec(
                TT,
                `  label byLarge = answers of large on d.train using shots
  finetune f = small on byLarge
  evaluate f, small on d.test using shots`,
            ),
        );
        // (the embedded models never saw exemplars: a warning, tested below)
        expect(r.diagnostics.filter((d) => d.severity !== 4 && (d.data as { code?: string }).code !== 'fewshot-embedded-model').map((d) => d.message)).toEqual([]);
    });

    it('fewshot-evaluated-split: an evaluation of the split the exemplars come from', async () => {
        const r = await validate(
            spec(
                'split train 50%  split dev 20%  split test 30%',
                `  label byLarge = answers of large on d.dev using greedy
  finetune f = small on byLarge
  evaluate f, small on d.train using shots`,
            ),
        );
        // on the evaluated data of the evaluate line (line 11, 1-based)
        expectError(r, /d\.train, which it evaluates/, { node: evaluateOf(r), property: 'data', data: code('fewshot-evaluated-split') });
        expect(evaluateOf(r).$cstNode!.range.start.line).toBe(10);
        // the same evaluation without exemplars is fine on that account
        const ok = await validate(
            spec(
                'split train 50%  split dev 20%  split test 30%',
                `  label byLarge = answers of large on d.dev using greedy
  finetune f = small on byLarge
  evaluate f, small on d.train using greedy`,
            ),
        );
        expectNoIssues(ok, { data: code('fewshot-evaluated-split') });
    });

    it('fewshot-no-train-split: no train split to draw from', async () => {
        const r = await validate(
            spec(
                'split dev 60%  split test 40%',
                `  label byLarge = answers of large on d.dev using shots
  finetune f = small on byLarge
  evaluate f, small on d.test using greedy`,
            ),
        );
        expectIssue(r, { message: /its splits: dev, test/, data: code('fewshot-no-train-split') });
    });

    it("a knowledge step takes SliCK's 4 exemplars by default, so it needs a train split unless fewShot 0", async () => {
        const body = (k: string) => `  knowledge k = small on d.test ${k}
  label m = mix k { unknown 50% }
  finetune f = small on m
  evaluate f, small on d.test using greedy by k`;
        expectIssue(await validate(spec('split dev 60%  split test 40%', body('{ samples 4  seed 1 }'))), { data: code('fewshot-no-train-split') });
        expectNoIssues(await validate(spec('split dev 60%  split test 40%', body('{ samples 4  seed 1  fewShot 0 }'))), { data: code('fewshot-no-train-split') });
        expectNoIssues(await validate(spec(TT, body('{ samples 4  seed 1 }'))), { data: code('fewshot-no-train-split') });
    });

    it('`by K1, K2`: SliCK of student and teacher; each must categorise the evaluated questions', async () => {
        const body = (kTeacherData: string) => `  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge
  knowledge kS = small on d.test { samples 4  seed 1  fewShot 0 }
  knowledge kT = large on ${kTeacherData} { samples 4  seed 1  fewShot 0 }
  evaluate f, small on d.test using greedy by kS, kT`;
        expectNoProblems(await validate(spec(TT, body('d.test'))));
        const r = await validate(spec(TT, body('d.train')));
        // the only problem
        expect(r.diagnostics.filter((d) => d.severity !== 4)).toHaveLength(1);
        expectIssue(r, { message: /'kT' categorises d\.train/, data: code('knowledge-other-data') });
    });

    it('fewshot-embedded-model: exemplars for a model pretrained here draw a warning', async () => {
        const r = await validate(
            spec(
                TT,
                `  label byLarge = answers of large on d.train using shots
  finetune f = small on byLarge
  evaluate f, small on d.test using greedy`,
            ),
        );
        expect(withCodeOf(r, 'fewshot-embedded-model')).toHaveLength(1);
        expectWarning(r, /'large' was pretrained here/, { data: code('fewshot-embedded-model') });
        // an evaluation of a fine-tune of an embedded model with exemplars: its root model is named
        const e = await validate(
            spec(
                TT,
                `  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge
  evaluate f on d.test using shots`,
            ),
        );
        expect(withCodeOf(e, 'fewshot-embedded-model').map((x) => (x.data as { model?: string }).model)).toEqual(['small']);
    });

    it('match modes squad and triviaqa are accepted; others are not', async () => {
        const ev = (m: string) =>
            spec(
                TT,
                `  label byLarge = answers of large on d.train using greedy { match ${m} }
  finetune f = small on byLarge
  evaluate f, small on d.test using greedy { match ${m} }`,
            );
        expectNoProblems(await validate(ev('squad')));
        expectNoProblems(await validate(ev('triviaqa')));
        expectIssue(await validate(ev('fuzzy')), { data: code('invalid-value') });
    });
});
