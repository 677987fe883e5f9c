/**
 * `mismatch run <file> [--step NAME] [--to NAME] [--json] [--store DIR] [--threads N]
 *  [--gpu auto|cuda|vulkan|off] [--sequences N] [--force STEP...] [--fail-on-hypothesis]`
 *
 * Progress: a cli-progress bar per step instance on a TTY, plain lines otherwise (and on stderr
 * with --json, whose stdout is only the JSON). Exit codes: 0 the run completed; 1 an error (spec
 * errors, a failed step); 2 with --fail-on-hypothesis when a hypothesis does not hold (or is
 * inconclusive); 130 cancelled (Ctrl-C; the next run resumes from the store); 143 stopped by SIGTERM
 * (same as a cancel).
 */
import { defaultThreads } from '../engine/threads.js';
import { dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { Plan } from '../language/plan-types.js';
import { loadPlan } from '../language/load.js';
import type { EngineEvent } from '../engine/events.js';
import { runExperiment, type GpuSetting } from '../engine/run.js';
import type { RunSummary } from '../engine/results-types.js';
import { jsonSummary, renderResults } from './results.js';
import { summaryWithPremises } from '../engine/stats/premise.js';
import { stepTitles } from '../engine/format.js';
import { forStream, jsonError, type JsonError } from './output.js';
import { setPathPolicy } from '../language/validation/path-policy.js';

export const EXIT = { ok: 0, error: 1, hypothesis: 2, cancelled: 130, terminated: 143 } as const;

export interface RunCliOptions {
    step?: string;
    to?: string;
    json?: boolean;
    /** Every table (per replicate, per knowledge category, …), not only the verdicts and the outcomes per arm. */
    verbose?: boolean;
    store?: string;
    threads?: string | number;
    /** Parallel sequences per local model (default: the backend's, engine/models/sequences.ts). */
    sequences?: string | number;
    gpu?: string;
    force?: string[];
    failOnHypothesis?: boolean;
    /** Paths leaving the workspace are errors (nothing runs), else warnings. */
    strict?: boolean;
}

/** Loads a spec's Plan, printing its diagnostics; undefined when it has errors. */
export async function loadPlanOrReport(file: string, err: (s: string) => void, collect?: JsonError['diagnostics']): Promise<Plan | undefined> {
    const { plan, diagnostics } = await loadPlan(resolve(file));
    for (const d of diagnostics) {
        if (d.severity !== 'error' && d.severity !== 'warning') continue;
        if (collect) collect.push({ file: d.file, line: d.line, column: d.column, severity: d.severity, code: d.code, message: d.message });
        else err(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`);
    }
    return plan;
}

export function defaultStore(file: string): string {
    return join(dirname(resolve(file)), '.mismatch');
}

function label(e: { step: string; seedIndex?: number }, title: (id: string) => string = (id) => id): string {
    return e.seedIndex === undefined ? title(e.step) : `${title(e.step)} (seed ${e.seedIndex})`;
}

/** Renders engine events: bars on a TTY, plain lines elsewhere. Returns a stop function. */
export function progressRenderer(stream: NodeJS.WriteStream, tty: boolean, title: (id: string) => string = (id) => id): { onEvent: (e: EngineEvent) => void; stop: () => void } {
    // Steps by the names people read (unnamed ones by their text); the events carry the ids.
    const name = (e: { step: string; seedIndex?: number }) => label(e, title);
    if (!tty) {
        const lastPct = new Map<string, number>();
        const lastJob = new Map<string, string>();
        const line = (s: string) => stream.write(s + '\n');
        return {
            onEvent: (e) => {
                switch (e.type) {
                    case 'step-started':
                        line(`▶ ${name(e)} (${e.kind})`);
                        break;
                    case 'step-progress': {
                        const p = e.total ? Math.floor((10 * e.done) / e.total) : 0;
                        const k = name(e);
                        // a step waiting for an external trainer says once what to run and where the adapter goes
                        if (e.unit === 'job' && e.message) {
                            if (lastJob.get(k) !== e.message) line(`  ${k}: ${e.message}`);
                            lastJob.set(k, e.message);
                            break;
                        }
                        if (p > (lastPct.get(k) ?? 0) && p < 10) {
                            lastPct.set(k, p);
                            line(`  ${k}: ${e.done}/${e.total} ${e.unit}${e.message ? ` · ${e.message}` : ''}`);
                        }
                        break;
                    }
                    case 'step-finished':
                        line(`✓ ${name(e)} ${e.result.seconds.toFixed(1)} s`);
                        break;
                    case 'step-cached':
                        line(`↺ ${name(e)} (cached)`);
                        break;
                    case 'step-failed':
                        line(`✗ ${name(e)}: ${e.error.message}`);
                        break;
                    case 'log':
                        if (e.level !== 'info') line(`  ${e.level === 'warn' ? '⚠' : '✗'} ${e.step ? name(e as { step: string }) + ': ' : ''}${e.message}`);
                        break;
                }
            },
            stop: () => {},
        };
    }
    const multi = new cliProgress.MultiBar(
        { stream, clearOnComplete: false, hideCursor: true, format: ' {status} {name} |{bar}| {value}/{total} {unit} {message}', barsize: 24, autopadding: true },
        cliProgress.Presets.shades_grey,
    );
    const bars = new Map<string, cliProgress.SingleBar>();
    const bar = (e: { step: string; seedIndex?: number }) => {
        const k = name(e);
        let b = bars.get(k);
        if (!b) {
            b = multi.create(1, 0, { status: '▶', name: k.padEnd(18), unit: '', message: '' });
            bars.set(k, b);
        }
        return b;
    };
    return {
        onEvent: (e) => {
            switch (e.type) {
                case 'step-started':
                    bar(e);
                    break;
                case 'step-progress':
                    bar(e).setTotal(Math.max(1, e.total));
                    bar(e).update(e.done, { unit: e.unit, message: e.message ?? '' });
                    break;
                case 'step-finished': {
                    const b = bar(e);
                    b.update(b.getTotal(), { status: '✓', message: `${e.result.seconds.toFixed(1)} s` });
                    break;
                }
                case 'step-cached': {
                    const b = bar(e);
                    b.update(1, { status: '↺', message: 'cached' });
                    break;
                }
                case 'step-failed':
                    bar(e).update({ status: '✗', message: e.error.message.split('\n')[0].slice(0, 80) });
                    break;
                case 'log':
                    if (e.level !== 'info') multi.log(`${e.level === 'warn' ? '⚠' : '✗'} ${e.step ? name(e as { step: string }) + ': ' : ''}${e.message}\n`);
                    break;
            }
        },
        stop: () => multi.stop(),
    };
}

function parseGpu(v: string | undefined): GpuSetting {
    if (!v || v === 'auto') return 'auto';
    if (v === 'off' || v === 'cpu' || v === 'false') return 'off';
    if (v === 'cuda' || v === 'vulkan' || v === 'metal') return v;
    throw new Error(`--gpu must be auto, cuda, vulkan or off (got ${v})`);
}

/** Runs a spec the way the CLI does; returns the exit code. */
export async function runCommand(file: string, opts: RunCliOptions, io: { out: NodeJS.WriteStream; err: NodeJS.WriteStream } = { out: process.stdout, err: process.stderr }): Promise<number> {
    const err = (s: string) => io.err.write(s + '\n');
    // With --json, stdout is JSON whatever happens: the results, or the error and the spec's diagnostics.
    const fail = (status: 'invalid' | 'error', message: string, diagnostics: JsonError['diagnostics'] = []) => {
        if (opts.json) io.out.write(JSON.stringify(jsonError(status, message, diagnostics), null, 2) + '\n');
        err(`mismatch run: ${message}`);
        return EXIT.error;
    };
    let gpu: GpuSetting;
    let threads: number;
    let sequences: number | undefined;
    try {
        gpu = parseGpu(opts.gpu);
        threads = opts.threads === undefined ? defaultThreads() : Number(opts.threads);
        if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer (got ${opts.threads})`);
        sequences = opts.sequences === undefined ? undefined : Number(opts.sequences);
        if (sequences !== undefined && (!Number.isInteger(sequences) || sequences < 1 || sequences > 64)) throw new Error(`--sequences must be an integer from 1 to 64 (got ${opts.sequences})`);
    } catch (e) {
        return fail('error', (e as Error).message);
    }
    const diagnostics: JsonError['diagnostics'] = [];
    setPathPolicy({ strict: !!opts.strict });
    let plan: Plan | undefined;
    try {
        plan = await loadPlanOrReport(file, err, diagnostics);
    } catch (e) {
        return fail('error', `cannot read ${file}: ${(e as Error).message}`);
    }
    if (!opts.json) for (const d of diagnostics) err(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`);
    if (!plan) return fail('invalid', `${file} has errors; nothing was run`, diagnostics);
    const controller = new AbortController();
    let interrupts = 0;
    let terminated = false;
    const onSignal = (signal: NodeJS.Signals) => {
        interrupts++;
        if (signal === 'SIGTERM') terminated = true;
        if (interrupts === 1) {
            err(`\ncancelling… (the step in flight stops at its next checkpoint; ${signal === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C'} again to quit now)`);
            controller.abort();
        } else process.exit(terminated ? EXIT.terminated : EXIT.cancelled);
    };
    const onSigint = onSignal;
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    const progressStream = opts.json ? io.err : io.out;
    const renderer = progressRenderer(progressStream, !!progressStream.isTTY && !process.env.CI, stepTitles(plan.steps));
    let summary: RunSummary;
    try {
        summary = await runExperiment(plan, {
            storeDir: opts.store ? resolve(opts.store) : defaultStore(file),
            threads,
            gpu,
            ...(sequences !== undefined ? { sequences } : {}),
            signal: controller.signal,
            onEvent: renderer.onEvent,
            step: opts.step,
            to: opts.to,
            force: opts.force,
        });
    } catch (e) {
        // The engine reports step failures in the summary; anything thrown (the store, a bug) ends here.
        return fail('error', (e as Error).message, diagnostics);
    } finally {
        renderer.stop();
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
    }
    if (opts.json) io.out.write(JSON.stringify({ ...jsonSummary(summaryWithPremises(plan, summary)), diagnostics }, null, 2) + '\n');
    else {
        const text = renderResults(summary.steps, { familySize: plan.steps.filter((x) => x.kind === 'hypothesis').length, verbose: opts.verbose, plan });
        if (text) io.out.write(forStream('\n' + text + '\n', io.out));
        const cached = summary.steps.filter((s) => s.cached).length;
        io.out.write(`\n${summary.status} in ${summary.seconds.toFixed(1)} s · ${summary.steps.length} steps, ${cached} from the store (${summary.storeDir})\n`);
    }
    if (summary.error) err(`mismatch run: ${summary.error.message}`);
    for (const s of summary.steps) if (s.status === 'failed' && s.error && !opts.json) err(`✗ ${label(s, stepTitles(plan.steps))}: ${s.error.message}`);
    if (summary.status === 'cancelled') return terminated ? EXIT.terminated : EXIT.cancelled;
    if (summary.status === 'failed') return EXIT.error;
    if (opts.failOnHypothesis && summary.hypotheses.some((h) => h.verdict !== 'holds')) return EXIT.hypothesis;
    return EXIT.ok;
}

const collectForce = (v: string, prev: string[] = []) => [
    ...prev,
    ...v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
];

export function registerRun(program: Command): void {
    program
        .command('run')
        .description('run an experiment (steps already in the store are reused)')
        .argument('<file>', 'the .mismatch spec')
        .option('--step <name>', 'run this step and the inputs it needs')
        .option('--to <name>', 'run every step up to and including this one')
        .option('--json', 'print the results as JSON on stdout (progress goes to stderr)')
        .option('--verbose', 'print every table: per replicate, per knowledge category, selective prediction, the knowledge grid, fine-tuning')
        .option('--store <dir>', 'run store directory (default: .mismatch beside the spec)')
        .option('--threads <n>', 'CPU threads for inference and training (default: every core but one, at most 8)')
        .option('--gpu <backend>', 'auto | cuda | vulkan | off', 'auto')
        .option('--sequences <n>', 'questions answered together per local model (default: 8 on a GPU, 1 on the CPU)')
        .option('--force <step>', 'recompute this step even when stored (repeatable, or comma-separated)', collectForce)
        .option('--fail-on-hypothesis', 'exit with code 2 when a hypothesis does not hold')
        .option('--strict', "refuse dataset, model and import paths outside the workspace (the working directory and the spec's folder)")
        .action(async (file: string, opts: RunCliOptions) => {
            process.exitCode = await runCommand(file, opts);
        });
}
