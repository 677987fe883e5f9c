// The training loop (runs in the child process): data order, micro-batches, LR schedule, validation,
// early stopping, checkpoints and exact resume, outputs (GGUF or LoRA adapter, loss.csv, manifest.json).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, writeSync, closeSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { defaultThreads } from '../threads.js';
import { Session, packBatch } from './native.js';
import { initLlamaWeights, readLlamaGgufInfo, writeLlamaGguf, writeLoraGguf, countParameters, Rng, llamaTensorShapes, type LlamaTensors, type LayerMatrix } from './llama.js';
import { readGguf, writeGguf, type GgufValue } from './gguf.js';
import type { EpochFit, EpochLoss, ResolvedJob, StepLoss, SessionMemory, TrainEvent, TrainResult } from './types.js';

export interface TrainHooks {
    emit(e: TrainEvent): void;
    cancelled(): boolean;
    /** lets messages (cancel) in between steps */
    pause(): Promise<void>;
}

export class Cancelled extends Error {
    constructor() {
        super('training cancelled');
    }
}

/** Version 2 carries the structured loss curves and the per-epoch fit (an older checkpoint is not resumed). */
const CHECKPOINT_VERSION = 2;

interface CheckpointState {
    version: typeof CHECKPOINT_VERSION;
    jobKey: string;
    optSteps: number;
    microSteps: number;
    epoch: number;
    /** micro-batches of `epoch` already done */
    batchInEpoch: number;
    iter: number;
    tokensSeen: number;
    trainSeconds: number;
    csv: string[];
    stepLosses: StepLoss[];
    epochRows: EpochLoss[];
    fitEpochs: EpochFit['epochs'];
    epochLosses: number[];
    bestVal: number | null;
    badEpochs: number;
    index: { name: string; offset: number; length: number }[];
}

/** A key of everything that determines the training trajectory (resume refuses a different job). */
function jobKey(r: ResolvedJob): string {
    const j = r.job;
    const h = JSON.stringify([
        typeof j.base === 'string' ? j.base : j.base.init.seed,
        j.mode,
        j.lora,
        j.epochs,
        j.lr,
        j.warmup,
        j.schedule,
        j.minLrRatio,
        j.batch,
        j.gradAccum,
        j.weightDecay,
        j.optimizer,
        j.beta1,
        j.beta2,
        j.seed,
        r.train.length,
        r.validation.length,
        r.seqLen,
        r.config,
    ]);
    let x = 0x811c9dc5;
    for (let i = 0; i < h.length; i++) {
        x ^= h.charCodeAt(i);
        x = Math.imul(x, 0x01000193) >>> 0;
    }
    let y = 0;
    for (const s of r.train) for (const t of s.tokens) y = (Math.imul(y, 31) + t) >>> 0;
    return `${x.toString(16)}-${y.toString(16)}`;
}

function lrAt(step: number, total: number, r: ResolvedJob): number {
    const j = r.job;
    const warm = j.warmup ?? 0;
    if (step < warm) return (j.lr * (step + 1)) / warm;
    const sched = j.schedule ?? 'constant';
    if (sched === 'constant') return j.lr;
    const span = Math.max(1, total - warm);
    const prog = Math.min(1, (step - warm) / span);
    if (sched === 'linear') return Math.max(j.lr * (1 - prog), j.lr * 1e-3);
    const min = (j.minLrRatio ?? 0.1) * j.lr;
    return Math.max(min + 0.5 * (j.lr - min) * (1 + Math.cos(Math.PI * prog)), j.lr * 1e-4);
}

function rowsOf(s: { tokens: number[]; answerStart: number }) {
    return s.tokens.length - s.answerStart;
}

function writeCheckpoint(dir: string, state: Omit<CheckpointState, 'index'>, tensors: Iterable<[string, Float32Array]>) {
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const index: CheckpointState['index'] = [];
    const fd = openSync(join(tmp, 'tensors.bin'), 'w');
    let off = 0;
    for (const [name, data] of tensors) {
        writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        index.push({ name, offset: off, length: data.length });
        off += data.byteLength;
    }
    closeSync(fd);
    writeFileSync(join(tmp, 'state.json'), JSON.stringify({ ...state, index }));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
}

