// The CLI on a real spec (language/plan.ts builds the Plan) with real tiny GGUF models: the --json
// shape, exit codes, cache hits, report --html, clean, and kill-and-resume of a child `mismatch run`.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../cli/run.js';
import { runCheck } from '../../cli/check.js';
import { reportCommand } from '../../cli/report.js';
import { cleanCommand } from '../../cli/clean.js';
import { makeTinyModel, tempDir, writeQuestionsJsonl, captureIo } from './fixtures.js';

const root = resolve(__dirname, '..', '..');

function spec(temperature = 0): string {
    return `experiment CliTest {
  seed 3
  dataset qa from "data/qa.jsonl" { question "question"  answers "answer"  split train 12  split test 12 }
  model teacher = gguf "models/teacher.gguf"
  model student = gguf "models/student.gguf"
  decoding greedy { temperature ${temperature}${temperature ? '  seed 5' : ''}  maxTokens 4 }
  label byTeacher = answers of teacher on qa.train using greedy { otherwise "I don't know" }
  label byStudent = answers of student on qa.train using greedy { otherwise "I don't know" }
  label shuffled = shuffle byStudent { seed 11 }
  finetune onTeacher = student on byTeacher { lora rank 2  epochs 2  learningRate 1e-3 }
  finetune onStudent = student on byStudent { lora rank 2  epochs 2  learningRate 1e-3 }
  evaluate onTeacher, onStudent, student on qa.test using greedy { abstain "I don't know" }
  hypothesis onTeacher hallucinates more than onStudent
  hypothesis onTeacher hallucinates more than onStudent at matched coverage
}
`;
}

function project(): string {
    const dir = tempDir('mm-cli-');
    mkdirSync(join(dir, 'models'));
    mkdirSync(join(dir, 'data'));
    makeTinyModel(join(dir, 'models'), 1, 'teacher');
    makeTinyModel(join(dir, 'models'), 2, 'student');
    copyFileSync(writeQuestionsJsonl(dir), join(dir, 'data', 'qa.jsonl'));
    writeFileSync(join(dir, 'exp.mismatch'), spec());
    return dir;
}

/** Bundles the CLI, its inference worker and the trainer child (as esbuild.mjs does) under node_modules/.cache. */
async function buildCli(): Promise<string> {
    const esbuild = await import('esbuild');
    const out = join(root, 'node_modules', '.cache', 'mismatch-lab', `cli-test-${process.pid}`);
    const common = {
        bundle: true,
        platform: 'node' as const,
        target: 'node20',
        format: 'esm' as const,
        external: ['vscode', 'node-llama-cpp', '@node-llama-cpp/*', 'koffi', '@koromix/*'],
        logLevel: 'silent' as const,
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    };
    await esbuild.build({ ...common, entryPoints: [join(root, 'cli/main.ts')], outfile: join(out, 'cli', 'main.js') });
    await esbuild.build({ ...common, entryPoints: [join(root, 'engine/models/worker.ts')], outfile: join(out, 'engine', 'generate-worker.js') });
    await esbuild.build({ ...common, entryPoints: [join(root, 'engine/train/child.ts')], outfile: join(out, 'engine', 'train-child.js') });
    return join(out, 'cli', 'main.js');
}

/**
 * Runs the built CLI in a child process (CI=true), reading its stdout line by line: `onLine` may send
 * it a signal. Resolves at its exit; rejects, after killing it, when it outlives `limitMs`.
 */
function runCli(cli: string, args: string[], o: { onLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void; env?: Record<string, string>; limitMs?: number } = {}) {
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolvePromise, reject) => {
        const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true', ...o.env } });
        const limitMs = o.limitMs ?? 540_000;
        const limit = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`the CLI did not exit within ${limitMs} ms`));
        }, limitMs);
        let stdout = '';
        let stderr = '';
        let buf = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
            stdout += d;
            buf += d;
            let i;
            while ((i = buf.indexOf('\n')) >= 0) {
                const line = buf.slice(0, i);
                buf = buf.slice(i + 1);
                o.onLine?.(line, (signal) => child.kill(signal));
            }
        });
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('exit', (code, signal) => {
            clearTimeout(limit);
            resolvePromise({ code, signal, stdout, stderr });
        });
    });
}

