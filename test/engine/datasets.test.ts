import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError, getPath, loadDataset, readCsv, readJsonl, readTriviaQa, type DatasetRecord } from '../../engine/datasets/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mm-ds-'));
const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
};
const collect = async (g: AsyncGenerator<DatasetRecord>) => {
    const out: DatasetRecord[] = [];
    for await (const r of g) out.push(r);
    return out;
};

describe('readers', () => {
    it('JSONL with nested paths and alias lists', async () => {
        const p = file('a.jsonl', '{"q":{"text":"Capital of X?"},"answer":{"aliases":["Y","Why"]},"id":1}\n\n{"q":{"text":"Z?"},"answer":{"aliases":"W"},"id":2}\n');
        const rs = await collect(readJsonl({ kind: 'file', path: p, format: 'jsonl', fields: { question: 'q.text', answers: 'answer.aliases', id: 'id' } }));
        expect(rs.map((r) => [r.id, r.question, r.answers, r.line])).toEqual([['1', 'Capital of X?', ['Y', 'Why'], 1], ['2', 'Z?', ['W'], 3]]);
    });
    it('located errors: bad JSON and missing field', async () => {
        const p = file('b.jsonl', '{"question":"a","answer":"b"}\n{"question":"c"}\n');
        const src = { kind: 'file' as const, path: p, format: 'jsonl' as const, fields: { question: 'question', answers: 'answer' } };
        await expect(collect(readJsonl(src))).rejects.toThrow(`${p}:2: field "answer": missing`);
        const p2 = file('c.jsonl', '{"question":"a","answer":"b"}\n{oops\n');
        await expect(collect(readJsonl({ ...src, path: p2 }))).rejects.toThrow(new RegExp(`c.jsonl:2: not valid JSON`));
        try {
            await collect(readJsonl(src));
        } catch (e) {
            expect(e).toBeInstanceOf(DatasetError);
            expect((e as DatasetError).line).toBe(2);
            expect((e as DatasetError).field).toBe('answer');
        }
    });
    it('CSV with quoted fields, alias separators and JSON lists', async () => {
        const p = file('d.csv', 'question,answer\n"Hello, who?",Bob|Robert\nWhere?,"[""Here"",""There""]"\nempty,\n');
        const src = { kind: 'file' as const, path: p, format: 'csv' as const, fields: { question: 'question', answers: 'answer' } };
        await expect(collect(readCsv(src))).rejects.toThrow(/d\.csv:4: field "answer": the answer is empty/);
        const p2 = file('e.csv', 'question,answer\n"Hello, who?",Bob|Robert\nWhere?,"[""Here"",""There""]"\n');
        const rs = await collect(readCsv({ ...src, path: p2 }));
        expect(rs.map((r) => r.answers)).toEqual([['Bob', 'Robert'], ['Here', 'There']]);
        expect(rs[1].line).toBe(3);
    });
    it('TriviaQA rc layout streamed element by element', async () => {
        const data = { Data: [
            { Answer: { Aliases: ['Paris', 'paris'], Value: 'Paris' }, Question: 'Capital of France {tricky]?', QuestionId: 'tc_1', EntityPages: [{ x: '"}' }] },
            { Answer: { Aliases: ['Rome'], Value: 'Roma' }, Question: 'Capital of Italy?', QuestionId: 'tc_2' },
        ], Domain: 'Web', Version: 1 };
        const p = file('t.json', JSON.stringify(data, null, 1));
        const rs = await collect(readTriviaQa({ kind: 'file', path: p, format: 'triviaqa', fields: { question: '', answers: '' } }));
        expect(rs.map((r) => [r.id, r.question, r.answers])).toEqual([['tc_1', 'Capital of France {tricky]?', ['Paris', 'paris']], ['tc_2', 'Capital of Italy?', ['Roma', 'Rome']]]);
    });
    it('getPath handles indices', () => {
        expect(getPath({ a: [{ b: 3 }] }, 'a.0.b')).toBe(3);
        expect(getPath({ a: 1 }, 'a.b')).toBeUndefined();
    });
});

describe('splits and de-dup', () => {
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `q${i}`, question: `Question ${i}?`, answer: `A${i}` }));
    const dup = JSON.stringify({ id: 'q99', question: 'question 3', answer: 'x' });
    it('same seed → same split whatever the file order; duplicates dropped with a warning', async () => {
        const p1 = file('s1.jsonl', [...lines, dup].join('\n'));
        const p2 = file('s2.jsonl', [dup, ...lines.slice().reverse()].join('\n'));
        const fields = { question: 'question', answers: 'answer', id: 'id' };
        const splits = [{ name: 'train', share: 0.6 }, { name: 'test', share: 0.4 }];
        const a = await loadDataset({ kind: 'file', path: p1, format: 'jsonl', fields }, splits, 7, { dedupe: true });
        const b = await loadDataset({ kind: 'file', path: p2, format: 'jsonl', fields }, splits, 7, { dedupe: true });
        const c = await loadDataset({ kind: 'file', path: p1, format: 'jsonl', fields }, splits, 8, { dedupe: true });
        const key = (d: typeof a) => d.records.map((r) => `${r.split}:${r.id}`).sort();
        expect(key(a)).toEqual(key(b));
        expect(key(a)).not.toEqual(key(c));
        expect(a.records.filter((r) => r.split === 'train')).toHaveLength(30);
        expect(a.records.filter((r) => r.split === 'test')).toHaveLength(20);
        expect(a.dropped).toBe(1);
        expect(a.warnings[0]).toMatch(/dropped 1 duplicate question/);
        expect(a.records.some((r) => r.id === 'q99')).toBe(false); // q3 < q99: the smaller id survives
    });
    it('counts that exceed the data are a located error', async () => {
        const p = file('s3.jsonl', lines.slice(0, 5).join('\n'));
        await expect(loadDataset({ kind: 'file', path: p, format: 'jsonl', fields: { question: 'question', answers: 'answer' } }, [{ name: 'train', count: 10 }], 1, { dedupe: false })).rejects.toThrow(/field "split": the splits need 10 questions but the dataset has 5/);
    });
    it('world datasets', async () => {
        const d = await loadDataset({ kind: 'world', world: 'atlas' }, [{ name: 'train', share: 0.5 }, { name: 'test', share: 0.5 }], 3, { dedupe: true, world: { entities: 20, relations: ['capital', 'river'], seed: 1 } });
        expect(d.records).toHaveLength(40);
        expect(d.records[0].answers.length).toBeGreaterThan(0);
    });
});
