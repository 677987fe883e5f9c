/**
 * language/validation/files.ts: the files a spec reads (datasets, GGUF models) exist, are
 * readable and hold what the spec maps, checked from their heads.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectError, expectIssue, expectWarning } from 'langium/test';
import type { Dataset, Model } from '../../../language/generated/ast.js';
import { arms, code, declarationNamed, expectNoProblems, spec, validationFolder, type Result } from './fixtures.js';

const folder = validationFolder('mm-files-');
const { validate } = folder;
/** The dataset `q`: file checks report on its path. */
const q = (r: Result) => declarationNamed(r, 'q') as Dataset;
const model = (r: Result, name: string) => declarationNamed(r, name) as Model;

describe('dataset files', () => {
    const fileSpec = (path: string, mapping = '') =>
        spec(arms.replaceAll('d.', 'q.'), '  seed 1').replace('dataset d from atlas { split train 60%  split test 40% }', `dataset q from "${path}" { ${mapping} split train 60%  split test 40% }`);

    it('dataset-file-missing: missing file and a folder', async () => {
        const r = await validate(fileSpec('data/none.jsonl'));
        const looked = `Dataset file 'data/none.jsonl' not found (looked for ${join(folder.dir, 'data/none.jsonl')}).`;
        // a missing file is a warning that says what to put there (embedded: bring-your-own), on the dataset's path (line 4)
        expectWarning(r, new RegExp(`^${looked.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), { node: q(r), property: 'path', data: code('dataset-file-missing') });
        expect(q(r).$cstNode!.range.start.line).toBe(3);
        mkdirSync(join(folder.dir, 'adir.jsonl'));
        const dirSpec = await validate(fileSpec('adir.jsonl'));
        expectIssue(dirSpec, { message: /is a folder/, node: q(dirSpec), property: 'path', data: code('dataset-file-missing') });
    });

    it('dataset-file-invalid: binary junk and malformed records', async () => {
        writeFileSync(join(folder.dir, 'junk.jsonl'), Buffer.from([0, 1, 2, 3, 255, 254, 0, 0, 10]));
        const junk = await validate(fileSpec('junk.jsonl'));
        expectError(junk, /not a text file/, { node: q(junk), property: 'path', data: code('dataset-file-invalid') });
        writeFileSync(join(folder.dir, 'bad.jsonl'), '{"question": "a?", "answers": ["b"]}\n{"question": oops}\n');
        const bad = await validate(fileSpec('bad.jsonl'));
        expectError(bad, /line 2: not a JSON record/, { node: q(bad), property: 'path', data: code('dataset-file-invalid') });
        writeFileSync(join(folder.dir, 'empty.jsonl'), '');
        const empty = await validate(fileSpec('empty.jsonl'));
        expectError(empty, /has no records/, { node: q(empty), property: 'path', data: code('dataset-file-invalid') });
    });

    it('dataset-file-unreadable: a file without read permission (skipped in effect when running as root)', async () => {
        const p = join(folder.dir, 'secret.jsonl');
        writeFileSync(p, '{"question": "a?", "answers": ["b"]}\n');
        chmodSync(p, 0o000);
        const r = await validate(fileSpec('secret.jsonl'));
        const isRoot = process.getuid?.() === 0;
        expect(r.diagnostics.some((d) => (d.data as { code?: string }).code === 'dataset-file-unreadable')).toBe(!isRoot);
        chmodSync(p, 0o644);
    });

    it('dataset-field-missing: nested JSONL paths, with the fields that exist', async () => {
        writeFileSync(
            join(folder.dir, 'tqa.jsonl'),
            [
                JSON.stringify({ question: 'Capital of France?', answer: { value: 'Paris', aliases: ['Paris', 'paris'] } }),
                JSON.stringify({ question: 'Largest ocean?', answer: { value: 'Pacific', aliases: ['Pacific'] } }),
            ].join('\n') + '\n',
        );
        const bad = await validate(fileSpec('tqa.jsonl', 'question "question"  answers "answer.alias"'));
        expectIssue(bad, {
            message: /^Field 'answer.alias' is not in the first 2 records of 'tqa.jsonl'. Did you mean 'answer.aliases'\? Fields: question, answer, answer.value, answer.aliases./,
            data: { code: 'dataset-field-missing', replacement: '"answer.aliases"' },
        });
        const object = await validate(fileSpec('tqa.jsonl', 'question "question"  answers "answer"'));
        expectIssue(object, { message: /holds an object.*Try 'answer.value'/, data: code('dataset-field-missing') });
        expectNoProblems(await validate(fileSpec('tqa.jsonl', 'question "question"  answers "answer.aliases"')));
        // Unmapped fields fall back to `question`/`answers`, which this file lacks.
        expectIssue(await validate(fileSpec('tqa.jsonl')), { message: /has no field 'answers' for the answers; map it with `answers "<field>"`/, data: code('dataset-field-missing') });
    });

    it('dataset-field-missing in CSV files', async () => {
        writeFileSync(join(folder.dir, 'qa.csv'), 'Question,Answer\n"Capital of France?",Paris\n');
        const r = await validate(fileSpec('qa.csv', 'question "Question"  answers "answer"'));
        expectIssue(r, { data: { code: 'dataset-field-missing', suggestion: 'Answer' } });
        expectNoProblems(await validate(fileSpec('qa.csv', 'question "Question"  answers "Answer"')));
    });

    it('splits that need more questions than the file holds', async () => {
        writeFileSync(join(folder.dir, 'three.jsonl'), '{"question": "a?", "answers": "b"}\n{"question": "c?", "answers": "d"}\n{"question": "e?", "answers": "f"}\n');
        const r = await validate(fileSpec('three.jsonl').replace('split train 60%  split test 40%', 'split train 2  split test 2'));
        expectIssue(r, { message: "The splits of 'q' need 4 questions, but 'three.jsonl' has 3 records.", data: code('splits-over-100') });
        expectNoProblems(await validate(fileSpec('three.jsonl').replace('split train 60%  split test 40%', 'split train 2  split test 1')));
    });

    it('dataset-format-unknown', async () => {
        writeFileSync(join(folder.dir, 'qa.txt'), 'x');
        const r = await validate(fileSpec('qa.txt'));
        expectIssue(r, { node: q(r), property: 'path', data: code('dataset-format-unknown') });
    });
});

describe('GGUF files', () => {
    const ggufSpec = (teacher: string, student: string, body = arms) =>
        spec(body)
            .replace(/model large = .*\n/, `model large = gguf "${teacher}"\n`)
            .replace(/model small = .*\n/, `model small = gguf "${student}"\n`);

    it('gguf-missing and gguf-invalid', async () => {
        folder.gguf('ok.gguf');
        writeFileSync(join(folder.dir, 'text.gguf'), 'not a model at all');
        const r = await validate(ggufSpec('none.gguf', 'text.gguf'));
        expectIssue(r, { message: /Model file 'none.gguf' not found/, node: model(r, 'large'), property: 'path', data: code('gguf-missing') });
        expectError(r, "'text.gguf' is not a GGUF model: it does not start with the GGUF magic bytes.", { node: model(r, 'small'), property: 'path', data: code('gguf-invalid') });
    });
});
