/**
 * language/linking.ts and scope.ts: references that do not resolve say what is unknown, suggest the
 * closest name or how to declare one; a reference of the wrong kind names both kinds.
 */
import { describe, expect, it } from 'vitest';
import { arms, codes, spec, validationFolder, withCode } from './validation/fixtures.js';

const folder = validationFolder('mm-linking-');
const { check } = folder;

describe('references', () => {
    it('unknown-reference: says what is unknown and suggests the closest name', async () => {
        const d = await check(spec(arms.replace('finetune f = small on', 'finetune f = smal on')));
        const [u] = withCode(d, 'unknown-reference');
        expect(u.message).toBe("Unknown model or fine-tuned model 'smal'. Did you mean 'small'?");
        expect(u.data.suggestion).toBe('small');
        expect(u.line).toBe(9);
    });

    it('unknown-reference without a close name says how to declare one (data.declare)', async () => {
        const d = await check(spec(arms.replace('finetune f = small on byLarge', 'finetune f = small on teacherLabels')));
        const [u] = withCode(d, 'unknown-reference');
        expect(u.message).toBe("Unknown label set 'teacherLabels'. Defined: byLarge. To declare it: `label teacherLabels = answers of <model> on <dataset>.train`.");
        expect(u.data.declare).toBe('label teacherLabels = answers of <model> on <dataset>.train');
    });

    it('wrong-reference-type: a dataset where a model is needed', async () => {
        const d = await check(spec(arms.replace('answers of large', 'answers of d')));
        const [u] = withCode(d, 'wrong-reference-type');
        expect(u.message).toMatch(/^'d' is a dataset, but a model or fine-tuned model is needed here/);
        expect(codes(await check(spec(arms)))).not.toContain('wrong-reference-type');
    });

    it("unknown split with the dataset's splits", async () => {
        const d = await check(spec(arms.replace('d.test', 'd.tset')));
        expect(withCode(d, 'unknown-reference')[0].message).toBe("Dataset 'd' has no split 'tset'. Did you mean 'test'?");
        // An unknown dataset is one error, not two.
        const u = await check(spec(arms.replace('on d.test', 'on dd.test')));
        expect(withCode(u, 'unknown-reference').map((x) => x.message)).toEqual(["Unknown dataset 'dd'. Did you mean 'd'?"]);
    });
});
