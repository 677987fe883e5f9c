/**
 * language/validation/properties.ts: property blocks checked against their specs (names, types,
 * units, ranges, modes), each rule with a positive and a negative case.
 */
import { describe, expect, it } from 'vitest';
import { arms, codes, spec, validationFolder, withCode } from './fixtures.js';

const folder = validationFolder('mm-properties-');
const { check } = folder;

describe('properties', () => {
    it('unknown-property with "did you mean"', async () => {
        const d = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora rank 8  learnigRate 1e-3 }')));
        const [u] = withCode(d, 'unknown-property');
        expect(u.message).toMatch(/Unknown property `learnigRate` for a fine-tune. Did you mean `learningRate`\?/);
        expect(u.data.suggestion).toBe('learningRate');
    });

    it('duplicate-property', async () => {
        const d = await check(spec(arms).replace('decoding greedy { temperature 0 }', 'decoding greedy { temperature 0  temperature 0 }'));
        expect(codes(d)).toContain('duplicate-property');
    });

    it('missing-unit: a share written without %', async () => {
        const d = await check(spec(arms).replace('knows 40%', 'knows 40'));
        const [m] = withCode(d, 'missing-unit');
        expect(m.message).toBe('`knows` is a share: did you mean `40%`?');
        expect(m.data.replacement).toBe('40%');
        const s = await check(spec(arms).replace('split test 40%', 'split test 0.4'));
        expect(withCode(s, 'missing-unit')[0].data.replacement).toBe('40%');
    });

    it('out-of-range hyperparameters: learning rate <= 0, rank <= 0, temperature < 0, epochs not a positive integer', async () => {
        const d = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora rank 0  epochs 2.5  learningRate 0 }')).replace('temperature 0 }', 'temperature -0.5 }'));
        const messages = withCode(d, 'out-of-range').map((x) => x.message);
        expect(messages).toEqual(expect.arrayContaining([
            '`rank` must be at least 1 (and at most 1024); it is 0.',
            '`epochs` must be a whole number, not 2.5.',
            '`learningRate` must be greater than 0 (and at most 1); it is 0.',
            '`temperature` must be at least 0 (and at most 5); it is -0.5.',
        ]));
        const ok = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora rank 8  epochs 3  learningRate 1e-3 }')));
        expect(codes(ok)).not.toContain('out-of-range');
        const zeroEpochs = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { epochs 0 }')));
        expect(withCode(zeroEpochs, 'out-of-range')[0].message).toMatch(/`epochs` must be at least 1/);
    });

    it('invalid-value: wrong types and enum values', async () => {
        const d = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { schedule sometimes  epochs "3" }')));
        const messages = withCode(d, 'invalid-value').map((x) => x.message);
        expect(messages).toEqual(['`schedule` is one of `constant`, `linear`, `cosine`.', '`epochs` needs a number.']);
    });

    it('misplaced-item, conflicting-mode, ignored-property', async () => {
        const d = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora full }')).replace('decoding greedy { temperature 0 }', 'decoding greedy { temperature 0  split x 10%  lora }'));
        expect(codes(d).filter((c) => c === 'misplaced-item')).toHaveLength(2);
        expect(codes(d).filter((c) => c === 'conflicting-mode')).toHaveLength(2);
        const full = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { full  rank 8 }')));
        expect(withCode(full, 'ignored-property')[0].severity).toBe(2);
        const lora = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on byLarge { lora  rank 8 }')));
        expect(codes(lora)).toEqual([]);
    });

    it('invalid-value: templates without {question}, empty or broken abstention patterns, URLs that are not http(s)', async () => {
        const t = await check(spec(arms).replace('decoding greedy { temperature 0 }', 'decoding greedy { temperature 0  template "Q: {q}"  stop "" }'));
        expect(withCode(t, 'invalid-value').map((x) => x.message)).toEqual([
            'A prompt template is `raw`, `chat` or a string with `{question}` where the question goes, e.g. `"Q: {question}\\nA:"`.',
            'An empty string in `stop` would match every answer.',
        ]);
        expect(codes(await check(spec(arms).replace('decoding greedy { temperature 0 }', 'decoding greedy { temperature 0  template "Q: {question}\\nA:" }')))).toEqual([]);
        const a = await check(spec(arms.replace('evaluate f, small on d.test using greedy', 'evaluate f, small on d.test using greedy { abstain "I don\'t know", "/unsure(/i" }')));
        expect(withCode(a, 'invalid-value')[0].message).toMatch(/^`\/unsure\(\/i` is not a valid pattern/);
        const u = await check(spec(arms).replace(/model large = .*\n/, 'model large = server "localhost:8080/v1" { name "big" }\n').replace('evaluate f, small', 'evaluate f, small, large'));
        const [bad] = withCode(u, 'invalid-value');
        expect(bad.message).toMatch(/'localhost:8080\/v1' is not an http\(s\) URL/);
        expect(bad.data.replacement).toBe('"http://localhost:8080/v1"');
    });

    it('width must be a multiple of heads', async () => {
        const d = await check(spec(arms).replace('layers 2  width 128', 'layers 2  width 100  heads 3'));
        expect(withCode(d, 'out-of-range')[0].message).toBe('`width` (100) must be a multiple of `heads` (3).');
    });
});
