/**
 * language/validation/properties.ts: property blocks checked against their specs (names, types,
 * units, ranges, modes), each rule with a positive and a negative case. Langium's
 * validationHelper, diagnostics matched by code, message and data.
 */
import { describe, expect, it } from 'vitest';
import { expectIssue, expectNoIssues, expectWarning } from 'langium/test';
import { arms, code, expectNoProblems, spec, validationFolder, withCodeOf } from './fixtures.js';

const folder = validationFolder('mm-properties-');
const { validate } = folder;

describe('properties', () => {
    it('unknown-property with "did you mean"', async () => {
        const r = await validate(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora rank 8  learnigRate 1e-3 }')));
        expectIssue(r, { message: /Unknown property `learnigRate` for a fine-tune. Did you mean `learningRate`\?/, data: { code: 'unknown-property', suggestion: 'learningRate' } });
    });

    it('duplicate-property', async () => {
        const r = await validate(spec(arms).replace('decoding greedy { temperature 0 }', 'decoding greedy { temperature 0  temperature 0 }'));
        expectIssue(r, { data: code('duplicate-property') });
    });

    it('missing-unit: a share written without %', async () => {
        const r = await validate(spec(arms).replace('knows 40%', 'knows 40'));
        expectIssue(r, { message: '`knows` is a share: did you mean `40%`?', data: { code: 'missing-unit', replacement: '40%' } });
        const s = await validate(spec(arms).replace('split test 40%', 'split test 0.4'));
        expectIssue(s, { data: { code: 'missing-unit', replacement: '40%' } });
    });

    it('out-of-range hyperparameters: learning rate <= 0, rank <= 0, temperature < 0, epochs not a positive integer', async () => {
        const r = await validate(
            spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora rank 0  epochs 2.5  learningRate 0 }')).replace('temperature 0 }', 'temperature -0.5 }'),
        );
        for (const message of [
            '`rank` must be at least 1 (and at most 1024); it is 0.',
            '`epochs` must be a whole number, not 2.5.',
            '`learningRate` must be greater than 0 (and at most 1); it is 0.',
            '`temperature` must be at least 0 (and at most 5); it is -0.5.',
        ])
            expectIssue(r, { message, data: code('out-of-range') });
        const ok = await validate(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora rank 8  epochs 3  learningRate 1e-3 }')));
        expectNoIssues(ok, { data: code('out-of-range') });
        const zeroEpochs = await validate(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { epochs 0 }')));
        expectIssue(zeroEpochs, { message: /`epochs` must be at least 1/, data: code('out-of-range') });
    });

    it('invalid-value: wrong types and enum values', async () => {
        const r = await validate(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { schedule sometimes  epochs "3" }')));
        expect(withCodeOf(r, 'invalid-value').map((x) => x.message)).toEqual(['`schedule` is one of `constant`, `linear`, `cosine`.', '`epochs` needs a number.']);
    });

    it('misplaced-item, conflicting-mode, ignored-property', async () => {
        const r = await validate(
            spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora full }')).replace(
                'decoding greedy { temperature 0 }',
                'decoding greedy { temperature 0  split x 10%  lora }',
            ),
        );
        expect(withCodeOf(r, 'misplaced-item')).toHaveLength(2);
        expect(withCodeOf(r, 'conflicting-mode')).toHaveLength(2);
        const full = await validate(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { full  rank 8 }')));
        expectWarning(full, /./, { data: code('ignored-property') });
        const lora = await validate(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora  rank 8 }')));
        expectNoProblems(lora);
    });

    it('invalid-value: templates without {question}, empty or broken abstention patterns, URLs that are not http(s)', async () => {
        const t = await validate(spec(arms).replace('decoding greedy { temperature 0 }', 'decoding greedy { temperature 0  template "Q: {q}"  stop "" }'));
        expect(withCodeOf(t, 'invalid-value').map((x) => x.message)).toEqual([
            'A prompt template is `raw`, `chat` or a string with `{question}` where the question goes, e.g. `"Q: {question}\\nA:"`.',
            'An empty string in `stop` would match every answer.',
        ]);
        expectNoProblems(await validate(spec(arms).replace('decoding greedy { temperature 0 }', 'decoding greedy { temperature 0  template "Q: {question}\\nA:" }')));
        const a = await validate(spec(arms.replace('evaluate f, small on d.test using greedy', 'evaluate f, small on d.test using greedy { abstain "I don\'t know", "/unsure(/i" }')));
        expectIssue(a, { message: /^`\/unsure\(\/i` is not a valid pattern/, data: code('invalid-value') });
        const u = await validate(
            spec(arms)
                .replace(/model large = .*\n/, 'model large = server "localhost:8080/v1" { name "big" }\n')
                .replace('evaluate f, small', 'evaluate f, small, large'),
        );
        expectIssue(u, { message: /'localhost:8080\/v1' is not an http\(s\) URL/, data: { code: 'invalid-value', replacement: '"http://localhost:8080/v1"' } });
    });

    it('width must be a multiple of heads', async () => {
        const r = await validate(spec(arms).replace('layers 2  width 128', 'layers 2  width 100  heads 3'));
        expectIssue(r, { message: '`width` (100) must be a multiple of `heads` (3).', data: code('out-of-range') });
    });
});