describe('mismatch run / report / clean', () => {
    const dir = project();
    const file = join(dir, 'exp.mismatch');

    it('--json has the documented shape; a second run is all cache hits; exit codes', async () => {
        const c = captureIo();
        const code = await runCommand(file, { json: true, threads: 1, gpu: 'off' }, c.io);
        expect(code, c.stderr()).toBe(0);
        const j = JSON.parse(c.stdout());
        expect(j.steps.map((s: { name: string }) => s.name)).toEqual([
            'qa',
            'teacher',
            'student',
            'byTeacher',
            'byStudent',
            'shuffled',
            'onTeacher',
            'onStudent',
            expect.stringMatching(/^evaluate/),
            expect.stringMatching(/^hypothesis/),
            expect.stringMatching(/^hypothesis/),
        ]);
        for (const s of j.steps) expect(Object.keys(s)).toEqual(expect.arrayContaining(['name', 'kind', 'status', 'cached', 'key', 'seconds', 'metrics']));
        expect(Object.keys(j.evaluations).sort()).toEqual(['onStudent', 'onTeacher', 'student']);
        for (const e of Object.values(j.evaluations) as { correct: number; wrong: number; abstained: number; empty: number; total: number }[]) {
            expect(e.correct + e.wrong + e.abstained + e.empty).toBe(e.total);
            expect(e.total).toBe(12);
        }
        expect(j.hypotheses).toHaveLength(2);
        for (const h of j.hypotheses) expect(Object.keys(h)).toEqual(expect.arrayContaining(['name', 'holds', 'verdict', 'test', 'p', 'discordant', 'coverage']));
        expect(j.hypotheses[0].coverage).toBeNull();
        expect(typeof j.hypotheses[1].coverage).toBe('number');

        const c2 = captureIo();
        expect(await runCommand(file, { json: true, threads: 1, gpu: 'off' }, c2.io)).toBe(0);
        const j2 = JSON.parse(c2.stdout());
        expect(j2.steps.every((s: { cached: boolean }) => s.cached)).toBe(true);
        expect(j2.evaluations).toEqual(j.evaluations);

        const c3 = captureIo();
        const verdicts = j.hypotheses.map((h: { verdict: string }) => h.verdict);
        const expected = verdicts.every((v: string) => v === 'holds') ? 0 : 2;
        expect(await runCommand(file, { threads: 1, gpu: 'off', failOnHypothesis: true }, c3.io)).toBe(expected);
        expect(c3.stdout()).toMatch(/Hypotheses/);
        expect(c3.stdout()).toMatch(/from the store/);
        // The answer first: the verdicts, unnamed hypotheses in the words of the spec (never their
        // generated ids), then one table of outcomes per arm; the per-replicate tables only with --verbose.
        const text = c3.stdout();
        const first = text.indexOf('onTeacher hallucinates more than onStudent\n');
        expect(first, text).toBeGreaterThanOrEqual(0);
        expect(text).toContain('onTeacher hallucinates more than onStudent at matched coverage');
        expect(first).toBeLessThan(text.indexOf('Outcomes per arm'));
        expect(text).not.toMatch(/hypothesis@\d|evaluate@\d/);
        expect(text).toContain('onTeacher, onStudent, student on qa.test');
        const verdictLine = text.split('\n').find((l) => l.endsWith('onTeacher hallucinates more than onStudent'))!;
        expect(verdictLine).toContain(`${j.hypotheses[0].verdict.toUpperCase()}: `);
        expect(text).not.toMatch(/Outcomes per replicate|Outcome × knowledge/);
        const verbose = captureIo();
        expect(await reportCommand(file, { verbose: true }, verbose.io)).toBe(0);
        expect(verbose.stdout()).toMatch(/Outcomes per replicate/);
        expect(verbose.stdout().indexOf('Outcomes per arm')).toBeLessThan(verbose.stdout().indexOf('Outcomes per replicate'));

        const bad = join(dir, 'bad.mismatch');
        writeFileSync(bad, 'experiment Bad { model x = gguf }');
        const c4 = captureIo();
        expect(await runCommand(bad, { threads: 1, gpu: 'off' }, c4.io)).toBe(1);
        expect(c4.stderr()).toMatch(/bad\.mismatch:1:\d+: error/);
    }, 300_000);

    it('report --html is self-contained; clean removes what the spec no longer references', async () => {
        const html = join(dir, 'report.html');
        const c = captureIo();
        expect(await reportCommand(file, { html }, c.io)).toBe(0);
        const text = readFileSync(html, 'utf8');
        expect(text).toContain('vegaEmbed(');
        expect(text).toMatch(/"id":"outcomes"/);
        expect(text).toMatch(/"id":"risk-coverage"/);
        expect(text).not.toMatch(/<script[^>]+src=/);
        expect(text).not.toMatch(/<link[^>]+href=/);
        expect(text.length).toBeGreaterThan(500_000); // vega, vega-lite and vega-embed inlined

        const before = readdirSync(join(dir, '.mismatch', 'steps')).length;
        writeFileSync(file, spec(0.5));
        const r = captureIo();
        expect(await runCommand(file, { json: true, threads: 1, gpu: 'off' }, r.io)).toBe(0);
        const j = JSON.parse(r.stdout());
        // the decoding changed: the labels and everything downstream recompute; the dataset and models do not
        expect(j.steps.filter((s: { cached: boolean }) => s.cached).map((s: { name: string }) => s.name)).toEqual(['qa', 'teacher', 'student']);
        const after = readdirSync(join(dir, '.mismatch', 'steps')).length;
        expect(after).toBe(before + 8);
        const c2 = captureIo();
        expect(await cleanCommand([file], {}, c2.io)).toBe(0);
        expect(c2.stdout()).toMatch(/removed 8 entries/);
        expect(readdirSync(join(dir, '.mismatch', 'steps')).length).toBe(before);
        writeFileSync(file, spec());
    }, 300_000);
});

