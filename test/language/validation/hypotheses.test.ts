/**
 * language/validation/hypotheses.ts: a hypothesis compares two arms of one evaluation on the
 * same data and decoding; steps nobody reads or evaluates are named.
 */
import { describe, expect, it } from 'vitest';
import { arms, codes, spec, validationFolder, withCode } from './fixtures.js';

const folder = validationFolder('mm-hypotheses-');
const { check, checkWithHints } = folder;

describe('hypotheses', () => {
    it('arm-not-evaluated', async () => {
        const d = await check(spec(arms.replace('evaluate f, small on', 'evaluate f on')));
        expect(withCode(d, 'arm-not-evaluated')[0].message).toMatch(/'small' is never evaluated/);
    });

    it('arms-different-data and arms-different-decoding', async () => {
        const two = `  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge
  evaluate f on d.test using greedy
  evaluate small on d.train using greedy
  hypothesis f hallucinates more than small`;
        expect(codes(await check(spec(two)))).toContain('arms-different-data');
        const dec = spec(two.replace('small on d.train using greedy', 'small on d.test using other')).replace('decoding greedy { temperature 0 }', 'decoding greedy { temperature 0 }\n  decoding other { maxTokens 8 }');
        expect(codes(await check(dec))).toContain('arms-different-decoding');
    });

    it('same-arm, and `in` naming an evaluation that lacks an arm', async () => {
        expect(codes(await check(spec(arms.replace('more than small', 'more than f'))))).toContain('same-arm');
        const d = await check(spec(arms.replace('evaluate f, small', 'evaluate e = f').replace('more than small', 'more than small in e') + '\n  evaluate small on d.test using greedy'));
        expect(withCode(d, 'arm-not-evaluated')[0].message).toMatch(/'small' is not an arm of the evaluation 'e'/);
    });

    it('no-logprobs: matched coverage on a server model without token probabilities', async () => {
        const server = (logprobs: string) => spec(arms.replace('hallucinates more than small', 'hallucinates more than small at matched coverage'))
            .replace(/model large = .*\n/, `model large = server "http://localhost:8080/v1" { name "big"  logprobs ${logprobs} }\n`)
            .replace(/finetune f = small on byLarge/, 'finetune f = small on byLarge')
            .replace('evaluate f, small on', 'evaluate f, small, large on')
            .replace('more than small at', 'more than large at');
        expect(withCode(await check(server('false')), 'no-logprobs')[0].severity).toBe(2);
        expect(codes(await check(server('true')))).not.toContain('no-logprobs');
    });

    it('finetune-not-evaluated', async () => {
        const d = await check(spec(arms + '\n  finetune g = small on byLarge'));
        const [w] = withCode(d, 'finetune-not-evaluated');
        expect(w.message).toBe("'g' is fine-tuned but never evaluated; add it to an `evaluate` line or remove it.");
        expect(w.line).toBe(12);
    });

    it('unused-step: a hint, faded, for declarations no step reads', async () => {
        const d = await checkWithHints(spec(arms + '\n  label spare = answers of small on d.train'));
        const hints = withCode(d, 'unused-step');
        expect(hints.map((h) => h.message)).toEqual(["'spare' is not used by any step."]);
        expect(hints[0].severity).toBe(4);
        expect(withCode(await checkWithHints(spec(arms)), 'unused-step')).toEqual([]);
    });

    it('duplicate-arm', async () => {
        expect(codes(await check(spec(arms.replace('evaluate f, small', 'evaluate f, small, f'))))).toContain('duplicate-arm');
    });
});
