/**
 * The engine's entry point: run a Plan (topologically, with per-seed instances, cache hits from the
 * run store, cancellation and resume), or read the results of a Plan from the store without running.
 *
 * Instances: with `seeds N` (N > 1), every step a replicate redraws (`stochastic`: its stage is in
 * the experiment's `redraw`, all by default) and every step downstream of one runs once per seed
 * index; a redrawn step's own seeds are offset by the index, a step that is only downstream keeps
 * its seeds. A hypothesis is a single instance that reads all seeds of its evaluation; the
 * hypotheses of a run are adjusted as one family (Holm) when collected.
 * Store key of an instance = sha256(engine format version, the step's plan key, seed index, the store keys of its input instances (in order, without their names, so a
 * rename keeps every key), the content hashes of its files (not their absolute paths: a moved
 * project keeps its keys), and the effective parameters the plan
 * key cannot know: the server URL a `server` model without one gets from the editor's setting).
 *
 * The store is locked for the whole run (a second run waits, saying who holds it), and every
 * cached entry is verified before its outputs are used; a damaged one is reported and recomputed.
 */
import { defaultThreads } from './threads.js';
import type { Plan, Step } from '../language/plan-types.js';
import type { EngineEvent, EventSink } from './events.js';
import type { EvaluateMetrics, EvaluationSummary, HypothesisMetrics, RunSummary, StepResult } from './results-types.js';
import { describeHolder, ENGINE_FORMAT_VERSION, openStore, sha256, Store, type Manifest, type Provenance, type StoreLock } from './store/index.js';
import type { ExecContext, InstanceOutput } from './steps/context.js';
import { ModelPool } from './steps/model-pool.js';
import { executeStep } from './steps/execute-step.js';
import { adjustFamily } from './stats/family.js';

export { openStore, Store, ENGINE_FORMAT_VERSION } from './store/index.js';

export type GpuSetting = 'auto' | 'cuda' | 'vulkan' | 'metal' | 'off' | false;

export interface RunOptions {
    /** The run store directory (`.mismatch/` beside the spec by default; the caller decides). */
    storeDir: string;
    /** CPU threads for inference and training (default: available cores). */
    threads?: number;
    /** GPU backend: 'auto' detects CUDA/Vulkan/Metal, 'off' (or false) forces the CPU. */
    gpu?: GpuSetting;
    /** Cancels the run; the step in flight stops at its next checkpoint and nothing done is lost. */
    signal?: AbortSignal;
    onEvent?: EventSink;
    /** Run only this step and the inputs it needs (cache hits where possible). */
    step?: string;
    /** Run every step up to and including this one, in spec order ("Run to here"). */
    to?: string;
    /** Step ids to recompute even when the store holds them. */
    force?: string[];
    /** Parallel sequences for local generation (default: 8 on a GPU backend, 1 on the CPU; engine/models/sequences.ts). */
    sequences?: number;
    /** When another process holds the store's lock: wait for it (default, with a log event naming the holder) or fail at once. */
    lockWait?: boolean;
}

export interface Instance {
    step: Step;
    seedIndex?: number;
    /** `step` or `step@seedIndex`. */
    name: string;
    inputs: Instance[];
}

function instanceName(step: string, seedIndex?: number): string {
    return seedIndex === undefined ? step : `${step}@${seedIndex}`;
}

