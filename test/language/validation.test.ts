/**
 * Every validation rule, positive (the diagnostic appears, located, with its code and fix data)
 * and negative (the corrected spec does not get it). Checks with a test file of their own under
 * test/language/validation/ (one per file of language/validation/) are tested there.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeGguf, gv } from '../../engine/train/gguf.js';
import { FileInfoCache } from '../../language/validation/file-info.js';
import { codes, diagnose, type Diag } from './helpers.js';

let dir = '';
let n = 0;
const file = () => join(dir, `spec-${++n}.mismatch`);
/** Diagnostics without hints (unused steps are covered by their own test). */
const check = async (text: string) => (await diagnose(text, file())).filter((d) => d.severity !== 4);
const checkWithHints = (text: string) => diagnose(text, file());
const withCode = (d: Diag[], code: string) => d.filter((x) => x.code === code);

const spec = (body: string, header = '  seed 1') => `experiment T {
${header}
  world atlas { entities 100 }
  dataset d from atlas { split train 60%  split test 40% }
  model large = pretrain on atlas { layers 4  width 128  knows 90% }
  model small = pretrain on atlas { layers 2  width 128  knows 40% }
  decoding greedy { temperature 0 }
${body}
}`;
const arms = `  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge
  evaluate f, small on d.test using greedy
  hypothesis f hallucinates more than small`;

function gguf(name: string, opts: { fileType?: number; width?: number; layers?: number; type?: string } = {}): string {
    const width = opts.width ?? 8;
    const layers = opts.layers ?? 1;
    const path = join(dir, name);
    const meta: [string, ReturnType<typeof gv.u32>][] = [
        ['general.architecture', gv.str('llama')],
        ['general.type', gv.str(opts.type ?? 'model')],
        ['general.file_type', gv.u32(opts.fileType ?? 0)],
        ['llama.context_length', gv.u32(256)],
        ['llama.embedding_length', gv.u32(width)],
        ['llama.block_count', gv.u32(layers)],
    ];
    const tensors = Array.from({ length: layers }, (_, i) => ({ name: `blk.${i}.attn_q.weight`, shape: [width, width], data: new Float32Array(width * width) }));
    writeGguf(path, meta, tensors);
    return path;
}

beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mm-validate-'));
});

describe('a correct spec', () => {
    it('has no diagnostics', async () => {
        expect(await check(spec(arms))).toEqual([]);
    });
});

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

    it('unknown split with the dataset\'s splits', async () => {
        const d = await check(spec(arms.replace('d.test', 'd.tset')));
        expect(withCode(d, 'unknown-reference')[0].message).toBe("Dataset 'd' has no split 'tset'. Did you mean 'test'?");
        // An unknown dataset is one error, not two.
        const u = await check(spec(arms.replace('on d.test', 'on dd.test')));
        expect(withCode(u, 'unknown-reference').map((x) => x.message)).toEqual(["Unknown dataset 'dd'. Did you mean 'd'?"]);
    });

    it('unresolved-import, and imports that resolve', async () => {
        const d = await check(`import "nowhere.mismatch"\nexperiment E { }`);
        expect(withCode(d, 'unresolved-import')[0].message).toMatch(/Cannot find 'nowhere.mismatch'/);
        mkdirSync(join(dir, 'folder.mismatch'));
        expect(withCode(await check(`import "folder.mismatch"\nexperiment E { }`), 'unresolved-import')[0].message).toMatch(/is a folder/);
        writeFileSync(join(dir, 'lib.mismatch'), 'world atlas { entities 10 }\n');
        expect(await check(`import "lib.mismatch"\nexperiment E { }`)).toEqual([]);
    });
});

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

