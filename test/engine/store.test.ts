// The run store without models: what `clean` may delete (marker, keys, symlinks, --dry-run), the
// lock (held, stale), verification of entries on read, content hashing of files edited in place,
// and the server URL in the store key.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanCommand } from '../../cli/clean.js';
import { instanceKeys, planInstances, runExperiment } from '../../engine/run.js';
import type { EngineEvent } from '../../engine/events.js';
import { openStore, STORE_MARKER, StoreLock } from '../../engine/store/index.js';
import { tempDir, writeQuestionsJsonl, QUESTIONS, captureIo } from './fixtures.js';
import { makePlan } from './plan-helpers.js';

const KEY = (c: string) => c.repeat(64);

/** A plan of one dataset step (cheap: no models), reading `data`. */
function datasetPlan(dir: string, data: string) {
    return makePlan(join(dir, 'exp.mismatch'), [
        {
            id: 'qa',
            kind: 'dataset',
            inputs: [],
            files: [data],
            params: {
                source: { kind: 'file', path: data, format: 'jsonl', fields: { question: 'question', answers: 'answer', id: 'id' } },
                splits: [
                    { name: 'train', share: 0.5 },
                    { name: 'test', share: 0.5 },
                ],
                seed: 3,
                dedupe: true,
            },
        },
    ] as never);
}

/** The pid of a process that has exited (for a stale lock). */
function deadPid(): Promise<number> {
    return new Promise((resolve) => {
        const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
        c.on('exit', () => resolve(c.pid!));
    });
}