describe('kill and resume', () => {
    let cli: string;
    beforeAll(async () => {
        cli = await buildCli();
    });

    const runChild = (args: string[], onLine?: (line: string, kill: (signal?: NodeJS.Signals) => void) => void) =>
        runCli(cli, args, { onLine: onLine && ((line, kill) => onLine(line, (signal = 'SIGKILL') => kill(signal))) });

    it('SIGKILL mid-step, run again: nothing completed is recomputed and the results equal an uninterrupted run', async () => {
        const dir = project();
        const file = join(dir, 'exp.mismatch');
        const base = ['run', file, '--threads', '1', '--gpu', 'off'];
        const clean = await runChild([...base, '--json', '--store', join(dir, 'clean-store')]);
        expect(clean.code).toBe(0);
        const expected = JSON.parse(clean.stdout);

        const doneBeforeKill: string[] = [];
        const killed = await runChild([...base, '--store', join(dir, 'store')], (line, kill) => {
            const m = /^✓ (\S+)/.exec(line);
            if (m) doneBeforeKill.push(m[1]);
            if (/^ {2}byStudent: \d+\/12 answers/.test(line)) kill();
        });
        expect(killed.signal).toBe('SIGKILL');
        expect(doneBeforeKill).toEqual(expect.arrayContaining(['qa', 'teacher', 'student', 'byTeacher']));
        expect(doneBeforeKill).not.toContain('byStudent');
        expect(existsSync(join(dir, 'store', 'tmp'))).toBe(true); // the half step stayed in tmp/, not in steps/

        const resumed = await runChild([...base, '--json', '--store', join(dir, 'store')]);
        expect(resumed.code).toBe(0);
        const j = JSON.parse(resumed.stdout);
        for (const s of j.steps) expect(s.cached, s.name).toBe(doneBeforeKill.includes(s.name));
        expect(j.evaluations).toEqual(expected.evaluations);
        expect(j.hypotheses).toEqual(expected.hypotheses);
        expect(j.steps.map((s: { key: string }) => s.key)).toEqual(expected.steps.map((s: { key: string }) => s.key));

        // Ctrl-C (SIGINT) cancels cleanly: exit code 130, then the next run finishes from the store.
        writeFileSync(file, spec(0.5));
        let sent = false;
        const interrupted = await runChild([...base, '--store', join(dir, 'store')], (line, kill) => {
            if (!sent && /^ {2}byTeacher: \d+\/12 answers/.test(line)) {
                sent = true;
                kill('SIGINT');
            }
        });
        expect(interrupted.code).toBe(130);
        expect(interrupted.stdout).toMatch(/cancelled in/);
        const after = await runChild([...base, '--json', '--store', join(dir, 'store')]);
        expect(after.code).toBe(0);
        expect(
            JSON.parse(after.stdout)
                .steps.filter((s: { cached: boolean }) => s.cached)
                .map((s: { name: string }) => s.name),
        ).toEqual(expect.arrayContaining(['qa', 'teacher', 'student']));
    }, 600_000); // five child runs: ~40 s on a quiet 2-core machine, several minutes when it is shared

    /** A child CLI whose output can be awaited line by line (no fixed sleeps). */
    function startChild(args: string[]) {
        const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
        const out = { stdout: '', stderr: '' };
        const waiters: { re: RegExp; resolve: () => void }[] = [];
        const check = () => {
            for (const w of [...waiters])
                if (w.re.test(out.stdout + out.stderr)) {
                    waiters.splice(waiters.indexOf(w), 1);
                    w.resolve();
                }
        };
        child.stdout.setEncoding('utf8').on('data', (d: string) => ((out.stdout += d), check()));
        child.stderr.setEncoding('utf8').on('data', (d: string) => ((out.stderr += d), check()));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
        const waitFor = (re: RegExp) =>
            new Promise<void>((r) => {
                waiters.push({ re, resolve: r });
                check();
            });
        return { child, out, exited, waitFor };
    }

    it('a second run on the same store waits for the first, naming it; clean refuses while a run holds the store', async () => {
        const dir = project();
        const file = join(dir, 'exp.mismatch');
        const store = join(dir, 'store');
        const base = ['run', file, '--threads', '1', '--gpu', 'off', '--store', store];
        const first = startChild(base);
        await first.waitFor(/^ {2}byTeacher: \d+\/12 answers/m);
        // Hold the first run still (SIGSTOP) so the second certainly finds the store locked.
        first.child.kill('SIGSTOP');
        const holder = new RegExp(`in use by a run of ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${first.child.pid} on ${hostname()}, since [0-9T:.Z-]+\\)`);
        const clean = startChild(['clean', '--store', store]);
        expect((await clean.exited).code).toBe(1);
        expect(clean.out.stderr).toMatch(holder);
        expect(clean.out.stderr).toMatch(/nothing was removed/);
        const second = startChild([...base, '--json']);
        await second.waitFor(/waiting for the run store/);
        expect(second.out.stderr).toMatch(holder);
        first.child.kill('SIGCONT');
        expect((await first.exited).code).toBe(0);
        expect((await second.exited).code).toBe(0);
        const j = JSON.parse(second.out.stdout);
        expect(j.steps.every((s: { cached: boolean }) => s.cached)).toBe(true);
        expect(existsSync(join(store, 'lock'))).toBe(false);
        const clean2 = startChild(['clean', '--store', store, '--dry-run']);
        expect((await clean2.exited).code).toBe(0);
        expect(clean2.out.stdout).toMatch(/would remove 0 entries/);
    }, 600_000);
});