describe('dataset files', () => {
    const fileSpec = (path: string, mapping = '') => spec(arms.replaceAll('d.', 'q.'), '  seed 1').replace('dataset d from atlas { split train 60%  split test 40% }', `dataset q from "${path}" { ${mapping} split train 60%  split test 40% }`);

    it('dataset-file-missing: missing file and a folder', async () => {
        const d = await check(fileSpec('data/none.jsonl'));
        const [m] = withCode(d, 'dataset-file-missing');
        expect(m.message.startsWith(`Dataset file 'data/none.jsonl' not found (looked for ${join(dir, 'data/none.jsonl')}).`)).toBe(true);
        expect(m.severity).toBe(2); // a missing file is a warning that says what to put there (embedded: bring-your-own)
        expect(m.line).toBe(4);
        mkdirSync(join(dir, 'adir.jsonl'));
        expect(withCode(await check(fileSpec('adir.jsonl')), 'dataset-file-missing')[0].message).toMatch(/is a folder/);
    });

    it('dataset-file-invalid: binary junk and malformed records', async () => {
        writeFileSync(join(dir, 'junk.jsonl'), Buffer.from([0, 1, 2, 3, 255, 254, 0, 0, 10]));
        expect(withCode(await check(fileSpec('junk.jsonl')), 'dataset-file-invalid')[0].message).toMatch(/not a text file/);
        writeFileSync(join(dir, 'bad.jsonl'), '{"question": "a?", "answers": ["b"]}\n{"question": oops}\n');
        expect(withCode(await check(fileSpec('bad.jsonl')), 'dataset-file-invalid')[0].message).toMatch(/line 2: not a JSON record/);
        writeFileSync(join(dir, 'empty.jsonl'), '');
        expect(withCode(await check(fileSpec('empty.jsonl')), 'dataset-file-invalid')[0].message).toMatch(/has no records/);
    });

    it('dataset-file-unreadable: a file without read permission (skipped in effect when running as root)', async () => {
        const p = join(dir, 'secret.jsonl');
        writeFileSync(p, '{"question": "a?", "answers": ["b"]}\n');
        chmodSync(p, 0o000);
        const d = await check(fileSpec('secret.jsonl'));
        const isRoot = process.getuid?.() === 0;
        expect(codes(d).includes('dataset-file-unreadable')).toBe(!isRoot);
        chmodSync(p, 0o644);
    });

    it('dataset-field-missing: nested JSONL paths, with the fields that exist', async () => {
        writeFileSync(join(dir, 'tqa.jsonl'), [
            JSON.stringify({ question: 'Capital of France?', answer: { value: 'Paris', aliases: ['Paris', 'paris'] } }),
            JSON.stringify({ question: 'Largest ocean?', answer: { value: 'Pacific', aliases: ['Pacific'] } }),
        ].join('\n') + '\n');
        const bad = await check(fileSpec('tqa.jsonl', 'question "question"  answers "answer.alias"'));
        const [m] = withCode(bad, 'dataset-field-missing');
        expect(m.message).toMatch(/^Field 'answer.alias' is not in the first 2 records of 'tqa.jsonl'. Did you mean 'answer.aliases'\? Fields: question, answer, answer.value, answer.aliases./);
        expect(m.data.replacement).toBe('"answer.aliases"');
        const object = await check(fileSpec('tqa.jsonl', 'question "question"  answers "answer"'));
        expect(withCode(object, 'dataset-field-missing')[0].message).toMatch(/holds an object.*Try 'answer.value'/);
        expect(await check(fileSpec('tqa.jsonl', 'question "question"  answers "answer.aliases"'))).toEqual([]);
        // Unmapped fields fall back to `question`/`answers`, which this file lacks.
        expect(withCode(await check(fileSpec('tqa.jsonl')), 'dataset-field-missing')[0].message).toMatch(/has no field 'answers' for the answers; map it with `answers "<field>"`/);
    });

    it('dataset-field-missing in CSV files', async () => {
        writeFileSync(join(dir, 'qa.csv'), 'Question,Answer\n"Capital of France?",Paris\n');
        const d = await check(fileSpec('qa.csv', 'question "Question"  answers "answer"'));
        expect(withCode(d, 'dataset-field-missing')[0].data.suggestion).toBe('Answer');
        expect(await check(fileSpec('qa.csv', 'question "Question"  answers "Answer"'))).toEqual([]);
    });

    it('splits that need more questions than the file holds', async () => {
        writeFileSync(join(dir, 'three.jsonl'), '{"question": "a?", "answers": "b"}\n{"question": "c?", "answers": "d"}\n{"question": "e?", "answers": "f"}\n');
        const d = await check(fileSpec('three.jsonl').replace('split train 60%  split test 40%', 'split train 2  split test 2'));
        expect(withCode(d, 'splits-over-100')[0].message).toBe("The splits of 'q' need 4 questions, but 'three.jsonl' has 3 records.");
        expect(await check(fileSpec('three.jsonl').replace('split train 60%  split test 40%', 'split train 2  split test 1'))).toEqual([]);
    });

    it('dataset-format-unknown', async () => {
        writeFileSync(join(dir, 'qa.txt'), 'x');
        expect(codes(await check(fileSpec('qa.txt')))).toContain('dataset-format-unknown');
    });

    it('reads each file once while it is unchanged (mtime cache), and again after an edit', () => {
        const cache = new FileInfoCache();
        const p = join(dir, 'cached.jsonl');
        writeFileSync(p, '{"question": "a?", "answers": ["b"]}\n');
        const a = cache.datasetHead(p);
        expect(cache.datasetHead(p)).toBe(a);
        writeFileSync(p, '{"question": "a?", "answers": ["b"], "id": 1}\n');
        utimesSync(p, new Date(), new Date(Date.now() + 5000));
        const b = cache.datasetHead(p);
        expect(b).not.toBe(a);
        expect(b.ok && b.value.fields).toContain('id');
    });
});