describe('clean deletes only its own entries', () => {
    it('refuses a directory that is not a store, and removes nothing from it', async () => {
        const dir = tempDir('mm-notstore-');
        for (const d of ['tmp/keepme', 'steps/mine', 'checkpoints/x']) mkdirSync(join(dir, d), { recursive: true });
        writeFileSync(join(dir, 'tmp', 'keepme', 'file.txt'), 'precious');
        const c = captureIo();
        expect(await cleanCommand([], { store: dir }, c.io)).toBe(1);
        expect(c.stderr()).toMatch(/is not a run store \(it has no \.mismatch-store marker\); nothing was removed/);
        expect(readFileSync(join(dir, 'tmp', 'keepme', 'file.txt'), 'utf8')).toBe('precious');
        expect(existsSync(join(dir, 'steps', 'mine'))).toBe(true);
        expect(existsSync(join(dir, 'checkpoints', 'x'))).toBe(true);
    });

    it('never follows a symlinked tmp/ or steps/, keeps folders that are not entries, and --dry-run lists every path', async () => {
        const outside = tempDir('mm-outside-');
        const victimTmp = join(outside, 'tmp-target', `${KEY('a')}.123.1.abcdef`);
        const victimSteps = join(outside, 'steps-target', KEY('b'));
        mkdirSync(victimTmp, { recursive: true });
        mkdirSync(victimSteps, { recursive: true });
        writeFileSync(join(victimSteps, 'manifest.json'), JSON.stringify({ key: KEY('b') }));

        const dir = tempDir('mm-store-');
        writeFileSync(join(dir, STORE_MARKER), '{}');
        symlinkSync(join(outside, 'tmp-target'), join(dir, 'tmp'));
        mkdirSync(join(dir, 'steps'));
        symlinkSync(join(outside, 'steps-target', KEY('b')), join(dir, 'steps', KEY('b'))); // an entry that is a link
        mkdirSync(join(dir, 'steps', 'notes')); // not a key
        mkdirSync(join(dir, 'steps', KEY('c')));
        writeFileSync(join(dir, 'steps', KEY('c'), 'manifest.json'), JSON.stringify({ key: KEY('d') })); // records another key
        for (const k of ['e', 'f']) {
            mkdirSync(join(dir, 'steps', KEY(k)));
            writeFileSync(join(dir, 'steps', KEY(k), 'manifest.json'), JSON.stringify({ key: KEY(k) }));
            writeFileSync(join(dir, 'steps', KEY(k), 'result.json'), '{}');
        }
        mkdirSync(join(dir, 'checkpoints', KEY('e')), { recursive: true });
        symlinkSync(join(outside, 'steps-target'), join(dir, 'checkpoints', KEY('9')));

        const dry = captureIo();
        expect(await cleanCommand([], { store: dir, dryRun: true }, dry.io)).toBe(0);
        const listed = dry
            .stdout()
            .split('\n')
            .filter((l) => l.startsWith('would remove ') && !/entr(y|ies)/.test(l))
            .map((l) => l.slice('would remove '.length))
            .sort();
        expect(listed).toEqual([`checkpoints/${KEY('e')}`, `steps/${KEY('e')}`, `steps/${KEY('f')}`]);
        expect(existsSync(join(dir, 'steps', KEY('e')))).toBe(true);

        const c = captureIo();
        expect(await cleanCommand([], { store: dir }, c.io)).toBe(0);
        expect(c.stdout()).toMatch(/removed 3 entries/);
        expect(c.stderr()).toMatch(/skipped tmp\/ is a symbolic link \(not followed\)/);
        expect(existsSync(victimTmp)).toBe(true);
        expect(existsSync(join(victimSteps, 'manifest.json'))).toBe(true);
        expect(readdirSync(join(dir, 'steps')).sort()).toEqual([KEY('b'), KEY('c'), 'notes'].sort());
        expect(existsSync(join(dir, 'checkpoints', KEY('e')))).toBe(false);
        expect(existsSync(join(outside, 'steps-target', KEY('b')))).toBe(true);
    });

    it('a store made before the marker existed: clean says so and refuses; its next run marks it, then clean works', async () => {
        const dir = tempDir('mm-legacy-');
        const data = writeQuestionsJsonl(tempDir());
        const store = join(dir, '.mismatch');
        expect((await runExperiment(datasetPlan(dir, data), { storeDir: store, threads: 1, gpu: 'off' })).status).toBe('done');
        rmSync(join(store, STORE_MARKER));
        const c = captureIo();
        expect(await cleanCommand([], { store }, c.io)).toBe(1);
        expect(c.stderr()).toMatch(/looks like a store made by an older version: run a spec with it once to mark it; nothing was removed/);
        expect((await runExperiment(datasetPlan(dir, data), { storeDir: store, threads: 1, gpu: 'off' })).steps[0].cached).toBe(true);
        const c2 = captureIo();
        expect(await cleanCommand([], { store }, c2.io)).toBe(0);
        expect(c2.stdout()).toMatch(/removed 0 entries .* kept 1/);
    });

    it('"Everything" (the editor command) empties the store, its folders too, and keeps it a store', async () => {
        const dir = tempDir('mm-everything-');
        const data = writeQuestionsJsonl(dir);
        const store = join(dir, '.mismatch');
        expect((await runExperiment(datasetPlan(dir, data), { storeDir: store, threads: 1, gpu: 'off' })).status).toBe('done');
        const outside = tempDir('mm-outside-');
        mkdirSync(join(outside, KEY('7')));
        rmSync(join(store, 'checkpoints'), { recursive: true });
        symlinkSync(outside, join(store, 'checkpoints'));
        const { removed } = await openStore(store).clean(new Set(), { everything: true });
        expect(removed).toHaveLength(1);
        expect(readdirSync(store).sort()).toEqual([STORE_MARKER, 'checkpoints'].sort());
        expect(existsSync(join(outside, KEY('7')))).toBe(true);
    });

    it('a run refuses to turn a folder with other files into a store', async () => {
        const dir = tempDir('mm-home-');
        writeFileSync(join(dir, 'thesis.tex'), 'x');
        const data = writeQuestionsJsonl(tempDir());
        const s = await runExperiment(datasetPlan(dir, data), { storeDir: dir, threads: 1, gpu: 'off' });
        expect(s.status).toBe('failed');
        expect(s.error?.message).toMatch(/is not a run store .* holds other files \(thesis\.tex\)/);
        expect(readdirSync(dir)).toEqual(['thesis.tex']);
    });
});