/** Expands a Plan into step instances (per seed where needed), in execution order. */
export function planInstances(plan: Plan): Instance[] {
    const seeds = Math.max(1, plan.seeds | 0);
    const perSeed = new Map<string, boolean>();
    const byStep = new Map<string, Instance[]>();
    const out: Instance[] = [];
    for (const step of plan.steps) {
        for (const i of step.inputs) if (!byStep.has(i)) throw new Error(`step ${step.id} reads ${i}, which is not before it in the plan`);
        const ps = seeds > 1 && step.kind !== 'hypothesis' && (step.stochastic || step.inputs.some((i) => perSeed.get(i)));
        perSeed.set(step.id, ps);
        const list: Instance[] = [];
        for (const seedIndex of ps ? Array.from({ length: seeds }, (_, k) => k) : [undefined]) {
            const inputs: Instance[] = [];
            for (const id of step.inputs) {
                const ins = byStep.get(id)!;
                if (perSeed.get(id)) {
                    if (seedIndex === undefined)
                        inputs.push(...ins); // a hypothesis reads every seed
                    else inputs.push(ins[seedIndex]);
                } else inputs.push(ins[0]);
            }
            const inst: Instance = { step, seedIndex, name: instanceName(step.id, seedIndex), inputs };
            list.push(inst);
            out.push(inst);
        }
        byStep.set(step.id, list);
    }
    return out;
}

/**
 * Per-kind versions: bumped when one step kind's computation changes, so only its entries (and
 * their dependants) recompute. Version 1 adds nothing to the key. hypothesis 2: the across-seed
 * verdict is inconclusive when the per-seed differences are degenerate; 3: the test follows what was
 * replicated (question-level sign-flip on shared questions, paired t over independent draws),
 * effect with interval, notes.
 */
export const STEP_VERSIONS: Partial<Record<Step['kind'], number>> = { hypothesis: 3 };

/** Store keys of every instance (hashing the files each step reads; missing files → no key). */
export async function instanceKeys(plan: Plan, instances: Instance[], store: Store): Promise<Map<Instance, { key?: string; error?: string }>> {
    const keys = new Map<Instance, { key?: string; error?: string }>();
    for (const inst of instances) {
        const inputKeys: string[] = [];
        let error: string | undefined;
        for (const i of inst.inputs) {
            const k = keys.get(i);
            if (!k?.key) error ??= `input ${i.name} has no key${k?.error ? ` (${k.error})` : ''}`;
            else inputKeys.push(k.key);
        }
        const files: string[] = [];
        for (const f of inst.step.files) {
            try {
                // The content only: the plan key holds the path as written (relative to the spec), so
                // a project moved elsewhere keeps its keys.
                files.push(await store.fileHash(f));
            } catch {
                error ??= `file not found: ${f}`;
            }
        }
        if (error) keys.set(inst, { error });
        else {
            const kv = STEP_VERSIONS[inst.step.kind] ?? 1;
            const effective = effectiveParams(inst.step);
            keys.set(inst, {
                key: sha256(
                    JSON.stringify({
                        v: ENGINE_FORMAT_VERSION,
                        plan: inst.step.key,
                        seed: inst.seedIndex ?? 0,
                        inputs: inputKeys,
                        files,
                        ...(kv > 1 ? { kv } : {}),
                        ...(effective ? { effective } : {}),
                    }),
                ),
            });
        }
    }
    return keys;
}

/**
 * Parameters a step runs with that its plan key may not hold: a `server` model's URL is filled in
 * from the editor's default after the plan (and its keys) were made, so the servers go into the
 * store key here; two servers never share entries (a model name is only what a server calls its
 * weights). Several servers count as a set: their order changes nothing.
 */
function effectiveParams(step: Step): Record<string, unknown> | undefined {
    if (step.kind !== 'model' || step.params.source.kind !== 'server') return undefined;
    const src = step.params.source;
    return src.urls && src.urls.length > 1 ? { urls: [...src.urls].sort() } : { url: src.url };
}

