/**
 * language/validation/hypotheses.ts: a hypothesis compares two arms of one evaluation on the
 * same data and decoding; steps nobody reads or evaluates are named. Langium's validationHelper,
 * diagnostics matched by code, severity and the node they sit on.
 */
import { describe, it } from 'vitest';
import { expectError, expectIssue, expectNoIssues, expectWarning } from 'langium/test';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { arms, code, declarationNamed, spec, validationFolder } from './fixtures.js';

const folder = validationFolder('mm-hypotheses-');
const { validate } = folder;

describe('hypotheses', () => {
    it('arm-not-evaluated', async () => {
        const r = await validate(spec(arms.replace('evaluate f, small on', 'evaluate f on')));
        expectError(r, /'small' is never evaluated/, { data: code('arm-not-evaluated') });
    });

    it('arms-different-data and arms-different-decoding', async () => {
        const two = `  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge
  evaluate f on d.test using greedy
  evaluate small on d.train using greedy
  hypothesis f hallucinates more than small`;
        expectError(await validate(spec(two)), /./, { data: code('arms-different-data') });
        const dec = spec(two.replace('small on d.train using greedy', 'small on d.test using other')).replace(
            'decoding greedy { temperature 0 }',
            'decoding greedy { temperature 0 }\n  decoding other { maxTokens 8 }',
        );
        expectError(await validate(dec), /./, { data: code('arms-different-decoding') });
    });

    it('same-arm, and `in` naming an evaluation that lacks an arm', async () => {
        expectError(await validate(spec(arms.replace('more than small', 'more than f'))), /./, { data: code('same-arm') });
        const r = await validate(spec(arms.replace('evaluate f, small', 'evaluate e = f').replace('more than small', 'more than small in e') + '\n  evaluate small on d.test using greedy'));
        expectError(r, /'small' is not an arm of the evaluation 'e'/, { data: code('arm-not-evaluated') });
    });

    it('no-logprobs: matched coverage on a server model without token probabilities', async () => {
        const server = (logprobs: string) =>
            spec(arms.replace('hallucinates more than small', 'hallucinates more than small at matched coverage'))
                .replace(/model large = .*\n/, `model large = server "http://localhost:8080/v1" { name "big"  logprobs ${logprobs} }\n`)
                .replace(/finetune f = small on byLarge/, 'finetune f = small on byLarge')
                .replace('evaluate f, small on', 'evaluate f, small, large on')
                .replace('more than small at', 'more than large at');
        expectWarning(await validate(server('false')), /./, { data: code('no-logprobs') });
        expectNoIssues(await validate(server('true')), { data: code('no-logprobs') });
    });

    it('finetune-not-evaluated', async () => {
        const r = await validate(spec(arms + '\n  finetune g = small on byLarge'));
        // g is on line 12 (1-based) of the spec
        expectWarning(r, "'g' is fine-tuned but never evaluated; add it to an `evaluate` line or remove it.", {
            node: declarationNamed(r, 'g'),
            property: 'name',
            data: code('finetune-not-evaluated'),
        });
        expectIssue(r, { range: { start: { line: 11, character: 11 }, end: { line: 11, character: 12 } }, data: code('finetune-not-evaluated') });
    });

    it('unused-step: a hint, faded, for declarations no step reads', async () => {
        const r = await validate(spec(arms + '\n  label spare = answers of small on d.train'));
        expectIssue(r, { message: "'spare' is not used by any step.", severity: DiagnosticSeverity.Hint, data: code('unused-step') });
        // the only one
        expectNoIssues(r, { data: code('unused-step'), message: /^(?!'spare' is not used by any step\.$)/ });
        expectNoIssues(await validate(spec(arms)), { data: code('unused-step') });
    });

    it('duplicate-arm', async () => {
        expectWarning(await validate(spec(arms.replace('evaluate f, small', 'evaluate f, small, f'))), /./, { data: code('duplicate-arm') });
    });
});