/** A spec without training: label and evaluate steps on the tiny models (quick). */
const small = (extra = '') => `experiment Procs {
  seed 3
  dataset qa from "data/qa.jsonl" { question "question"  answers "answer"  split train 12  split test 12 }
  model teacher = gguf "models/teacher.gguf"
  model student = gguf "models/student.gguf"
  decoding greedy { temperature 0  maxTokens 4 }
  label byTeacher = answers of teacher on qa.train using greedy { otherwise "I don't know" }
${extra}  evaluate student on qa.test using greedy { abstain "I don't know" }
}
`;

describe('child processes end on every path', () => {
    let cli: string;
    let wrappers: { generate: string; train: string };
    beforeAll(async () => {
        cli = await buildCli();
        // The real worker and trainer child, started through a one-line wrapper that first appends
        // the process id to a log: the test then checks by pid that each one is gone.
        const dir = join(cli, '..', '..', 'engine');
        wrappers = { generate: join(dir, 'pid-generate-worker.mjs'), train: join(dir, 'pid-train-child.mjs') };
        const wrap = (target: string) => `import { appendFileSync } from 'node:fs';\nappendFileSync(process.env.MM_PID_LOG, process.pid + ' ${target}\\n');\nawait import('./${target}');\n`;
        writeFileSync(wrappers.generate, wrap('generate-worker.js'));
        writeFileSync(wrappers.train, wrap('train-child.js'));
    });

    /** Runs the CLI; `onLine` may send it a signal. Resolves at its exit, with the children it started. */
    async function runWithPids(args: string[], onLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void, limitMs = 240_000) {
        const log = join(tempDir('mm-pids-'), 'pids.log');
        writeFileSync(log, '');
        const r = await runCli(cli, args, { onLine, limitMs, env: { MM_PID_LOG: log, MISMATCH_GENERATE_WORKER: wrappers.generate, MISMATCH_TRAIN_CHILD: wrappers.train } });
        const pids = readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => ({ pid: Number(l.split(' ')[0]), role: l.split(' ')[1] }));
        return { ...r, pids };
    }

    /** A process is gone when it does not exist or is a zombie (exited, not yet reaped by its new parent). */
    function alive(pid: number): boolean {
        try {
            const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
            return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
        } catch {
            return false;
        }
    }

    it('success: every inference process started is gone when the CLI exits', async () => {
        const dir = project();
        writeFileSync(join(dir, 'p.mismatch'), small());
        const r = await runWithPids(['run', join(dir, 'p.mismatch'), '--threads', '1', '--gpu', 'off']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.pids.filter((p) => p.role === 'generate-worker.js').length).toBeGreaterThanOrEqual(1);
        expect(r.pids.filter((p) => alive(p.pid))).toEqual([]);
    }, 300_000);

    it('error: a truncated GGUF fails the step that loads it, the CLI exits 1, no worker is left', async () => {
        const dir = project();
        writeFileSync(join(dir, 'p.mismatch'), small());
        const model = join(dir, 'models', 'teacher.gguf');
        const bytes = readFileSync(model);
        writeFileSync(model, bytes.subarray(0, Math.floor(bytes.length * 0.6))); // header intact, tensors cut
        const r = await runWithPids(['run', join(dir, 'p.mismatch'), '--threads', '1', '--gpu', 'off'], undefined, 120_000);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/byTeacher.*cannot load the model .*teacher\.gguf/s);
        expect(r.pids.length).toBeGreaterThanOrEqual(1);
        expect(r.pids.filter((p) => alive(p.pid))).toEqual([]);
    }, 300_000);

    it('cancel (SIGINT → 130) and SIGTERM (→ 143), mid-generation and mid-training: no child left', async () => {
        const dir = project();
        writeFileSync(join(dir, 'p.mismatch'), small());
        let sent = false;
        const r = await runWithPids(['run', join(dir, 'p.mismatch'), '--threads', '1', '--gpu', 'off'], (line, kill) => {
            if (!sent && /^ {2}byTeacher: \d+\/12 answers/.test(line)) {
                sent = true;
                kill('SIGINT');
            }
        });
        expect(sent).toBe(true);
        expect(r.code).toBe(130);
        expect(r.pids.filter((p) => alive(p.pid))).toEqual([]);

        const dir2 = project();
        writeFileSync(join(dir2, 'p.mismatch'), small('  finetune tuned = student on byTeacher { lora rank 2  epochs 40  learningRate 1e-3 }\n'));
        let termed = false;
        const t = await runWithPids(['run', join(dir2, 'p.mismatch'), '--threads', '1', '--gpu', 'off'], (line, kill) => {
            if (!termed && /^ {2}tuned: \d+\/\d+/.test(line)) {
                termed = true;
                kill('SIGTERM');
            }
        });
        expect(termed).toBe(true);
        expect(t.code).toBe(143);
        expect(t.pids.some((p) => p.role === 'train-child.js')).toBe(true);
        expect(t.pids.filter((p) => alive(p.pid))).toEqual([]);
    }, 600_000);
});