describe('GGUF models', () => {
    const ggufSpec = (teacher: string, student: string, body = arms) => spec(body).replace(/model large = .*\n/, `model large = gguf "${teacher}"\n`).replace(/model small = .*\n/, `model small = gguf "${student}"\n`);

    it('gguf-missing and gguf-invalid', async () => {
        gguf('ok.gguf');
        writeFileSync(join(dir, 'text.gguf'), 'not a model at all');
        const d = await check(ggufSpec('none.gguf', 'text.gguf'));
        expect(withCode(d, 'gguf-missing')[0].message).toMatch(/Model file 'none.gguf' not found/);
        expect(withCode(d, 'gguf-invalid')[0].message).toBe("'text.gguf' is not a GGUF model: it does not start with the GGUF magic bytes.");
    });

    it('reads metadata without loading weights (architecture, parameters, file type, context)', async () => {
        const cache = new FileInfoCache();
        const info = await cache.gguf(gguf('meta.gguf', { width: 16, layers: 2, fileType: 1 }));
        expect(info.ok && info.value).toMatchObject({ architecture: 'llama', parameters: 512, fileType: 'F16', quantized: false, contextLength: 256, layers: 2, embeddingLength: 16 });
    });

    // quantized-finetune and unsupported-architecture: test/language/validation/train-modes.test.ts (files with real tensor types)

    it('teacher-not-larger: by parameter count for GGUF, by layers x width² for embedded models', async () => {
        gguf('tiny.gguf', { width: 8 });
        gguf('large2.gguf', { width: 32, layers: 2 });
        const d = await check(ggufSpec('tiny.gguf', 'large2.gguf'));
        const [w] = withCode(d, 'teacher-not-larger');
        expect(w.severity).toBe(2);
        expect(w.message).toMatch(/written by 'large' \(64 parameters\), which is not larger than the student 'small' \(2.0k parameters\)/);
        const p = await check(spec(arms).replace('layers 4  width 128', 'layers 1  width 64'));
        expect(codes(p)).toContain('teacher-not-larger');
        const knowsLess = await check(spec(arms).replace('knows 90%', 'knows 30%'));
        expect(withCode(knowsLess, 'teacher-not-larger')[0].message).toMatch(/knows 30% of the facts, no more than the student 'small' \(40%\)/);
        // Self-labels are not a teacher/student pair.
        expect(codes(await check(spec(arms.replace('answers of large', 'answers of small'))))).not.toContain('teacher-not-larger');
    });

    it('remote-finetune: a server model cannot be fine-tuned here', async () => {
        const d = await check(spec(arms).replace(/model small = .*\n/, 'model small = server "http://127.0.0.1:8080/v1" { name "s" }\n'));
        expect(codes(d)).toContain('remote-finetune');
    });
});