function selectInstances(plan: Plan, instances: Instance[], options: RunOptions): Set<Instance> {
    const want = new Set<Instance>();
    const addWithInputs = (i: Instance) => {
        if (want.has(i)) return;
        want.add(i);
        i.inputs.forEach(addWithInputs);
    };
    const find = (id: string, flag: string) => {
        if (!plan.steps.some((s) => s.id === id)) throw new Error(`${flag} ${id}: no such step (steps: ${plan.steps.map((s) => s.id).join(', ')})`);
    };
    if (options.step) {
        find(options.step, '--step');
        instances.filter((i) => i.step.id === options.step).forEach(addWithInputs);
    } else if (options.to) {
        find(options.to, '--to');
        const last = plan.steps.findIndex((s) => s.id === options.to);
        const ids = new Set(plan.steps.slice(0, last + 1).map((s) => s.id));
        instances.filter((i) => ids.has(i.step.id)).forEach(addWithInputs);
    } else instances.forEach((i) => want.add(i));
    for (const f of options.force ?? []) find(f, '--force');
    return want;
}

function isAbort(e: unknown): boolean {
    return (e as Error)?.name === 'AbortError';
}

/** Runs a Plan. Never throws for a failing step: the summary says what failed. */
export async function runExperiment(plan: Plan, options: RunOptions): Promise<RunSummary> {
    const t0 = Date.now();
    const emit = (e: EngineEvent) => {
        try {
            options.onEvent?.(e);
        } catch {
            /* a listener's error must not break the run */
        }
    };
    const store = openStore(options.storeDir);
    const threads = options.threads ?? defaultThreads();
    const gpu = options.gpu === 'off' || options.gpu === false ? false : (options.gpu ?? 'auto');
    const summary: RunSummary = { experiment: plan.experiment, file: plan.file, storeDir: store.dir, status: 'done', seconds: 0, steps: [], evaluations: [], hypotheses: [] };
    let instances: Instance[];
    let selected: Set<Instance>;
    try {
        instances = planInstances(plan);
        selected = selectInstances(plan, instances, options);
    } catch (e) {
        summary.status = 'failed';
        summary.error = { message: (e as Error).message };
        emit({ type: 'run-finished', summary });
        return summary;
    }
    const order = instances.filter((i) => selected.has(i));
    let lock: StoreLock;
    try {
        lock = await store.lock(
            { spec: plan.file, purpose: 'run' },
            {
                wait: options.lockWait ?? true,
                signal: options.signal,
                onWait: (h) => emit({ type: 'log', level: 'warn', message: `waiting for the run store ${store.dir}: it is in use by ${describeHolder(h)}` }),
            },
        );
    } catch (e) {
        summary.status = isAbort(e) ? 'cancelled' : 'failed';
        summary.error = { message: (e as Error).message };
        emit({ type: 'run-finished', summary });
        return summary;
    }
    try {
        return await runLocked(plan, options, store, instances, order, summary, emit, threads, gpu, t0);
    } finally {
        await lock.release();
    }
}