describe('the store lock', () => {
    it('clean refuses a store a live process holds, naming the holder; a stale lock (dead pid) is taken over', async () => {
        const dir = tempDir('mm-lock-');
        const data = writeQuestionsJsonl(dir);
        const store = join(dir, '.mismatch');
        expect((await runExperiment(datasetPlan(dir, data), { storeDir: store, threads: 1, gpu: 'off' })).status).toBe('done');
        const lock = await StoreLock.acquire(store, { spec: '/x/held.mismatch', purpose: 'run' });
        const c = captureIo();
        expect(await cleanCommand([], { store }, c.io)).toBe(1);
        expect(c.stderr()).toContain(`is in use by a run of /x/held.mismatch (pid ${process.pid} on ${hostname()}, since ${lock.holder.startedAt}); nothing was removed`);
        const waited: string[] = [];
        const s = await runExperiment(datasetPlan(dir, data), { storeDir: store, threads: 1, gpu: 'off', lockWait: false, onEvent: (e) => e.type === 'log' && waited.push(e.message) });
        expect(s.status).toBe('failed');
        expect(s.error?.message).toMatch(/in use by a run of \/x\/held\.mismatch/);
        await lock.release();

        const pid = await deadPid();
        writeFileSync(join(store, 'lock'), JSON.stringify({ pid, host: hostname(), startedAt: '2020-01-01T00:00:00.000Z', spec: 'killed.mismatch', purpose: 'run', token: 'dead' }));
        const s2 = await runExperiment(datasetPlan(dir, data), { storeDir: store, threads: 1, gpu: 'off', lockWait: false });
        expect(s2.status, s2.error?.message).toBe('done');
        expect(existsSync(join(store, 'lock'))).toBe(false);

        // A lock file nobody can read: refused while fresh (its holder may be writing it), taken over once 10 s old.
        writeFileSync(join(store, 'lock'), '');
        const s3 = await runExperiment(datasetPlan(dir, data), { storeDir: store, threads: 1, gpu: 'off', lockWait: false });
        expect(s3.error?.message).toMatch(/in use by another process \(its lock file could not be read\); if it is not running, remove .*lock/);
        utimesSync(join(store, 'lock'), new Date(Date.now() - 11_000), new Date(Date.now() - 11_000));
        const s4 = await runExperiment(datasetPlan(dir, data), { storeDir: store, threads: 1, gpu: 'off', lockWait: false });
        expect(s4.status, s4.error?.message).toBe('done');
    });
});

describe('entries are verified when used', () => {
    const damage: [string, (entry: string) => void][] = [
        ['garbage manifest.json', (e) => writeFileSync(join(e, 'manifest.json'), 'not json {')],
        ['deleted result.json', (e) => rmSync(join(e, 'result.json'))],
        ['truncated records.jsonl', (e) => truncateSync(join(e, 'records.jsonl'), statSync(join(e, 'records.jsonl')).size - 40)],
        ['edited result.json', (e) => writeFileSync(join(e, 'result.json'), readFileSync(join(e, 'result.json'), 'utf8').replace('"total": 24', '"total": 23'))],
    ];
    for (const [what, hurt] of damage) {
        it(`${what}: the step is reported by name as damaged and recomputed`, async () => {
            const dir = tempDir('mm-verify-');
            const data = writeQuestionsJsonl(dir);
            const store = join(dir, '.mismatch');
            const plan = datasetPlan(dir, data);
            const s1 = await runExperiment(plan, { storeDir: store, threads: 1, gpu: 'off' });
            const key = s1.steps[0].key;
            const entry = join(store, 'steps', key);
            const records = readFileSync(join(entry, 'records.jsonl'), 'utf8');
            hurt(entry);
            const events: EngineEvent[] = [];
            const s2 = await runExperiment(plan, { storeDir: store, threads: 1, gpu: 'off', onEvent: (e) => events.push(e) });
            expect(s2.status).toBe('done');
            expect(s2.steps[0]).toMatchObject({ step: 'qa', status: 'done', cached: false, key });
            const warn = events.find((e) => e.type === 'log' && e.level === 'warn') as Extract<EngineEvent, { type: 'log' }>;
            expect(warn?.step).toBe('qa');
            expect(warn.message).toMatch(/the stored result of qa is damaged/);
            expect(readFileSync(join(entry, 'records.jsonl'), 'utf8')).toBe(records);
            expect((s2.steps[0].metrics as { total: number }).total).toBe(QUESTIONS.length);
            const s3 = await runExperiment(plan, { storeDir: store, threads: 1, gpu: 'off' });
            expect(s3.steps[0].cached).toBe(true);
        });
    }
});

