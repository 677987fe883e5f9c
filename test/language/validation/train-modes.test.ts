/**
 * What a GGUF can be fine-tuned with, read from its header: `quantized-finetune` only concerns full
 * fine-tuning (LoRA trains on the quantized file), `unsupported-architecture` names the architecture
 * on the fine-tune's model reference, and the hover on a GGUF model says which modes it supports.
 * Each rule with a positive and a negative case. The files are headers with tensors of the stated
 * ggml types (the data is never read).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { URI } from 'langium';
import { expectError, expectHover, expectNoIssues } from 'langium/test';
import type { Finetune } from '../../../language/generated/ast.js';
import { writeGguf, gv, GgmlType, tensorNBytes, type GgufTensorOut } from '../../../engine/train/gguf.js';
import { services } from '../helpers.js';
import { code, declarationNamed, expectNoProblems, validationFolder, type Result } from './fixtures.js';

const folder = validationFolder('mm-train-modes-');
let dir = '';
let n = 0;
const hover = expectHover(services);
/** The fine-tune `f`: the checks report on its model reference (line 9). */
const finetune = (r: Result) => declarationNamed(r, 'f') as Finetune;

/** A GGUF header with one layer's matrices of `type` (norms F32), `arch` and `fileType`. */
function gguf(name: string, arch: string, type: number, fileType: number): string {
    const path = join(dir, name);
    const width = 256;
    const t = (tname: string, shape: number[], ty: number): GgufTensorOut => {
        const count = shape.reduce((a, b) => a * b, 1);
        if (ty === GgmlType.F32) return { name: tname, shape, data: new Float32Array(count), type: 'f32' };
        if (ty === GgmlType.F16) return { name: tname, shape, data: new Uint16Array(count), type: 'f16' };
        return { name: tname, shape, data: new Uint8Array(tensorNBytes(ty, shape)), type: { ggml: ty } };
    };
    writeGguf(
        path,
        [
            ['general.architecture', gv.str(arch)],
            ['general.file_type', gv.u32(fileType)],
            [`${arch}.context_length`, gv.u32(256)],
            [`${arch}.embedding_length`, gv.u32(width)],
            [`${arch}.block_count`, gv.u32(1)],
        ],
        [
            t('token_embd.weight', [width, 64], type),
            t('blk.0.attn_norm.weight', [width], GgmlType.F32),
            t('blk.0.attn_q.weight', [width, width], type),
            t('blk.0.ffn_down.weight', [width, width], type === GgmlType.Q4_K ? GgmlType.Q6_K : type),
        ],
    );
    return path;
}

const spec = (student: string, mode = '') => `experiment T {
  seed 1
  world atlas { entities 100 }
  dataset d from atlas { split train 60%  split test 40% }
  model large = pretrain on atlas { layers 4  width 128  knows 90% }
  model small = gguf "${student}"
  decoding greedy { temperature 0 }
  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge {${mode} }
  evaluate f, small on d.test using greedy
  hypothesis f hallucinates more than small
}`;
const { validate } = folder;

beforeAll(() => {
    dir = folder.dir;
    gguf('q4km.gguf', 'llama', GgmlType.Q4_K, 15); // Q4_K_M: Q4_K and Q6_K matrices
    gguf('q8.gguf', 'qwen2', GgmlType.Q8_0, 7);
    gguf('f16.gguf', 'llama', GgmlType.F16, 1);
    gguf('gemma.gguf', 'gemma2', GgmlType.F16, 1);
    gguf('q81.gguf', 'llama', GgmlType.Q8_1, 7); // Q8_1: a type ggml has no out_prod path the trainer uses
});

describe('quantized-finetune concerns full fine-tuning only', () => {
    it('full on a Q4_K_M file: an error on the model reference that says to drop `full`', async () => {
        const r = await validate(spec('q4km.gguf', '  full'));
        expectError(r, /'small' is quantized \(Q4_K_M\); full fine-tuning needs F32, F16 or BF16 weights\. Drop `full` to train LoRA/, {
            node: finetune(r),
            property: 'model',
            data: code('quantized-finetune'),
        });
        expect(finetune(r).$cstNode!.range.start.line).toBe(8); // the finetune line (9, 1-based)
    });

    it('LoRA (the default, or `lora`) on Q4_K_M and Q8_0 files: no diagnostic', async () => {
        expectNoIssues(await validate(spec('q4km.gguf')), { data: code('quantized-finetune') });
        expectNoIssues(await validate(spec('q8.gguf', '  lora rank 8')), { data: code('quantized-finetune') });
        expectNoProblems(await validate(spec('f16.gguf', '  full')));
    });

    it('LoRA on a tensor type the trainer cannot run on: the error names the tensor and its type', async () => {
        const r = await validate(spec('q81.gguf'));
        expectError(r, /'small' cannot be LoRA-trained: tensor token_embd.weight is Q8_1, a type LoRA training cannot run on \(it can: F32, F16, BF16, Q4_0.*Q6_K\)/, {
            node: finetune(r),
            property: 'model',
            data: code('quantized-finetune'),
        });
    });
});

describe('unsupported-architecture', () => {
    it('names the architecture, on the fine-tune line', async () => {
        const r = await validate(spec('gemma.gguf'));
        expectError(r, /'small' is a gemma2 model; the trainer implements llama \(Llama 2, Llama 3\.x, TinyLlama, Mistral\) and qwen2/, {
            node: finetune(r),
            property: 'model',
            data: { code: 'unsupported-architecture', architecture: 'gemma2' },
        });
        expect(finetune(r).$cstNode!.range.start.line).toBe(8);
        // it is not also called quantized
        expectNoIssues(r, { data: code('quantized-finetune') });
    });

    it('llama and qwen2 files get none', async () => {
        expectNoIssues(await validate(spec('f16.gguf')), { data: code('unsupported-architecture') });
        expectNoIssues(await validate(spec('q8.gguf')), { data: code('unsupported-architecture') });
    });
});

describe('hover on a GGUF model says which fine-tuning modes it supports', () => {
    const at = (file: string) => ({
        text: `experiment E {\n  model <|>m = gguf "${file}"\n}`,
        index: 0,
        parseOptions: { documentUri: URI.file(join(dir, `hover-${++n}.mismatch`)).toString() },
        disposeAfterCheck: true,
    });
    it('LoRA and full for F16; LoRA only for Q4_K_M and Q8_0; none for gemma2', async () => {
        await hover({ ...at('f16.gguf'), hover: /fine-tuning \| LoRA and full/ });
        await hover({
            ...at('q4km.gguf'),
            hover: /quantization \| Q4_K_M[\s\S]*fine-tuning \| LoRA only \(full: tensor token_embd.weight is Q4_K; full fine-tuning starts from F32, F16 or BF16 weights\)/,
        });
        await hover({ ...at('q8.gguf'), hover: /fine-tuning \| LoRA only/ });
        await hover({ ...at('gemma.gguf'), hover: /fine-tuning \| not here: its architecture "gemma2" is not one the trainer implements/ });
    });
});