async function runLocked(
    plan: Plan,
    options: RunOptions,
    store: Store,
    instances: Instance[],
    order: Instance[],
    summary: RunSummary,
    emit: (e: EngineEvent) => void,
    threads: number,
    gpu: 'auto' | 'cuda' | 'vulkan' | 'metal' | false,
    t0: number,
): Promise<RunSummary> {
    emit({
        type: 'run-started',
        experiment: plan.experiment,
        storeDir: store.dir,
        instances: order.map((i) => ({ step: i.step.id, kind: i.step.kind, ...(i.seedIndex !== undefined ? { seedIndex: i.seedIndex } : {}) })),
        time: new Date().toISOString(),
    });
    const keys = await instanceKeys(plan, instances, store);
    const outputs = new Map<Instance, InstanceOutput>();
    const failed = new Set<Instance>();
    const force = new Set(options.force ?? []);
    const pool = new ModelPool({ threads, gpu, sequences: options.sequences });
    const byStepInstances = new Map<string, Instance[]>();
    for (const i of instances) byStepInstances.set(i.step.id, [...(byStepInstances.get(i.step.id) ?? []), i]);

    try {
        for (const inst of order) {
            const ref = { step: inst.step.id, kind: inst.step.kind, ...(inst.seedIndex !== undefined ? { seedIndex: inst.seedIndex } : {}) };
            const base: StepResult = {
                step: inst.step.id,
                kind: inst.step.kind,
                key: keys.get(inst)?.key ?? '',
                status: 'pending',
                cached: false,
                seconds: 0,
                ...(inst.seedIndex !== undefined ? { seedIndex: inst.seedIndex } : {}),
            };
            if (options.signal?.aborted) {
                summary.status = 'cancelled';
                summary.steps.push({ ...base, status: 'cancelled' });
                continue;
            }
            const failedInput = inst.inputs.find((i) => failed.has(i));
            const k = keys.get(inst)!;
            if (failedInput || !k.key) {
                const message = failedInput ? `not run: its input ${failedInput.name} failed` : `cannot run: ${k.error}`;
                const r: StepResult = { ...base, status: 'failed', error: { message } };
                failed.add(inst);
                summary.steps.push(r);
                summary.status = 'failed';
                emit({ type: 'step-failed', ...ref, result: r, error: { message, location: { file: inst.step.range.file, line: inst.step.range.start.line + 1 } } });
                continue;
            }
            const key = k.key;
            const damaged = store.has(key) && !force.has(inst.step.id) ? await store.verify(key) : undefined;
            if (damaged) {
                const message = `the stored result of ${inst.name} is damaged (${damaged}); recomputing it (entry ${store.entryDir(key)})`;
                emit({ type: 'log', level: 'warn', ...ref, message });
                await store.discard(key);
            }
            if (!damaged && store.has(key) && !force.has(inst.step.id)) {
                const r = (await store.readResult(key))!;
                const m = await store.readManifest(key);
                const res = asInstance({ ...r, cached: true, status: 'done', ...(m?.provenance ? { provenance: m.provenance } : {}) }, inst);
                outputs.set(inst, { step: inst.step.id, seedIndex: inst.seedIndex, dir: store.entryDir(key), result: res });
                await store.setLatest(plan.file, inst.step.id, inst.seedIndex, key);
                summary.steps.push(res);
                emit({ type: 'step-cached', ...ref, result: res });
                continue;
            }
            const started = Date.now();
            const startedAt = new Date().toISOString();
            emit({ type: 'step-started', ...ref, key, time: startedAt });
            const warnings: string[] = damaged ? [`recomputed: the stored result was damaged (${damaged})`] : [];
            pool.resetUsage();
            let tmp: string | undefined;
            try {
                tmp = await store.begin(key);
                const ctx: ExecContext = {
                    plan,
                    step: inst.step,
                    seedIndex: inst.seedIndex,
                    // Only a step the replicate redraws draws new numbers; one that is merely
                    // downstream of a redrawn step keeps its own seeds.
                    seedOffset: inst.step.stochastic ? (inst.seedIndex ?? 0) : 0,
                    outDir: tmp,
                    checkpointDir: store.checkpointDir(key),
                    input: (id) => {
                        const i = inst.inputs.find((x) => x.step.id === id);
                        const o = i && outputs.get(i);
                        if (!o) throw new Error(`step ${inst.step.id}: input ${id} is not available`);
                        return o;
                    },
                    inputsAll: (id) =>
                        inst.inputs
                            .filter((x) => x.step.id === id)
                            .map((x) => {
                                const o = outputs.get(x);
                                if (!o) throw new Error(`step ${inst.step.id}: input ${x.name} is not available`);
                                return o;
                            }),
                    models: pool,
                    threads,
                    gpu,
                    signal: options.signal,
                    progress: (done, total, unit, message) => emit({ type: 'step-progress', ...ref, done, total, unit, ...(message ? { message } : {}) }),
                    metric: (values) => emit({ type: 'metrics', ...ref, values }),
                    warn: (message) => {
                        warnings.push(message);
                        emit({ type: 'log', level: 'warn', ...ref, message });
                    },
                };
                const outcome = await executeStep(ctx);
                const all = [...warnings, ...(outcome.warnings ?? [])];
                for (const w of outcome.warnings ?? []) emit({ type: 'log', level: 'warn', ...ref, message: w });
                const seconds = (Date.now() - started) / 1000;
                const finishedAt = new Date().toISOString();
                const result: StepResult = { ...base, status: 'done', seconds, finishedAt, ...(outcome.metrics ? { metrics: outcome.metrics } : {}), ...(all.length ? { warnings: all } : {}) };
                const inputsMap: Record<string, string> = {};
                for (const i of inst.inputs) inputsMap[i.name] = keys.get(i)!.key!;
                const filesMap: Record<string, string> = {};
                for (const f of inst.step.files) filesMap[f] = await store.fileHash(f);
                const provenance = await provenanceOf(pool, outcome.metrics, threads);
                result.provenance = provenance;
                const committed = await store.commit(tmp, result, {
                    key,
                    step: inst.step.id,
                    kind: inst.step.kind,
                    ...(inst.seedIndex !== undefined ? { seedIndex: inst.seedIndex } : {}),
                    experiment: plan.experiment,
                    spec: plan.file,
                    inputs: inputsMap,
                    files: filesMap,
                    status: 'done',
                    startedAt,
                    finishedAt,
                    seconds,
                    versions: await versions(),
                    provenance,
                });
                tmp = undefined;
                await store.setLatest(plan.file, inst.step.id, inst.seedIndex, key);
                outputs.set(inst, { step: inst.step.id, seedIndex: inst.seedIndex, dir: store.entryDir(key), result: committed });
                summary.steps.push(committed);
                emit({ type: 'step-finished', ...ref, result: committed });
                await releaseIdleModels(order.slice(order.indexOf(inst) + 1), outputs, pool);
            } catch (e) {
                const seconds = (Date.now() - started) / 1000;
                if (tmp) await import('node:fs/promises').then((fs) => fs.rm(tmp!, { recursive: true, force: true })).catch(() => {});
                if (isAbort(e) || options.signal?.aborted) {
                    const r: StepResult = { ...base, status: 'cancelled', seconds };
                    summary.status = 'cancelled';
                    summary.steps.push(r);
                    failed.add(inst);
                    emit({ type: 'step-failed', ...ref, result: r, error: { message: 'cancelled' } });
                    continue;
                }
                const err = e as Error & { file?: string; line?: number; field?: string };
                const message = err?.message ?? String(e);
                const r: StepResult = { ...base, status: 'failed', seconds, error: { message, detail: err?.stack } };
                failed.add(inst);
                summary.status = 'failed';
                summary.steps.push(r);
                const location = err.file ? { file: err.file, line: err.line, field: err.field } : { file: inst.step.range.file, line: inst.step.range.start.line + 1 };
                emit({ type: 'step-failed', ...ref, result: r, error: { message, detail: err?.stack, location } });
            }
        }
    } finally {
        await pool.close();
    }
    collect(summary, plan.steps.filter((s) => s.kind === 'hypothesis').length);
    summary.seconds = (Date.now() - t0) / 1000;
    emit({ type: 'run-finished', summary });
    return summary;
}