describe('files are hashed by content', () => {
    it('a dataset edited in place with its size and mtime kept is read again', async () => {
        const dir = tempDir('mm-hash-');
        const data = writeQuestionsJsonl(dir);
        const stamp = 1_700_000_000; // whole seconds: utimes keeps them exactly
        utimesSync(data, stamp, stamp);
        const store = join(dir, '.mismatch');
        const plan = datasetPlan(dir, data);
        const s1 = await runExperiment(plan, { storeDir: store, threads: 1, gpu: 'off' });
        expect(s1.status).toBe('done');
        const before = statSync(data);
        const text = readFileSync(data, 'utf8');
        const edited = text.replace('City0', 'Town0'); // same length
        expect(edited.length).toBe(text.length);
        writeFileSync(data, edited);
        utimesSync(data, stamp, stamp);
        expect(statSync(data).mtimeMs).toBe(before.mtimeMs);
        expect(statSync(data).size).toBe(before.size);
        const s2 = await runExperiment(plan, { storeDir: store, threads: 1, gpu: 'off' });
        expect(s2.steps[0].cached).toBe(false);
        expect(s2.steps[0].key).not.toBe(s1.steps[0].key);
        const manifest = JSON.parse(readFileSync(join(store, 'steps', s2.steps[0].key, 'manifest.json'), 'utf8'));
        expect(manifest.files[data]).toBe(createHash('sha256').update(edited).digest('hex'));
    });
});

describe('store keys hold every effective parameter', () => {
    it('a server model without a URL takes the default URL into its key and its dependants; several servers count as a set', async () => {
        const dir = tempDir('mm-url-');
        const data = writeQuestionsJsonl(dir);
        const decoding = { temperature: 0, maxTokens: 4, stop: [], template: 'raw', fewShot: 0 };
        const base = makePlan(join(dir, 'exp.mismatch'), [
            ...datasetPlan(dir, data).steps,
            { id: 'srv', kind: 'model', inputs: [], params: { source: { kind: 'server', url: '', name: 'm', api: 'completions', logprobs: true, concurrency: 1, timeoutMs: 1000 } } },
            { id: 'lab', kind: 'label', inputs: ['srv', 'qa'], params: { model: 'srv', dataset: 'qa', split: 'train', decoding, otherwise: "I don't know", match: 'exact' } },
        ] as never);
        // What the editor does: fill in its default URL after the plan (and its keys) were made.
        const withUrl = (url: string, urls?: string[]) =>
            ({
                ...base,
                steps: base.steps.map((s) => (s.kind === 'model' ? { ...s, params: { ...s.params, source: { ...(s.params.source as object), url, ...(urls ? { urls } : {}) } } } : s)),
            }) as typeof base;
        const store = openStore(join(dir, '.mismatch'));
        const keysOf = async (p: typeof base) => [...(await instanceKeys(p, planInstances(p), store)).values()].map((k) => k.key);
        const [a, b] = [await keysOf(withUrl('http://127.0.0.1:1/v1')), await keysOf(withUrl('http://127.0.0.1:2/v1'))];
        expect(a[0]).toBe(b[0]); // the dataset does not depend on the server
        expect(a[1]).not.toBe(b[1]);
        expect(a[2]).not.toBe(b[2]);
        // Two servers named in either order are one set; a third one is another set.
        const u = ['http://127.0.0.1:1/v1', 'http://127.0.0.1:2/v1', 'http://127.0.0.1:3/v1'];
        const [ab, ba, abc] = [await keysOf(withUrl(u[0], [u[0], u[1]])), await keysOf(withUrl(u[1], [u[1], u[0]])), await keysOf(withUrl(u[0], u))];
        expect(ba).toEqual(ab);
        expect(ab[1]).not.toBe(a[1]);
        expect(abc[1]).not.toBe(ab[1]);
        expect(abc[2]).not.toBe(ab[2]);
    });
});