describe('CLI conventions: colour, --json errors, exit codes', () => {
    const withEnv = async <T>(env: Record<string, string | undefined>, f: () => Promise<T>): Promise<T> => {
        const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
        for (const [k, v] of Object.entries(env))
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        try {
            return await f();
        } finally {
            for (const [k, v] of Object.entries(saved))
                if (v === undefined) delete process.env[k];
                else process.env[k] = v;
        }
    };
    const ESC = '\u001b[';

    it('report: no escape codes in piped output or under NO_COLOR, colour with FORCE_COLOR; an empty store exits 1', async () => {
        const dir = project();
        const file = join(dir, 'p.mismatch');
        writeFileSync(file, small());
        const empty = captureIo();
        expect(await withEnv({ NO_COLOR: undefined, FORCE_COLOR: undefined }, () => reportCommand(file, {}, empty.io))).toBe(1);
        expect(empty.stderr()).toMatch(/no results in the store yet/);
        const r = captureIo();
        expect(await runCommand(file, { threads: 1, gpu: 'off' }, r.io), r.stderr()).toBe(0);
        expect(r.stdout()).toMatch(/Outcomes/);
        expect(r.stdout()).not.toContain(ESC); // a PassThrough is not a terminal

        const piped = captureIo();
        expect(await withEnv({ NO_COLOR: undefined, FORCE_COLOR: undefined }, () => reportCommand(file, {}, piped.io))).toBe(0);
        expect(piped.stdout()).toMatch(/┌/);
        expect(piped.stdout()).not.toContain(ESC);

        const forced = captureIo();
        await withEnv({ NO_COLOR: undefined, FORCE_COLOR: '1' }, () => reportCommand(file, {}, forced.io));
        expect(forced.stdout()).toContain(ESC);
        // Headers bold, never red: red is for errors.
        expect(forced.stdout()).toContain(`${ESC}1m`);
        expect(forced.stdout()).not.toContain(`${ESC}31m`);

        const tty = captureIo();
        (tty.io.out as { isTTY?: boolean }).isTTY = true;
        await withEnv({ NO_COLOR: '1', FORCE_COLOR: undefined }, () => reportCommand(file, {}, tty.io));
        expect(tty.stdout()).toMatch(/┌/);
        expect(tty.stdout()).not.toContain(ESC);
    }, 300_000);

    it('run --json prints JSON on stdout for spec errors and bad arguments too', async () => {
        const dir = project();
        const bad = join(dir, 'bad.mismatch');
        writeFileSync(bad, 'experiment Bad {\n  model x = gguf "models/nope.gguf"\n  evaluate y on z using w\n}\n');
        const c = captureIo();
        expect(await runCommand(bad, { json: true, threads: 1, gpu: 'off' }, c.io)).toBe(1);
        const j = JSON.parse(c.stdout());
        expect(j.status).toBe('invalid');
        expect(j.error.message).toMatch(/has errors; nothing was run/);
        expect(j.diagnostics.length).toBeGreaterThan(0);
        for (const d of j.diagnostics) expect(Object.keys(d).sort()).toEqual(['code', 'column', 'file', 'line', 'message', 'severity']);
        expect(j.diagnostics.some((d: { line: number; severity: string }) => d.line === 3 && d.severity === 'error')).toBe(true);

        const a = captureIo();
        expect(await runCommand(join(dir, 'p.mismatch'), { json: true, threads: 'two' }, a.io)).toBe(1);
        expect(JSON.parse(a.stdout())).toEqual({ status: 'error', error: { message: '--threads must be a positive integer (got two)' }, diagnostics: [] });
    });

    it('colorEnabled follows NO_COLOR, then FORCE_COLOR, then the terminal', async () => {
        const { colorEnabled } = await import('../../cli/output.js');
        expect(colorEnabled({ isTTY: true }, {})).toBe(true);
        expect(colorEnabled({ isTTY: false }, {})).toBe(false);
        expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
        expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true); // empty NO_COLOR does not count (no-color.org)
        expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
        expect(colorEnabled({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false);
        expect(colorEnabled({ isTTY: false }, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(false);
    });
});

describe('paths outside the workspace', () => {
    const collect = () => {
        let o = '';
        let e = '';
        return { out: { write: (s: string) => (o += s) }, err: { write: (s: string) => (e += s) }, text: () => o + e, stdout: () => o };
    };

    it('absolute, .. and symlinked paths: a warning that never shows the file, an error with --strict', async () => {
        const root = tempDir('mm-paths-');
        const ws = join(root, 'ws');
        const outside = join(root, 'outside');
        mkdirSync(ws);
        mkdirSync(outside);
        // A secret outside the workspace, shaped like /etc/passwd (a CSV whose header is its first record).
        writeFileSync(join(outside, 'secret.csv'), 'root:x:0:0:TOPSECRET:/root:/bin/bash\ndaemon:x:1:1\n');
        symlinkSync(join(outside, 'secret.csv'), join(ws, 'linked.csv'));
        writeFileSync(join(outside, 'common.mismatch'), 'decoding shared { temperature 0 }\n');
        const spec = join(ws, 'p.mismatch');
        writeFileSync(
            spec,
            `import "../outside/common.mismatch"
experiment P {
  dataset a from "${join(outside, 'secret.csv')}" { question "q"  answers "a"  split test 1 }
  dataset b from "../outside/secret.csv" { question "q"  answers "a"  split test 1 }
  dataset c from "linked.csv" { question "q"  answers "a"  split test 1 }
  model m = gguf "/nonexistent-dir/m.gguf"
}
`,
        );
        const c = collect();
        const code = await runCheck([spec], { json: true }, c.out, c.err);
        const diags = JSON.parse(c.stdout()) as { line: number; severity: string; code: string; message: string }[];
        const outsideDiags = diags.filter((d) => d.code === 'path-outside-workspace');
        expect(outsideDiags.map((d) => [d.line, d.severity])).toEqual([
            [1, 'warning'],
            [3, 'warning'],
            [4, 'warning'],
            [5, 'warning'],
            [6, 'warning'],
        ]);
        expect(outsideDiags[1].message).toMatch(/an absolute path/);
        expect(outsideDiags[2].message).toMatch(/a path with \.\./);
        expect(outsideDiags[3].message).toMatch(/a symlink to .*secret\.csv/);
        expect(c.text()).not.toContain('TOPSECRET');
        expect(code).toBe(diags.some((d) => d.severity === 'error') ? 1 : 0);

        const s = collect();
        expect(await runCheck([spec], { strict: true }, s.out, s.err)).toBe(1);
        expect(s.text()).toMatch(/p\.mismatch:3:\d+: error path-outside-workspace: .*refused here \(--strict/);
        expect(s.text()).not.toContain('TOPSECRET');
        const r = captureIo();
        expect(await runCommand(spec, { strict: true, json: true, threads: 1, gpu: 'off' }, r.io)).toBe(1);
        expect(JSON.parse(r.stdout()).status).toBe('invalid');
        expect(r.stdout()).not.toContain('TOPSECRET');
        await runCheck([spec], { strict: false }, collect().out, collect().err); // the policy back to the default
    });

    it('in the language server: an error while the workspace is untrusted, a warning once trusted (roots: the workspace folders)', async () => {
        const { policyFromInitialize, setPathPolicy } = await import('../../language/validation/path-policy.js');
        const { loadSpecs } = await import('../../language/load.js');
        const root = tempDir('mm-trust-');
        const ws = join(root, 'ws');
        mkdirSync(join(ws, 'specs'), { recursive: true });
        writeFileSync(join(root, 'secret.csv'), 'root:x:0:0:TOPSECRET\n');
        writeFileSync(join(ws, 'data.csv'), 'q,a\nWhat?,This\n');
        const spec = join(ws, 'specs', 't.mismatch');
        // data.csv is outside the spec's folder but inside the workspace folder: fine in the editor.
        writeFileSync(spec, 'experiment T {\n  dataset a from "../../secret.csv" { question "q"  answers "a" }\n  dataset b from "../data.csv" { question "q"  answers "a" }\n}\n');
        const folders = [{ uri: pathToFileURL(ws).toString() }];
        try {
            expect(policyFromInitialize({ initializationOptions: { trusted: false }, workspaceFolders: folders })).toEqual({ strict: true, roots: [ws] });
            expect(policyFromInitialize({ workspaceFolders: null })).toEqual({ strict: false });
            setPathPolicy(policyFromInitialize({ initializationOptions: { trusted: false }, workspaceFolders: folders }));
            const untrusted = (await loadSpecs([spec])).diagnostics.filter((d) => d.code === 'path-outside-workspace');
            expect(untrusted.map((d) => [d.line, d.severity])).toEqual([[2, 'error']]);
            setPathPolicy(policyFromInitialize({ initializationOptions: { trusted: true }, workspaceFolders: folders }));
            const trusted = (await loadSpecs([spec])).diagnostics;
            expect(trusted.filter((d) => d.code === 'path-outside-workspace').map((d) => [d.line, d.severity])).toEqual([[2, 'warning']]);
            expect(JSON.stringify(trusted)).not.toContain('TOPSECRET');
        } finally {
            setPathPolicy({ strict: false, roots: undefined });
        }
    });

    it('a FIFO as a dataset: check answers at once with "not a regular file"', async () => {
        const ws = tempDir('mm-fifo-');
        execFileSync('mkfifo', [join(ws, 'pipe.jsonl')]);
        const spec = join(ws, 'f.mismatch');
        writeFileSync(spec, 'experiment F {\n  dataset d from "pipe.jsonl" { split test 1 }\n}\n');
        const c = collect();
        expect(await runCheck([spec], {}, c.out, c.err)).toBe(1);
        expect(c.text()).toMatch(/f\.mismatch:2:\d+: error dataset-file-unreadable: .*not a regular file \(a FIFO\)/);
    }, 30_000);
});