/** A stored result seen as this instance (entries are shared by equal keys: a renamed step, or
 * seed index 0 of `seeds N` and the single-seed run). */
function asInstance(r: StepResult, inst: Instance): StepResult {
    const out: StepResult = { ...r, step: inst.step.id, kind: inst.step.kind };
    if (inst.seedIndex !== undefined) out.seedIndex = inst.seedIndex;
    else delete out.seedIndex;
    if (inst.step.kind === 'hypothesis' && out.metrics && 'name' in out.metrics) out.metrics = { ...out.metrics, name: inst.step.id };
    // Arms are named after their model steps; an entry made before a rename carries the old names.
    if (inst.step.kind === 'evaluate' && out.metrics && Array.isArray((out.metrics as EvaluateMetrics).arms)) {
        const names = inst.step.params.arms.map((a) => a.model);
        const arms = (out.metrics as EvaluateMetrics).arms;
        if (arms.length === names.length) out.metrics = { ...out.metrics, arms: arms.map((a, i) => ({ ...a, arm: names[i] })) };
    }
    return out;
}

/** Model step ids a generating step answers with. */
function modelsUsed(step: Step): string[] {
    if (step.kind === 'label' || step.kind === 'knowledge') return [step.params.model];
    if (step.kind === 'evaluate') return step.params.arms.map((a) => a.model);
    return [];
}

