import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError, dedupe, getPath, loadDataset, readCsv, readJsonl, readTriviaQa, splitRecords, type DatasetRecord } from '../../engine/datasets/index.js';
import { splitSizes } from '../../language/split-sizes.js';

const root = resolve(__dirname, '..', '..');

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
        expect(rs.map((r) => [r.id, r.question, r.answers, r.line])).toEqual([
            ['1', 'Capital of X?', ['Y', 'Why'], 1],
            ['2', 'Z?', ['W'], 3],
        ]);
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
        expect(rs.map((r) => r.answers)).toEqual([
            ['Bob', 'Robert'],
            ['Here', 'There'],
        ]);
        expect(rs[1].line).toBe(3);
    });
    it('TriviaQA rc layout streamed element by element', async () => {
        const data = {
            Data: [
                { Answer: { Aliases: ['Paris', 'paris'], Value: 'Paris' }, Question: 'Capital of France {tricky]?', QuestionId: 'tc_1', EntityPages: [{ x: '"}' }] },
                { Answer: { Aliases: ['Rome'], Value: 'Roma' }, Question: 'Capital of Italy?', QuestionId: 'tc_2' },
            ],
            Domain: 'Web',
            Version: 1,
        };
        const p = file('t.json', JSON.stringify(data, null, 1));
        const rs = await collect(readTriviaQa({ kind: 'file', path: p, format: 'triviaqa', fields: { question: '', answers: '' } }));
        expect(rs.map((r) => [r.id, r.question, r.answers])).toEqual([
            ['tc_1', 'Capital of France {tricky]?', ['Paris', 'paris']],
            ['tc_2', 'Capital of Italy?', ['Roma', 'Rome']],
        ]);
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
        const splits = [
            { name: 'train', share: 0.6 },
            { name: 'test', share: 0.4 },
        ];
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
        await expect(
            loadDataset({ kind: 'file', path: p, format: 'jsonl', fields: { question: 'question', answers: 'answer' } }, [{ name: 'train', count: 10 }], 1, { dedupe: false }),
        ).rejects.toThrow(/field "split": the splits need 10 questions but the dataset has 5/);
    });
    it('world datasets', async () => {
        const d = await loadDataset(
            { kind: 'world', world: 'atlas' },
            [
                { name: 'train', share: 0.5 },
                { name: 'test', share: 0.5 },
            ],
            3,
            { dedupe: true, world: { entities: 20, relations: ['capital', 'river'], seed: 1 } },
        );
        expect(d.records).toHaveLength(40);
        expect(d.records[0].answers.length).toBeGreaterThan(0);
    });
});