describe('the report marks mixed provenance within one comparison', () => {
    it('a hypothesis whose labels and fine-tune ran on a GPU and whose evaluation ran on the CPU is marked; the same provenance is not', async () => {
        const { reportHtml } = await import('../../engine/report/html.js');
        const decoding = { temperature: 0, maxTokens: 4, stop: [], template: 'raw', fewShot: 0 };
        const plan = makePlan('/p/exp.mismatch', [
            { id: 'qa', kind: 'dataset', inputs: [], params: {} },
            { id: 'a', kind: 'model', inputs: [], params: { source: { kind: 'gguf', path: '/m.gguf' } } },
            { id: 'byA', kind: 'label', inputs: ['a', 'qa'], params: { model: 'a', dataset: 'qa', split: 'train', decoding } },
            { id: 'ft', kind: 'finetune', inputs: ['a', 'byA'], params: { model: 'a', labels: 'byA' } },
            { id: 'ev', kind: 'evaluate', inputs: ['ft', 'a', 'qa'], params: { arms: [{ model: 'ft' }, { model: 'a' }] } },
            { id: 'h', kind: 'hypothesis', inputs: ['ev'], params: { a: 'ft', b: 'a', evaluation: 'ev' } },
        ] as never);
        const cpu = { backend: 'cpu', threads: 1, nodeLlamaCpp: '3.21.1', engineFormat: 1, node: 'v22' };
        const gpu = { backend: 'cuda', gpu: 'NVIDIA H100', threads: 8, nodeLlamaCpp: '3.21.1', engineFormat: 1, node: 'v22' };
        const none = { ...cpu, backend: 'none' };
        const result = (step: string, kind: string, provenance: typeof cpu) => ({ step, kind, key: step, status: 'done', cached: true, seconds: 0, provenance }) as never;
        const mixed = reportHtml(plan, [result('qa', 'dataset', none), result('byA', 'label', gpu), result('ft', 'finetune', gpu), result('ev', 'evaluate', cpu)]);
        const marks = (html: string) => [...html.matchAll(/<p class="warn">(.*?)<\/p>/g)].map((m) => m[1]);
        expect(marks(mixed)).toEqual(['<b>⚠ h</b>: mixed provenance: byA, ft on cuda · NVIDIA H100 · 8 threads; ev on cpu · no GPU · 1 thread (results computed differently are compared here)']);
        const same = reportHtml(plan, [result('qa', 'dataset', none), result('byA', 'label', cpu), result('ft', 'finetune', cpu), result('ev', 'evaluate', { ...cpu, node: 'v20' })]);
        expect(marks(same)).toEqual([]);
    });

    it('labels batched 8 at once and an evaluation one at a time are marked; a step without local generation has no count to differ', async () => {
        const { reportHtml } = await import('../../engine/report/html.js');
        const decoding = { temperature: 0, maxTokens: 4, stop: [], template: 'raw', fewShot: 0 };
        const plan = makePlan('/p/exp.mismatch', [
            { id: 'a', kind: 'model', inputs: [], params: { source: { kind: 'gguf', path: '/m.gguf' } } },
            { id: 'byA', kind: 'label', inputs: ['a'], params: { model: 'a', decoding } },
            { id: 'ft', kind: 'finetune', inputs: ['a', 'byA'], params: { model: 'a', labels: 'byA' } },
            { id: 'ev', kind: 'evaluate', inputs: ['ft', 'a'], params: { arms: [{ model: 'ft' }, { model: 'a' }] } },
            { id: 'h', kind: 'hypothesis', inputs: ['ev'], params: { a: 'ft', b: 'a', evaluation: 'ev' } },
        ] as never);
        const cpu = { backend: 'cpu', threads: 1, nodeLlamaCpp: '3.21.1', engineFormat: 1, node: 'v20' };
        const result = (step: string, kind: string, provenance: object) => ({ step, kind, key: step, status: 'done', cached: true, seconds: 0, provenance }) as never;
        const marks = (html: string) => [...html.matchAll(/<p class="warn">(.*?)<\/p>/g)].map((m) => m[1]);
        const batched = reportHtml(plan, [result('byA', 'label', { ...cpu, sequences: 8 }), result('ft', 'finetune', cpu), result('ev', 'evaluate', { ...cpu, sequences: 1 })]);
        expect(marks(batched)).toEqual(['<b>⚠ h</b>: mixed provenance: byA on 8 sequences at once; ev on 1 sequence at once (results computed differently are compared here)']);
        const alike = reportHtml(plan, [result('byA', 'label', { ...cpu, sequences: 8 }), result('ft', 'finetune', cpu), result('ev', 'evaluate', { ...cpu, sequences: 8 })]);
        expect(marks(alike)).toEqual([]);
    });
});