/**
 * Closes the inference processes of base models no remaining step generates with (a teacher is
 * unloaded once its labels are written, before fine-tuning starts). Conservative: a model whose
 * reference is not known yet (a finetune still to run) keeps every loaded model.
 */
async function releaseIdleModels(remaining: Instance[], outputs: Map<Instance, InstanceOutput>, pool: ModelPool): Promise<void> {
    const loaded = pool.loadedPaths();
    if (!loaded.length) return;
    const { readModelRef } = await import('./steps/model-pool.js');
    const needed = new Set<string>();
    for (const inst of remaining) {
        for (const id of modelsUsed(inst.step)) {
            let input = inst.inputs.find((i) => i.step.id === id);
            // A finetune still to run generates with its base model (plus an adapter).
            while (input && !outputs.get(input) && input.step.kind === 'finetune') {
                const baseId = input.step.params.model;
                input = input.inputs.find((i) => i.step.id === baseId);
            }
            const out = input && outputs.get(input);
            if (!out) return; // not computed yet: cannot tell which base it uses
            try {
                const ref = await readModelRef(out.dir);
                if (ref.kind === 'local') needed.add(ref.path);
            } catch {
                return;
            }
        }
    }
    for (const p of loaded) if (!needed.has(p)) await pool.release(p);
}

/** Fills `evaluations` and `hypotheses` from the step results; the hypotheses are one family of
 * `familySize` (the experiment's hypothesis count; default: those that have a result), Holm-adjusted. */
export function collect(summary: { steps: StepResult[]; evaluations: EvaluationSummary[]; hypotheses: (HypothesisMetrics & { step: string })[] }, familySize?: number): void {
    summary.evaluations = [];
    summary.hypotheses = [];
    for (const r of summary.steps) {
        if (r.status !== 'done' || !r.metrics) continue;
        if (r.kind === 'evaluate') {
            for (const a of (r.metrics as EvaluateMetrics).arms ?? []) {
                summary.evaluations.push({
                    arm: a.arm,
                    evaluation: r.step,
                    ...(r.seedIndex !== undefined ? { seedIndex: r.seedIndex } : {}),
                    correct: a.correct,
                    wrong: a.wrong,
                    abstained: a.abstained,
                    empty: a.empty ?? 0,
                    total: a.total,
                });
            }
        } else if (r.kind === 'hypothesis') {
            summary.hypotheses.push({ ...(r.metrics as HypothesisMetrics), step: r.step });
        }
    }
    summary.hypotheses = adjustFamily(summary.hypotheses, familySize ?? summary.hypotheses.length);
}

/**
 * Where a step's result was computed: the backend and device its models actually ran on (the
 * inference processes' and the trainer's reports), threads and library versions.
 */
