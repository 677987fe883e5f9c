import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { URI } from 'langium';
import { parse, errorsOf } from './helpers.js';
import { isExperiment } from '../../language/generated/ast.js';

// Files only: examples/.mismatch/ is the run store of the examples.
const examples = readdirSync('examples', { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.mismatch'))
    .map((e) => e.name);

describe('parsing', () => {
    it.each(examples)('parses examples/%s without syntax errors', async (file) => {
        const doc = await parse(readFileSync(join('examples', file), 'utf8'));
        expect(errorsOf(doc)).toEqual([]);
        expect(doc.parseResult.value.experiments.length + doc.parseResult.value.declarations.length).toBeGreaterThan(0);
    });

    it.each(examples)('examples/%s validates without errors', async (file) => {
        const doc = await parse(readFileSync(join('examples', file), 'utf8'), { validation: true, documentUri: URI.file(resolve('examples', `.check-${file}`)).toString() });
        expect((doc.diagnostics ?? []).filter((d) => d.severity === 1).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    });

    it('parses every form the language offers', async () => {
        const doc = await parse(`
import "common.mismatch"
/* block comment */
experiment All {
  seed 7
  seeds 5
  alpha 0.05
  world atlas { entities 10k  relations capital, founder, river }
  dataset trivia from atlas { split train 60%  split test 40% }
  dataset tqa from "data/triviaqa.jsonl" { question "question"  answers "answer.aliases"  split train 800  split test 200 }
  model large = gguf "models/llama-2-13b.f16.gguf"
  model remote = server "http://127.0.0.1:8080/v1" { name "llama-2-13b"  logprobs true }
  model small = pretrain on atlas { layers 4  width 128  knows 75% }
  decoding greedy { temperature 0  maxTokens 24  stop "\\n", "." }
  decoding sampled { temperature 0.5  seed 3 }
  label byLarge = answers of large on trivia.train using greedy { otherwise "I don't know" }
  label s = shuffle byLarge { seed 11 }
  knowledge k = small on trivia.train { samples 10  temperature 0.5 }
  knowledge small on trivia.train using sampled { samples 10 }
  label unknown50 = mix k { unknown 50%  size 400 }
  finetune f = small on labels { lora rank 8  epochs 3  learningRate 1e-3  batch 8 }
  finetune g = small on unknown50 { full  epochs 2  learningRate 1e-4 }
  evaluate f, g, small on trivia.test using greedy { abstain "I don't know" }
  evaluate e2 = f, g on trivia.test using greedy by k
  hypothesis f hallucinates more than g
  hypothesis f hallucinates less than g at matched coverage
  hypothesis h = f hallucinates more than g at matched coverage in e2 { alpha 0.01 }
}`);
        expect(errorsOf(doc)).toEqual([]);
        const exp = doc.parseResult.value.experiments[0];
        expect(isExperiment(exp)).toBe(true);
        expect(exp.declarations.map((d) => d.$type)).toEqual([
            'World',
            'Dataset',
            'Dataset',
            'Model',
            'Model',
            'Model',
            'Decoding',
            'Decoding',
            'Label',
            'Shuffle',
            'Knowledge',
            'Knowledge',
            'Mix',
            'Finetune',
            'Finetune',
            'Evaluate',
            'Evaluate',
            'Hypothesis',
            'Hypothesis',
            'Hypothesis',
        ]);
    });

    it('reports half-typed text as syntax errors, without throwing', async () => {
        for (const text of [
            'experiment',
            'experiment X {',
            'experiment X { model m = ',
            'label x = answers of',
            '\u0000\u0001binary',
            '{{{{}}}}',
            'experiment X { dataset d from atlas { split train } }',
        ]) {
            const doc = await parse(text);
            expect(errorsOf(doc).length).toBeGreaterThan(0);
        }
    });
});

describe('syntax errors', () => {
    const first = async (text: string) => errorsOf(await parse(text))[0].replace(/^(\d+|NaN):(\d+|NaN) /, '');
    it("say what was expected in the language's terms", async () => {
        expect(await first('experiment E {\n  model m = \n}')).toBe(
            'Expected `gguf`, `server` or `pretrain` after `=`, but found `}`. A model is `gguf "file.gguf"`, `server "http://…/v1"` or `pretrain on <world>`.',
        );
        expect(await first('experiment E {\n  dataset d from atlas { split train }\n}')).toMatch(/^Expected a number \(e.g. `8`, `60%`, `1e-3`\) after `train`, but found `}`. A split is/);
        expect(await first('experiment E {\n  world w { entities 10 \n')).toBe('Missing `}`: a block opened with `{` is not closed before the end of the file.');
        expect(await first('experiment E {\n  hypothesis a hallucinates than b\n}')).toMatch(/^Expected `more` or `less` after `hallucinates`, but found `than`/);
        expect(await first('experiment E {} }')).toMatch(/^Unexpected `}`: a file holds/);
    });
});

describe('the README', () => {
    it('shows a spec that checks clean', async () => {
        const readme = readFileSync('README.md', 'utf8');
        const section = readme.slice(readme.indexOf('## The language at a glance'));
        const block = /```\n(experiment[\s\S]*?)```/.exec(section)?.[1];
        expect(block).toBeDefined();
        const doc = await parse(block!, { validation: true });
        expect(doc.diagnostics?.map((d) => d.message)).toEqual([]);
    });
});
