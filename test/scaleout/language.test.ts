// Naming an external trainer on a finetune step: the Plan carries it (and only then, so the keys of
// every other fine-tune stay what they were), and the validator refuses what cannot be exported.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FinetuneStep, Plan } from '../../language/plan-types.js';
import { diagnose, parse, services } from '../language/helpers.js';
import { readGguf, readTensorF32, writeGguf, type GgufTensorOut } from '../../engine/train/gguf.js';
import { makeTinyModel, tempDir, writeQuestionsJsonl } from '../engine/fixtures.js';

const sketch = readFileSync('test/language/fixtures/sketch.mismatch', 'utf8');
const line = 'finetune smallOnLarge = small on byLarge { lora rank 8  epochs 3  learningRate 1e-3 }';
const withBody = (body: string) => {
    expect(sketch).toContain(line);
    return sketch.replace(line, `finetune smallOnLarge = small on byLarge { lora rank 8  epochs 3  learningRate 1e-3 ${body} }`);
};
let n = 0;
async function planOf(text: string): Promise<Plan> {
    const doc = await parse(text, { validation: true, documentUri: `file:///tmp/spec/scaleout-${++n}.mismatch` });
    expect((doc.diagnostics ?? []).filter((d) => d.severity === 1).map((d) => d.message)).toEqual([]);
    return services.plan.PlanService.buildPlan(doc);
}
const ftOf = (p: Plan) => p.steps.find((s) => s.id === 'smallOnLarge') as FinetuneStep;

describe('finetune { trainer trl|axolotl }', () => {
    it('puts the trainer, the model id and the dropout in the plan; the embedded default keeps its key', async () => {
        const plain = await planOf(sketch);
        const explicit = await planOf(withBody('trainer embedded'));
        expect(ftOf(plain).params.external).toBeUndefined();
        expect(ftOf(explicit).key).toBe(ftOf(plain).key);
        const trl = await planOf(withBody('trainer trl  hfModel "meta-llama/Llama-2-7b-hf"  dropout 0.05'));
        expect(ftOf(trl).params.external).toEqual({ engine: 'trl', hfModel: 'meta-llama/Llama-2-7b-hf', dropout: 0.05 });
        expect(ftOf(trl).key).not.toBe(ftOf(plain).key);
        const axo = await planOf(withBody('trainer axolotl  hfModel "/models/llama"'));
        expect(ftOf(axo).params.external).toEqual({ engine: 'axolotl', hfModel: '/models/llama', dropout: 0 });
        expect(ftOf(axo).key).not.toBe(ftOf(trl).key);
    });

    it('refuses what cannot be exported, on the property that says it', async () => {
        const errs = async (body: string) => (await diagnose(withBody(body))).filter((d) => d.code === 'external-trainer').map((d) => d.message);
        expect(await errs('trainer trl')).toEqual([expect.stringMatching(/`trainer trl` needs the base model as the trainer loads it: add `hfModel/)]);
        expect(await errs('full  trainer axolotl  hfModel "x/y"')).toEqual([expect.stringMatching(/trains LoRA adapters only/)]);
        expect(await errs('trainer axolotl  hfModel "x/y"  alpha 12.5')).toEqual([expect.stringMatching(/Axolotl's `lora_alpha` is a whole number/)]);
        expect(await errs('trainer trl  hfModel "x/y"  alpha 12.5')).toEqual([]);
        expect(await errs('dropout 0.1')).toEqual([expect.stringMatching(/The embedded trainer has no LoRA dropout/)]);
        expect(await errs('hfModel "x/y"')).toEqual([expect.stringMatching(/`hfModel` names the base model for an external trainer/)]);
        expect((await diagnose(withBody('trainer deepspeed'))).some((d) => d.code === 'invalid-value' && /`trainer` is one of `embedded`, `trl`, `axolotl`/.test(d.message))).toBe(true);
    });

    it('a base the embedded trainer cannot LoRA-train is fine for an external trainer (llama.cpp applies the adapter to any type)', async () => {
        const dir = tempDir('mm-ext-lang-');
        writeQuestionsJsonl(dir);
        const src = readGguf(makeTinyModel(dir, 1, 'src'));
        // one matrix in Q8_1, a type the embedded trainer's LoRA path does not take
        const tensors: GgufTensorOut[] = src.tensors.map((t) =>
            t.name === 'blk.0.ffn_down.weight'
                ? { name: t.name, shape: t.shape, data: new Uint8Array(((t.shape[0] * t.shape[1]) / 32) * 36), type: { ggml: 9 } }
                : { name: t.name, shape: t.shape, data: readTensorF32(src, t.name), type: 'f32' },
        );
        writeGguf(join(dir, 'q81.gguf'), src.typed, tensors);
        const spec = (body: string) => `experiment E {
  dataset d from "questions.jsonl" { answers "answer"  split train 50%  split test 50% }
  model m = gguf "q81.gguf"
  label l = answers of m on d.train
  finetune f = m on l { lora rank 4 ${body} }
  evaluate f on d.test
}`;
        const embedded = (await diagnose(spec(''), join(dir, 'embedded.mismatch'))).filter((d) => d.severity === 1);
        expect(embedded.map((d) => d.code)).toEqual(['quantized-finetune']);
        expect(embedded[0].message).toMatch(/cannot be LoRA-trained: tensor blk\.0\.ffn_down\.weight is Q8_1/);
        expect((await diagnose(spec('trainer trl  hfModel "x/y"'), join(dir, 'trl.mismatch'))).filter((d) => d.severity === 1)).toEqual([]);
    });
});