/**
 * The checkpoint's state; its tensors are read from tensors.bin when asked for, one at a time, into one
 * buffer the size of the largest (SavedState: each array is valid until the next `get`), so a resume
 * adds one tensor, not the whole state, to the memory the AdamW state already takes.
 */
function readCheckpoint(dir: string): { state: CheckpointState; tensors: { get(name: string): Float32Array | undefined } } | undefined {
    if (!existsSync(join(dir, 'state.json'))) return undefined;
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
    const index = new Map(state.index.map((e) => [e.name, e]));
    let buf: Float32Array | undefined;
    const get = (name: string): Float32Array | undefined => {
        const e = index.get(name);
        if (!e) return undefined;
        buf ??= new Float32Array(Math.max(...state.index.map((x) => x.length)));
        const fd = openSync(join(dir, 'tensors.bin'), 'r');
        try {
            const a = buf.subarray(0, e.length);
            const got = readSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength), 0, a.byteLength, e.offset);
            if (got !== a.byteLength) throw new Error(`checkpoint ${dir}: tensors.bin ends inside ${name}`);
            return a;
        } finally {
            closeSync(fd);
        }
    };
    return { state, tensors: { get } };
}

export async function runTraining(r: ResolvedJob, hooks: TrainHooks): Promise<TrainResult> {
    const j = r.job;
    const t0 = performance.now();
    mkdirSync(j.outDir, { recursive: true });
    const ckDir = join(j.outDir, 'checkpoint');
    // weights
    // a GGUF base is read by the session straight from the file, each tensor in its own type (LoRA)
    const file = typeof j.base === 'string' ? readLlamaGgufInfo(j.base).file : undefined;
    const weights = typeof j.base === 'string' ? undefined : initLlamaWeights(r.config, j.base.init.seed);
    const B = Math.min(j.batch ?? 16, r.train.length);
    const accum = j.gradAccum ?? 1;
    const T = r.seqLen;
    const topRows = (list: typeof r.train) =>
        list
            .map(rowsOf)
            .sort((a, b) => b - a)
            .slice(0, B)
            .reduce((a, b) => a + b, 0);
    const N = Math.max(topRows(r.train), topRows(r.validation), 1);
    const stepsPerEpoch = Math.ceil(r.train.length / B);
    let totalOpt = Math.ceil((stepsPerEpoch * j.epochs) / accum);
    if (j.maxSteps !== undefined) totalOpt = Math.min(totalOpt, j.maxSteps);
    const totalMicro = Math.min(stepsPerEpoch * j.epochs, totalOpt * accum);
    const opt = j.optimizer ?? 'adamw';
    let optSteps = 0;
    const targets = (j.lora?.targets ?? ['attn_q', 'attn_k', 'attn_v', 'attn_output']) as LayerMatrix[];
    const session = new Session({
        config: r.config,
        weights,
        file,
        mode: j.mode,
        batch: B,
        seqLen: T,
        rows: N,
        threads: j.threads ?? defaultThreads(),
        gpu: j.gpu ?? 'off',
        gradAccum: accum,
        lora: j.mode === 'lora' ? { rank: j.lora!.rank, alpha: j.lora!.alpha, targets, seed: j.seed } : undefined,
        optimizer: { type: opt, beta1: j.beta1 ?? 0.9, beta2: j.beta2 ?? 0.999, eps: 1e-8, weightDecay: j.weightDecay ?? 0 },
        lr: () => lrAt(optSteps, totalOpt, r),
    });
    try {
        const trainable = session.trainable.reduce((a, n) => a + session.elements(n), 0);
        const totalParams = countParameters(r.config) + (j.mode === 'lora' ? trainable : 0);
        const key = jobKey(r);
        let memory: SessionMemory | undefined;
        let microSteps = 0,
            epoch = 0,
            batchInEpoch = 0,
            tokensSeen = 0,
            trainSecondsBefore = 0;
        let csv: string[] = ['kind,step,epoch,train_loss,validation_loss,lr,tokens_per_second,elapsed_seconds'];
        let stepLosses: StepLoss[] = [];
        let epochRows: EpochLoss[] = [];
        let fitEpochs: EpochFit['epochs'] = [];
        let epochLosses: number[] = [];
        let bestVal: number | null = null,
            badEpochs = 0;
        let resumedFrom: number | undefined;
        if (j.resume) {
            const ck = readCheckpoint(ckDir);
            if (ck && ck.state.version !== CHECKPOINT_VERSION)
                hooks.emit({ type: 'log', line: `the checkpoint in ${ckDir} was written by an older trainer (version ${ck.state.version}); training starts over` });
            else if (ck) {
                if (ck.state.jobKey !== key) throw new Error(`the checkpoint in ${ckDir} belongs to a different job (settings or data changed); remove it or train without resume`);
                session.loadState({ iter: ck.state.iter, tensors: ck.tensors }, ck.state.optSteps);
                ({ optSteps, microSteps, epoch, batchInEpoch, tokensSeen, csv, stepLosses, epochRows, fitEpochs, epochLosses, bestVal, badEpochs } = ck.state);
                trainSecondsBefore = ck.state.trainSeconds;
                resumedFrom = optSteps;
            }
        }
        hooks.emit({
            type: 'start',
            totalSteps: totalOpt,
            epochs: j.epochs,
            examples: r.train.length,
            validationExamples: r.validation.length,
            trainableParams: trainable,
            totalParams,
            device: session.device,
            resumedFromStep: resumedFrom,
        });
        const padId = r.train[0].tokens[r.train[0].tokens.length - 1]; // EOS
        const tStart = performance.now();
        const elapsed = () => trainSecondsBefore + (performance.now() - tStart) / 1000;
        let tokensThisRun = 0;
        const checkpoint = () => {
            if (!session.stateSupported()) return;
            const st = session.saveState();
            writeCheckpoint(
                ckDir,
                {
                    version: CHECKPOINT_VERSION,
                    jobKey: key,
                    optSteps,
                    microSteps,
                    epoch,
                    batchInEpoch,
                    iter: st.iter,
                    tokensSeen,
                    trainSeconds: elapsed(),
                    csv,
                    stepLosses,
                    epochRows,
                    fitEpochs,
                    epochLosses,
                    bestVal,
                    badEpochs,
                },
                st.tensors,
            );
            hooks.emit({ type: 'checkpoint', step: optSteps, path: ckDir });
        };
        const validate = (): number | undefined => {
            if (r.validation.length === 0) return undefined;
            let sum = 0,
                n = 0;
            for (let i = 0; i < r.validation.length; i += B) {
                const seqs = r.validation.slice(i, i + B);
                const mb = packBatch(seqs, B, T, N, padId);
                sum += session.evalLoss(mb) * mb.nReal;
                n += mb.nReal;
            }
            return sum / n;
        };
        // Teacher-forced greedy fit: one forward pass (no gradient, as validate()) over the training
        // examples in micro-batches of B, keeping only the arg-max token per answer row; an example is
        // fitted when every answer row's arg-max is its target, the end token included. Costs one
        // forward pass over the training set per epoch, at most about a third of an epoch's forward +
        // backward (measured on the CPU, 4 layers × 128, 200 examples: training time +13 to +18%).
        const measureFit = (): number[] => {
            const fitted: number[] = [];
            for (let i = 0; i < r.train.length; i += B) {
                const seqs = r.train.slice(i, i + B);
                const mb = packBatch(seqs, B, T, N, padId);
                const best = session.argmaxRows(mb);
                let row = 0;
                seqs.forEach((sq, k) => {
                    const n = rowsOf(sq);
                    let ok = true;
                    for (let q = row; q < row + n; q++)
                        if (best[q] !== mb.targets[q]) {
                            ok = false;
                            break;
                        }
                    row += n;
                    if (ok) fitted.push(r.trainIndex[i + k]);
                });
            }
            return fitted.sort((a, b) => a - b);
        };
        let stoppedEarly = false;
        let lastLoss = NaN,
            stepLossSum = 0,
            stepLossN = 0;
        let lastValLoss: number | undefined;
        outer: while (epoch < j.epochs && microSteps < totalMicro) {
            const order = r.train.map((_, i) => i);
            new Rng((j.seed * 1_000_003 + epoch * 7919) >>> 0).shuffle(order);
            while (batchInEpoch < stepsPerEpoch) {
                if (microSteps >= totalMicro) break outer;
                if (hooks.cancelled()) throw new Cancelled();
                const seqs = order.slice(batchInEpoch * B, batchInEpoch * B + B).map((i) => r.train[i]);
                const mb = packBatch(seqs, B, T, N, padId);
                const loss = session.step(mb);
                if (!memory) {
                    memory = session.memory();
                    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
                    hooks.emit({
                        type: 'log',
                        line: `memory: weights ${mib(memory.weights)}, gradient accumulators and optimizer state ${mib(memory.optimizer)}, compute ${mib(memory.compute)} (micro-batch of ${B} × ${T} tokens)${memory.staging ? `, staging ${mib(memory.staging)}` : ''}`,
                    });
                }
                if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at step ${optSteps + 1}: lower the learning rate`);
                microSteps++;
                batchInEpoch++;
                const toks = seqs.reduce((a, s) => a + s.tokens.length, 0);
                tokensSeen += toks;
                tokensThisRun += toks;
                stepLossSum += loss;
                stepLossN++;
                epochLosses.push(loss);
                if (microSteps % accum === 0) {
                    const lr = lrAt(optSteps, totalOpt, r);
                    optSteps++;
                    lastLoss = stepLossSum / stepLossN;
                    stepLossSum = 0;
                    stepLossN = 0;
                    const el = elapsed();
                    const tps = tokensThisRun / ((performance.now() - tStart) / 1000);
                    const eta = ((performance.now() - tStart) / 1000 / Math.max(1, optSteps - (resumedFrom ?? 0))) * (totalOpt - optSteps);
                    csv.push(`step,${optSteps},${epoch + batchInEpoch / stepsPerEpoch},${lastLoss},,${lr},${tps.toFixed(1)},${el.toFixed(3)}`);
                    stepLosses.push({ step: optSteps, epoch: epoch + batchInEpoch / stepsPerEpoch, loss: lastLoss, lr, elapsedSeconds: el });
                    hooks.emit({
                        type: 'progress',
                        step: optSteps,
                        totalSteps: totalOpt,
                        epoch: epoch + batchInEpoch / stepsPerEpoch,
                        loss: lastLoss,
                        lr,
                        tokensPerSecond: tps,
                        etaSeconds: eta,
                        elapsedSeconds: el,
                    });
                    if (j.checkpointEvery && optSteps % j.checkpointEvery === 0 && batchInEpoch < stepsPerEpoch) checkpoint();
                }
                await hooks.pause();
            }
            // end of epoch
            const trainLoss = epochLosses.reduce((a, b) => a + b, 0) / Math.max(1, epochLosses.length);
            epochLosses = [];
            const val = validate();
            lastValLoss = val;
            epoch++;
            batchInEpoch = 0;
            const fitted = j.fitByEpoch ? measureFit() : undefined;
            if (fitted) fitEpochs.push({ epoch, step: optSteps, fitted });
            const elEpoch = elapsed();
            csv.push(`epoch,${optSteps},${epoch},${trainLoss},${val ?? ''},,,${elEpoch.toFixed(3)}`);
            epochRows.push({ epoch, step: optSteps, trainLoss, ...(val !== undefined ? { validationLoss: val } : {}), elapsedSeconds: elEpoch });
            hooks.emit({ type: 'epoch', epoch, trainLoss, validationLoss: val, step: optSteps, ...(fitted ? { fitted: fitted.length } : {}) });
            if (val !== undefined && j.earlyStopping) {
                if (bestVal === null || val < bestVal - (j.earlyStopping.minDelta ?? 0)) {
                    bestVal = val;
                    badEpochs = 0;
                } else if (++badEpochs >= j.earlyStopping.patience) {
                    stoppedEarly = true;
                }
            }
            if (microSteps % accum === 0) checkpoint();
            if (stoppedEarly) break;
        }
        const trainSeconds = elapsed();
        const exactResume = session.stateSupported();
        // the optimizer's state and the compute buffers go before the weights are copied out (a full
        // fine-tune's output copy then adds 4 bytes per parameter to 4, not to 16)
        session.releaseTraining();
        // outputs
        let modelPath: string;
        if (j.mode === 'lora') {
            modelPath = join(j.outDir, 'adapter.gguf');
            const pairs = new Map<string, { a: { shape: number[]; data: Float32Array }; b: { shape: number[]; data: Float32Array } }>();
            const shapes = llamaTensorShapes(r.config);
            for (let l = 0; l < r.config.nLayer; l++)
                for (const m of targets) {
                    const base = `blk.${l}.${m}.weight`;
                    const [inDim, outDim] = shapes.get(base)!;
                    pairs.set(base, { a: { shape: [inDim, j.lora!.rank], data: session.get(`${base}.lora_a`) }, b: { shape: [j.lora!.rank, outDim], data: session.get(`${base}.lora_b`) } });
                }
            writeLoraGguf(modelPath, { pairs, alpha: j.lora!.alpha, rank: j.lora!.rank }, { name: j.name });
        } else {
            modelPath = join(j.outDir, 'model.gguf');
            const out: LlamaTensors = new Map();
            for (const name of session.weightNames) out.set(name, { shape: session.shapeOf(name), data: session.get(name) });
            if (r.tokenizer) {
                writeLlamaGguf(modelPath, { config: r.config, tokenizer: r.tokenizer, tensors: out, name: j.name });
            } else {
                // a base with a vocabulary we do not model: keep all its metadata, replace the weights
                const baseFile = readGguf(j.base as string);
                const md: [string, GgufValue][] = baseFile.typed.filter(([k]) => k !== 'general.file_type');
                md.push(['general.file_type', { type: 'u32', value: 0 }]);
                writeGguf(
                    modelPath,
                    md,
                    [...out].map(([name, t]) => ({ name, shape: t.shape, data: t.data, type: 'f32' as const })),
                );
                void readLlamaGgufInfo;
            }
        }
        const lossCsv = join(j.outDir, 'loss.csv');
        writeFileSync(lossCsv, csv.join('\n') + '\n');
        const result: TrainResult = {
            modelPath,
            kind: j.mode === 'lora' ? 'lora' : 'model',
            lossCsv,
            manifestPath: join(j.outDir, 'manifest.json'),
            loss: { steps: stepLosses, epochs: epochRows },
            ...(j.fitByEpoch ? { fit: { examples: [...r.trainIndex], epochs: fitEpochs } } : {}),
            steps: optSteps,
            epochs: epoch,
            finalTrainLoss: lastLoss,
            finalValidationLoss: lastValLoss,
            stoppedEarly,
            trainSeconds,
            tokensPerSecond: tokensSeen / Math.max(1e-9, trainSeconds),
            trainableParams: trainable,
            totalParams,
            peakRssBytes: peakRss(),
            ...(memory ? { memory } : {}),
            device: session.device,
        };
        // the manifest's result leaves the loss curves out: loss.csv holds them
        const { examples: _e, validation: _v, ...settings } = j;
        writeFileSync(
            result.manifestPath,
            JSON.stringify(
                {
                    kind: 'mismatch-train',
                    settings: {
                        ...settings,
                        base: typeof j.base === 'string' ? j.base : { init: { config: j.base.init.config, seed: j.base.init.seed, vocabSize: j.base.init.tokenizer.tokens.length } },
                    },
                    data: { train: r.train.length, validation: r.validation.length, seqLen: T, batch: B, answerRowsPerBatch: N, stepsPerEpoch },
                    config: r.config,
                    result: { ...result, loss: undefined },
                    timings: { totalSeconds: (performance.now() - t0) / 1000, trainSeconds },
                    versions: r.versions,
                    exactResume,
                },
                null,
                2,
            ),
        );
        rmSync(ckDir, { recursive: true, force: true });
        return result;
    } finally {
        session.free();
    }
}

export { defaultThreads };

function peakRss(): number {
    try {
        const s = readFileSync('/proc/self/status', 'utf8');
        const m = /VmHWM:\s+(\d+) kB/.exec(s);
        if (m) return Number(m[1]) * 1024;
    } catch {
        /* not linux */
    }
    return process.memoryUsage().rss;
}
