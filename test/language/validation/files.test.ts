/**
 * language/validation/files.ts: the files a spec reads (datasets, GGUF models) exist, are
 * readable and hold what the spec maps, checked from their heads.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arms, codes, spec, validationFolder, withCode } from './fixtures.js';

const folder = validationFolder('mm-files-');
const { check } = folder;

describe('dataset files', () => {
    const fileSpec = (path: string, mapping = '') => spec(arms.replaceAll('d.', 'q.'), '  seed 1').replace('dataset d from atlas { split train 60%  split test 40% }', `dataset q from "${path}" { ${mapping} split train 60%  split test 40% }`);

    it('dataset-file-missing: missing file and a folder', async () => {
        const d = await check(fileSpec('data/none.jsonl'));
        const [m] = withCode(d, 'dataset-file-missing');
        expect(m.message.startsWith(`Dataset file 'data/none.jsonl' not found (looked for ${join(folder.dir, 'data/none.jsonl')}).`)).toBe(true);
        expect(m.severity).toBe(2); // a missing file is a warning that says what to put there (embedded: bring-your-own)
        expect(m.line).toBe(4);
        mkdirSync(join(folder.dir, 'adir.jsonl'));
        expect(withCode(await check(fileSpec('adir.jsonl')), 'dataset-file-missing')[0].message).toMatch(/is a folder/);
    });

    it('dataset-file-invalid: binary junk and malformed records', async () => {
        writeFileSync(join(folder.dir, 'junk.jsonl'), Buffer.from([0, 1, 2, 3, 255, 254, 0, 0, 10]));
        expect(withCode(await check(fileSpec('junk.jsonl')), 'dataset-file-invalid')[0].message).toMatch(/not a text file/);
        writeFileSync(join(folder.dir, 'bad.jsonl'), '{"question": "a?", "answers": ["b"]}\n{"question": oops}\n');
        expect(withCode(await check(fileSpec('bad.jsonl')), 'dataset-file-invalid')[0].message).toMatch(/line 2: not a JSON record/);
        writeFileSync(join(folder.dir, 'empty.jsonl'), '');
        expect(withCode(await check(fileSpec('empty.jsonl')), 'dataset-file-invalid')[0].message).toMatch(/has no records/);
    });

    it('dataset-file-unreadable: a file without read permission (skipped in effect when running as root)', async () => {
        const p = join(folder.dir, 'secret.jsonl');
        writeFileSync(p, '{"question": "a?", "answers": ["b"]}\n');
        chmodSync(p, 0o000);
        const d = await check(fileSpec('secret.jsonl'));
        const isRoot = process.getuid?.() === 0;
        expect(codes(d).includes('dataset-file-unreadable')).toBe(!isRoot);
        chmodSync(p, 0o644);
    });

    it('dataset-field-missing: nested JSONL paths, with the fields that exist', async () => {
        writeFileSync(join(folder.dir, 'tqa.jsonl'), [
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
        writeFileSync(join(folder.dir, 'qa.csv'), 'Question,Answer\n"Capital of France?",Paris\n');
        const d = await check(fileSpec('qa.csv', 'question "Question"  answers "answer"'));
        expect(withCode(d, 'dataset-field-missing')[0].data.suggestion).toBe('Answer');
        expect(await check(fileSpec('qa.csv', 'question "Question"  answers "Answer"'))).toEqual([]);
    });

    it('splits that need more questions than the file holds', async () => {
        writeFileSync(join(folder.dir, 'three.jsonl'), '{"question": "a?", "answers": "b"}\n{"question": "c?", "answers": "d"}\n{"question": "e?", "answers": "f"}\n');
        const d = await check(fileSpec('three.jsonl').replace('split train 60%  split test 40%', 'split train 2  split test 2'));
        expect(withCode(d, 'splits-over-100')[0].message).toBe("The splits of 'q' need 4 questions, but 'three.jsonl' has 3 records.");
        expect(await check(fileSpec('three.jsonl').replace('split train 60%  split test 40%', 'split train 2  split test 1'))).toEqual([]);
    });

    it('dataset-format-unknown', async () => {
        writeFileSync(join(folder.dir, 'qa.txt'), 'x');
        expect(codes(await check(fileSpec('qa.txt')))).toContain('dataset-format-unknown');
    });
});

describe('GGUF files', () => {
    const ggufSpec = (teacher: string, student: string, body = arms) => spec(body).replace(/model large = .*\n/, `model large = gguf "${teacher}"\n`).replace(/model small = .*\n/, `model small = gguf "${student}"\n`);

    it('gguf-missing and gguf-invalid', async () => {
        folder.gguf('ok.gguf');
        writeFileSync(join(folder.dir, 'text.gguf'), 'not a model at all');
        const d = await check(ggufSpec('none.gguf', 'text.gguf'));
        expect(withCode(d, 'gguf-missing')[0].message).toMatch(/Model file 'none.gguf' not found/);
        expect(withCode(d, 'gguf-invalid')[0].message).toBe("'text.gguf' is not a GGUF model: it does not start with the GGUF magic bytes.");
    });
});