describe('bounded input', () => {
    const fields = { question: 'question', answers: 'answer', id: 'id' };
    const src = (path: string, format: 'jsonl' | 'csv' = 'jsonl') => ({ kind: 'file' as const, path, format, fields });
    it('a BOM before the first JSONL record is not part of it', async () => {
        const p = file('bom.jsonl', '\uFEFF{"id":"a","question":"Q?","answer":"A"}\n{"id":"b","question":"R?","answer":"B"}\n');
        expect((await collect(readJsonl(src(p)))).map((r) => r.id)).toEqual(['a', 'b']);
    });
    it('bytes that are not UTF-8: an error with line and byte offset, not U+FFFD', async () => {
        const head = Buffer.from('{"id":"a","question":"Q?","answer":"A"}\n{"id":"b","question":"R');
        const p = join(dir, 'latin1.jsonl');
        writeFileSync(p, Buffer.concat([head, Buffer.from([0xe9]), Buffer.from('?","answer":"B"}\n')]));
        // 0xE9 ("é" in Latin-1) is at byte 40 + 24 = 64 of the file, on line 2.
        await expect(collect(readJsonl(src(p)))).rejects.toThrow(`${p}:2: not valid UTF-8 (byte 0xe9 at byte offset ${head.length})`);
        const c = join(dir, 'latin1.csv');
        writeFileSync(c, Buffer.concat([Buffer.from('id,question,answer\na,Q?,A\nb,R'), Buffer.from([0xe9]), Buffer.from('?,B\n')]));
        await expect(collect(readCsv(src(c, 'csv')))).rejects.toThrow(`${c}:3: not valid UTF-8 (byte 0xe9 at byte offset 29)`);
    });
    it('a multi-byte character split across read chunks is decoded whole', async () => {
        // 1 MiB chunks: put "é" (2 bytes) across the first chunk boundary.
        const line1 = JSON.stringify({ id: 'a', question: 'x'.repeat(1000), answer: 'A' });
        const prefix = '{"id":"b","question":"';
        const cut = (1 << 20) - 1 - Buffer.byteLength(line1 + '\n' + prefix);
        const line2 = JSON.stringify({ id: 'b', question: 'y'.repeat(cut) + 'é', answer: 'B' });
        expect(Buffer.from(`${line1}\n${line2}`)[(1 << 20) - 1]).toBe(0xc3);
        const p = file('split-char.jsonl', `${line1}\n${line2}\n`);
        const rs = await collect(readJsonl(src(p)));
        expect(rs[1].question.endsWith('é')).toBe(true);
    });
    it('an unterminated CSV quote is reported at the line where it opened', async () => {
        const p = file('quote.csv', 'id,question,answer\na,Q?,A\nb,"R?,B\nc,S?,C\nd,T?,D\n');
        await expect(collect(readCsv(src(p, 'csv')))).rejects.toThrow(new RegExp(`quote\\.csv:3: CSV: a quote opened in this record .*never closed`));
    });
    it('null and object values are located errors, never "[object Object]"', async () => {
        const p = file('obj.jsonl', '{"id":"a","question":"Q?","answer":"A"}\n{"id":{"x":1},"question":"R?","answer":"B"}\n');
        await expect(collect(readJsonl(src(p)))).rejects.toThrow(`${p}:2: field "id": an id must be a string or a number, got object`);
        const p2 = file('null.jsonl', '{"id":"a","question":null,"answer":"A"}\n');
        await expect(collect(readJsonl(src(p2)))).rejects.toThrow(`${p2}:1: field "question": missing`);
        const p3 = file('arr.jsonl', '[1,2]\n');
        await expect(collect(readJsonl(src(p3)))).rejects.toThrow(`${p3}:1: a record must be a JSON object, got a list`);
    });
    it('a FIFO as a dataset is refused at once (it would block until a writer comes)', async () => {
        const p = join(dir, 'fifo.jsonl');
        execFileSync('mkfifo', [p]);
        await expect(loadDataset(src(p), [{ name: 'test', count: 1 }], 1, { dedupe: true })).rejects.toThrow(`${p}: not a regular file (a FIFO)`);
        await expect(collect(readCsv(src(p, 'csv')))).rejects.toThrow('not a regular file (a FIFO)');
    });
    it('a split of part of a file gives what splitting all records gives (duplicates included)', async () => {
        // Many duplicates by question and by id, in shuffled order: the three-pass reader must agree with dedupe + splitRecords.
        const rows: string[] = [];
        for (let i = 0; i < 400; i++) rows.push(JSON.stringify({ id: `q${(i * 7919) % 350}`, question: `Question number ${(i * 104729) % 300}?`, answer: `A${i}` }));
        const p = file('part.jsonl', rows.join('\n'));
        for (const splits of [
            [
                { name: 'train', count: 40 },
                { name: 'test', count: 25 },
            ],
            [
                { name: 'train', share: 0.3 },
                { name: 'test', share: 0.2 },
            ],
        ]) {
            for (const seed of [1, 2]) {
                const got = await loadDataset(src(p), splits, seed, { dedupe: true });
                const all = await collect(readJsonl(src(p)));
                const d = dedupe(all, p);
                const want = splitRecords(d.records, splits, seed, p);
                expect(got.records).toEqual(want);
                expect(got.dropped).toBe(d.dropped);
                expect(got.warnings).toEqual(d.warnings);
                expect(got.dropped).toBeGreaterThan(50);
            }
        }
    });
    it('peak memory does not grow with the file when splits use a part of it', async () => {
        // ~100 MB of JSONL (250k records of ~400 bytes), of which 1,500 are used. Loading every record
        // holds them all (measured: ~3 x the file's size in V8 strings and objects); the split reader
        // holds 24 bytes per record plus the 1,500 (measured: ~55 MB over the start, most of it the
        // heap's own working room, the same for a 20 MB file within ~25 MB). The child's young
        // generation is capped at 2 MB so that its peak RSS reflects what it keeps, not when V8 collects.
        const p = join(dir, 'big.jsonl');
        const filler = 'lorem ipsum dolor sit amet '.repeat(13);
        const out = openSync(p, 'w');
        let batch: string[] = [];
        for (let i = 0; i < 250_000; i++) {
            batch.push(JSON.stringify({ id: `id${i}`, question: `Question ${i}: ${filler}?`, answer: `Answer ${i}` }));
            if (batch.length === 10_000) {
                writeSync(out, batch.join('\n') + '\n');
                batch = [];
            }
        }
        closeSync(out);
        try {
            const size = statSync(p).size;
            expect(size).toBeGreaterThan(100e6);
            const script = await bundle(join(root, 'test/engine/dataset-memory-child.ts'), 'dataset-memory-child.mjs');
            const res = JSON.parse(execFileSync(process.execPath, ['--max-semi-space-size=2', script, p, '1000', '500'], { encoding: 'utf8' }));
            expect(res.records).toBe(1500);
            const growth = res.peak - res.before;
            expect(growth).toBeLessThan(0.75 * size);
        } finally {
            rmSync(p, { force: true });
        }
    });
    it('check and the engine cut 50% + 50% of 89 records the same way', async () => {
        expect(splitSizes([{ share: 0.5 }, { share: 0.5 }], 89)).toEqual([45, 44]);
        const rows = Array.from({ length: 89 }, (_, i) => JSON.stringify({ id: `q${i}`, question: `Q${i}?`, answer: 'A' }));
        const p = file('89.jsonl', rows.join('\n'));
        const d = await loadDataset(
            src(p),
            [
                { name: 'train', share: 0.5 },
                { name: 'test', share: 0.5 },
            ],
            1,
            { dedupe: true },
        );
        expect(d.records.length).toBe(89);
        const specDir = mkdtempSync(join(tmpdir(), 'mm-ds-spec-'));
        copyFileSync(p, join(specDir, 'qa.jsonl'));
        const spec = join(specDir, 'x.mismatch');
        writeFileSync(spec, `experiment X {\n  dataset qa from "qa.jsonl" { question "question"  answers "answer"  split train 50%  split test 50% }\n}\n`);
        const { loadSpecs } = await import('../../language/load.js');
        const { diagnostics } = await loadSpecs([spec]);
        expect(diagnostics.filter((x) => x.code === 'splits-over-100' || /need \d+ questions/.test(x.message))).toEqual([]);
    });
});

async function bundle(entry: string, name: string): Promise<string> {
    const esbuild = await import('esbuild');
    const out = join(root, 'node_modules', '.cache', 'mismatch-lab', `${process.pid}-${name}`);
    await esbuild.build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        outfile: out,
        external: ['node-llama-cpp', '@node-llama-cpp/*'],
        logLevel: 'silent',
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    return out;
}