describe('the store lock under contention', () => {
    it('four processes and a stale lock: each holds the store alone, one after another, and all get it', async () => {
        const esbuild = await import('esbuild');
        const work = tempDir('mm-contend-');
        const driver = join(work, 'driver.ts');
        const lockModule = join(__dirname, '..', '..', 'engine', 'store', 'lock.ts');
        writeFileSync(
            driver,
            `import { appendFileSync } from 'node:fs';
import { StoreLock } from ${JSON.stringify(lockModule)};
const [store, log] = process.argv.slice(2);
const lock = await StoreLock.acquire(store, { spec: 'contend', purpose: 'run' }, { wait: true });
for (let i = 0; i < 20; i++) {
    appendFileSync(log, \`\${i === 0 ? '+' : '.'}\${process.pid}\\n\`);
    await new Promise((r) => setImmediate(r));
}
appendFileSync(log, \`-\${process.pid}\\n\`);
await lock.release();
`,
        );
        const bundle = join(work, 'driver.mjs');
        await esbuild.build({ entryPoints: [driver], outfile: bundle, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'silent' });
        const store = join(work, 'store');
        mkdirSync(store);
        writeFileSync(join(store, 'lock'), JSON.stringify({ pid: await deadPid(), host: hostname(), startedAt: '2020-01-01T00:00:00.000Z', spec: 'killed', purpose: 'run', token: 'dead' }));
        const log = join(work, 'log');
        writeFileSync(log, '');
        const codes = await Promise.all(
            Array.from({ length: 4 }, () => new Promise<number | null>((resolve) => spawn(process.execPath, [bundle, store, log], { stdio: 'inherit' }).on('exit', resolve))),
        );
        expect(codes).toEqual([0, 0, 0, 0]);
        const lines = readFileSync(log, 'utf8').trim().split('\n');
        // Well nested: +p, 19 × .p, -p for one pid at a time.
        expect(lines).toHaveLength(4 * 21);
        const pids = new Set<string>();
        for (let k = 0; k < 4; k++) {
            const block = lines.slice(k * 21, (k + 1) * 21);
            const pid = block[0].slice(1);
            expect(block).toEqual([`+${pid}`, ...Array.from({ length: 19 }, () => `.${pid}`), `-${pid}`]);
            pids.add(pid);
        }
        expect(pids.size).toBe(4);
        expect(existsSync(join(store, 'lock'))).toBe(false);
    }, 120_000);
});