describe('honest splits', () => {
    it('missing-unit: splits written as counts that add up to exactly 100', async () => {
        const d = await check(spec(arms).replace('split train 60%  split test 40%', 'split train 60  split test 40'));
        const w = withCode(d, 'missing-unit');
        expect(w.map((x) => x.data.replacement)).toEqual(['60%', '40%']);
        expect(w[0].severity).toBe(2);
        expect(codes(await check(spec(arms).replace('split train 60%  split test 40%', 'split train 600  split test 400')))).toEqual([]);
    });

    it('splits-over-100', async () => {
        const d = await check(spec(arms).replace('split test 40%', 'split test 50%'));
        expect(withCode(d, 'splits-over-100')[0].message).toBe("The splits of 'd' add up to 110%; they must not exceed 100%, or the same questions land in two splits.");
        expect(codes(await check(spec(arms).replace('split test 40%', 'split test 30%')))).toEqual([]);
    });

    it('train-test-leakage: evaluating on the split the labels came from, or on the whole dataset', async () => {
        const d = await check(spec(arms.replace('evaluate f, small on d.test', 'evaluate f, small on d.train')));
        const [l] = withCode(d, 'train-test-leakage');
        expect(l.message).toMatch(/^Train\/test leakage: 'f' is evaluated on d.train, but it was fine-tuned on d.train \(fine-tune 'f', label set 'byLarge'\)/);
        expect(codes(await check(spec(arms.replace('evaluate f, small on d.test', 'evaluate f, small on d'))))).toContain('train-test-leakage');
        // Through a shuffle too.
        const s = await check(spec(`  label byLarge = answers of large on d.test using greedy
  label sh = shuffle byLarge { seed 2 }
  finetune f = small on sh
  evaluate f, small on d.test using greedy`));
        expect(codes(s)).toContain('train-test-leakage');
    });

    it('possible-leakage: two datasets split separately from the same world', async () => {
        const d = await check(spec(arms.replace('on d.test', 'on e.test')).replace('decoding greedy', 'dataset e from atlas { split test 30% }\n  decoding greedy'));
        expect(withCode(d, 'possible-leakage')[0].severity).toBe(2);
    });
});

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

describe('knowledge and mixes', () => {
    const gek = (kData: string, kModel = 'small') => spec(`  knowledge k = ${kModel} on ${kData} { samples 4  fewShot 0 }
  label m = mix k { unknown 50% }
  finetune f = small on m
  evaluate f, small on d.test using greedy by k2
  knowledge k2 = small on d.test { samples 4  fewShot 0 }
  hypothesis f hallucinates more than small`);

    it('a clean Gekhman-style spec', async () => {
        expect(await check(gek('d.train'))).toEqual([]);
    });

    it('knowledge-other-data: slicing an evaluation by categories of other questions', async () => {
        const d = await check(gek('d.train').replace('by k2', 'by k'));
        expect(codes(d)).toContain('knowledge-other-data');
    });

    it('mix-other-model: Unknown examples measured on another model', async () => {
        expect(codes(await check(gek('d.train', 'large')))).toContain('mix-other-model');
    });
});

describe('half-typed text', () => {
    it('never throws and always answers with diagnostics', async () => {
        const full = spec(arms);
        for (let cut = 0; cut < full.length; cut += 7) {
            const d = await diagnose(full.slice(0, cut));
            expect(Array.isArray(d)).toBe(true);
        }
    });
});
