/**
 * language/validation/sampling.ts: sampling above temperature 0 needs a seed somewhere (the decoding,
 * the knowledge step or the experiment). Langium's validationHelper, diagnostics matched by code,
 * severity and the node they sit on.
 */
import { afterEach, describe, it } from 'vitest';
import { clearDocuments, expectNoIssues, expectWarning, validationHelper, type ValidationResult } from 'langium/test';
import { GrammarUtils } from 'langium';
import type { Decoding, Knowledge, MismatchFile } from '../../../language/generated/ast.js';
import { propertiesOf } from '../../../language/properties.js';
import { services } from '../helpers.js';

const validate = validationHelper<MismatchFile>(services);
let result: ValidationResult<MismatchFile> | undefined;
// Node 20 has no Symbol.asyncDispose: documents are cleared by hand.
const dispose = async () => {
    if (result) await clearDocuments(services, [result.document]);
    result = undefined;
};
afterEach(dispose);

const spec = (decoding: string, header = '', extra = '') => `experiment T {
${header}
  world atlas { entities 100 }
  dataset d from atlas { split train 60%  split test 40% }
  model small = pretrain on atlas { layers 2  width 128  knows 40% }
  decoding sampled { ${decoding} }
  evaluate small on d.test using sampled
${extra}
}`;

const declarations = (r: ValidationResult<MismatchFile>) => r.document.parseResult.value.experiments[0]!.declarations;
const decodingOf = (r: ValidationResult<MismatchFile>) => declarations(r).find((d): d is Decoding => d.$type === 'Decoding')!;
const temperatureOf = (d: Decoding) => propertiesOf(d.body).find((p) => p.key === 'temperature')!;
const unseeded = { code: 'unseeded-sampling', insert: 'seed 1' };

describe('unseeded-sampling', () => {
    it('warns on the temperature of a decoding that samples with no seed anywhere, offering `seed 1`', async () => {
        result = await validate(spec('temperature 0.7'));
        expectWarning(result, /^Sampling at temperature 0\.7 without a seed/, { node: temperatureOf(decodingOf(result)), property: 'key', data: unseeded });
    });

    it('is quiet for greedy decoding, a seeded decoding and a seeded experiment', async () => {
        for (const text of [spec('temperature 0'), spec('temperature 0.7  seed 3'), spec('temperature 0.7', '  seed 1')]) {
            result = await validate(text);
            expectNoIssues(result, { data: unseeded });
            await dispose();
        }
    });

    it('warns on a knowledge step that samples (its default temperature is 0.5) with no seed', async () => {
        result = await validate(spec('temperature 0', '', '  knowledge small on d.train { samples 10 }'));
        const k = declarations(result).find((d): d is Knowledge => d.$type === 'Knowledge')!;
        // an unnamed step without a temperature of its own: on its keyword
        const keyword = GrammarUtils.findNodeForKeyword(k.$cstNode, 'knowledge')!;
        expectWarning(result, /samples 10 answers at temperature 0\.5 without a seed/, { range: keyword.range, data: unseeded });
    });
});