async function provenanceOf(pool: ModelPool, metrics: StepResult['metrics'], threads: number): Promise<Provenance> {
    const v = await versions();
    const used = pool.usage();
    const trained = metrics && typeof (metrics as { device?: unknown }).device === 'string' ? String((metrics as { device: string }).device) : undefined;
    const pretrained =
        metrics && typeof (metrics as { pretrain?: { device?: unknown } }).pretrain?.device === 'string' ? String((metrics as { pretrain: { device: string } }).pretrain.device) : undefined;
    for (const d of [trained, pretrained]) if (d) used.push({ backend: backendOfDevice(d), ...(backendOfDevice(d) !== 'cpu' ? { gpu: d } : {}) });
    const backends = [...new Set(used.map((u) => u.backend))].sort();
    const gpus = [...new Set(used.map((u) => u.gpu).filter((g): g is string => !!g))].sort();
    const sequences = used.map((u) => u.sequences).filter((n): n is number => n !== undefined);
    return {
        backend: backends.length ? backends.join('+') : 'none',
        ...(gpus.length ? { gpu: gpus.join(', ') } : {}),
        threads,
        ...(sequences.length ? { sequences: Math.max(...sequences) } : {}),
        nodeLlamaCpp: v.nodeLlamaCpp ?? 'unknown',
        engineFormat: ENGINE_FORMAT_VERSION,
        node: process.version,
    };
}

function backendOfDevice(device: string): string {
    if (/cuda/i.test(device)) return 'cuda';
    if (/vulkan/i.test(device)) return 'vulkan';
    if (/metal/i.test(device)) return 'metal';
    return 'cpu';
}

let versionsCache: Record<string, string> | undefined;
async function versions(): Promise<Record<string, string>> {
    if (versionsCache) return versionsCache;
    const v: Record<string, string> = { engineFormat: String(ENGINE_FORMAT_VERSION), node: process.version };
    try {
        // The package's `exports` hide its package.json: find it above the resolved entry point.
        const { createRequire } = await import('node:module');
        const { readFileSync } = await import('node:fs');
        const { dirname, join } = await import('node:path');
        const req = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
        for (let dir = dirname(req.resolve('node-llama-cpp')), i = 0; i < 8; dir = dirname(dir), i++) {
            try {
                const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
                if (pkg.name === 'node-llama-cpp' && pkg.version) {
                    v.nodeLlamaCpp = pkg.version;
                    break;
                }
            } catch {
                /* no package.json at this level */
            }
        }
    } catch {
        /* not installed beside the engine */
    }
    versionsCache = v;
    return v;
}

/**
 * Latest StepResult per step instance for this plan, without running anything: the entry for the
 * current key when the store has it; otherwise the last result computed for that step of this spec
 * (marked `stale: true`, its key differs from the current one); steps never run are left out.
 */
export async function readResults(plan: Plan, storeDir: string): Promise<StepResult[]> {
    const store = openStore(storeDir);
    const instances = planInstances(plan);
    const keys = await instanceKeys(plan, instances, store);
    const out: StepResult[] = [];
    // Only the manifest and result.json are checked here (cheap, for showing results); a run checks every output before using it.
    const read = async (key: string): Promise<StepResult | undefined> => {
        if (!store.has(key) || (await store.verify(key, { outputs: false }))) return undefined;
        const r = await store.readResult(key);
        const m: Manifest | undefined = await store.readManifest(key);
        return r && (m?.provenance ? { ...r, provenance: m.provenance } : r);
    };
    for (const inst of instances) {
        const k = keys.get(inst)?.key;
        if (k) {
            const r = await read(k);
            if (r) {
                out.push(asInstance({ ...r, cached: true, stale: false }, inst));
                continue;
            }
        }
        const latest = await store.getLatest(plan.file, inst.step.id, inst.seedIndex);
        if (latest) {
            const r = await read(latest);
            if (r) out.push(asInstance({ ...r, cached: true, stale: true }, inst));
        }
    }
    return out;
}

/** Every store key the plan references now (for `mismatch clean`). */
export async function planKeys(plan: Plan, storeDir: string): Promise<Set<string>> {
    const store = openStore(storeDir);
    const instances = planInstances(plan);
    const keys = await instanceKeys(plan, instances, store);
    return new Set([...keys.values()].map((k) => k.key).filter((k): k is string => !!k));
}
