// The trainer at 1B shape, for bench/train (sections `lora1b` and `full1b`, run only when named: they
// write gigabytes and take tens of minutes on 2 cores):
//   lora1b  LoRA (rank 8, all 7 matrices) on a Llama-3.2-1B-shaped GGUF (16 × 2048, 32/8 heads, FFN
//           8192, 128,256-token BPE, tied head, rope_freqs; random weights) in F16, Q8_0 and Q4_K:
//           tokens/s and peak RSS; the same LoRA in PyTorch (Debian's python3-torch; PEFT's LoRA
//           written out: frozen Linear + (α/r)·B·A) on the same file, batches and step count at 1 and
//           2 threads; and the Q8_0 run's peak RSS against file size + 25% + activations.
//   full1b  LoRA vs full fine-tuning per optimizer step at the 1B width with 4 layers and a 32,000-token
//           vocabulary (full F32 training of all 1.24B parameters needs about 20 GB: weights, gradients,
//           AdamW m and v; this one stays under 8 GiB).
// Tokens are counted alike on every side: the micro-batch's sequence lengths (padding excluded), summed
// over the optimizer steps after the first (the first step, a warm-up, is not timed on any side).
// Peak RSS: the trainer child's VmHWM and PyTorch's whole-process max RSS (/usr/bin/time), model
// loading included on both sides.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { GgmlType, gv, readGguf, readTensorRaw, writeGguf, type GgufTensorOut, type GgufValue } from '../../engine/train/gguf.js';
import type { LlamaConfig } from '../../engine/train/llama.js';
import { checkJob, countParameters, trainModel, type TrainJob } from '../../engine/train/api.js';
import { packBatch } from '../../engine/train/native.js';
import { loadGgml, toFloat } from '../../engine/train/ffi.js';
import type { TrainEvent } from '../../engine/train/types.js';
import { realConfig, realVocab, writeRandomLlamaGguf } from '../../test/train/real-shapes.js';
import { ggmlQuantize } from '../../test/train/quantize.js';
import { makeFacts } from '../../test/train/helpers.js';

const ALL7 = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
const mib = (b: number) => b / 2 ** 20;
const gib = (b: number) => b / 2 ** 30;

/** An F16 GGUF of the config at random weights (N(0, 1/in) matrices, unit norms, Llama 3 rope factors). */
function writeShapeF16(path: string, config: LlamaConfig, vocabShape: 'llama-3.2-1b' | 'tinyllama-1.1b', seed: number) {
    if (existsSync(path)) return;
    const vocab = realVocab(vocabShape);
    if (vocab.tokens.length !== config.vocabSize) throw new Error(`vocabulary ${vocabShape} has ${vocab.tokens.length} tokens, config ${config.vocabSize}`);
    writeRandomLlamaGguf(path, config, vocab, { type: GgmlType.F16, seed, name: 'bench 1B shape (random weights)' });
}

/** The F16 file's matrices requantized by ggml, one tensor in memory at a time (the same weights). */
function requantize(src: string, dst: string, type: GgmlType) {
    if (existsSync(dst)) return;
    const file = readGguf(src);
    const fileType: Record<number, number> = { [GgmlType.Q8_0]: 7, [GgmlType.Q4_K]: 15 };
    const md: [string, GgufValue][] = file.typed.map(([k, v]) => (k === 'general.file_type' ? [k, gv.u32(fileType[type])] : [k, v]));
    const g = loadGgml('off');
    const tensors: GgufTensorOut[] = file.tensors.map((t) => {
        // widened by ggml's own to_float (F16C): a JS loop over 1.24B halves took minutes on 2 cores
        const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
        const rowBytes = t.nbytes / (data.length / t.shape[0]);
        readTensorRaw(
            file,
            t.name,
            (bytes, off) => {
                const at = (off / rowBytes) * t.shape[0];
                if (t.type === GgmlType.F32) new Uint8Array(data.buffer, at * 4, bytes.byteLength).set(bytes);
                else toFloat(g, t.type, bytes, data, at);
            },
            Math.max(1, Math.floor((16 << 20) / rowBytes)) * rowBytes,
        );
        if (t.shape.length === 1) return { name: t.name, shape: t.shape, data, type: 'f32' as const };
        return { name: t.name, shape: t.shape, data: ggmlQuantize(type, data, t.shape[0]), type: { ggml: type } };
    });
    writeGguf(`${dst}.tmp`, md, tensors);
    renameSync(`${dst}.tmp`, dst);
}

interface Measured {
    tokensPerSecond: number;
    msPerStep: number;
    steps: number;
    tokens: number;
    peakRssBytes: number;
    loss: number;
    device: string;
    /** the 1-minute load average when the run ended (the machine is shared) */
    load?: number;
}

/** Our trainer on `steps`+1 optimizer steps; tokens/s and ms/step over the steps after the first. */
async function oursRun(cache: string, job: TrainJob, steps: number): Promise<Measured> {
    const prog: { el: number; tokens: number; loss: number }[] = [];
    const r = await trainModel(
        { ...job, maxSteps: steps + 1 },
        {
            onEvent: (e: TrainEvent) => {
                if (e.type === 'progress') prog.push({ el: e.elapsedSeconds, tokens: e.tokensPerSecond * e.elapsedSeconds, loss: e.loss });
            },
        },
    );
    void cache;
    if (prog.length !== steps + 1) throw new Error(`expected ${steps + 1} steps, got ${prog.length}`);
    const first = prog[0],
        last = prog[prog.length - 1];
    const secs = last.el - first.el,
        toks = last.tokens - first.tokens;
    return { tokensPerSecond: toks / secs, msPerStep: (secs / steps) * 1000, steps, tokens: Math.round(toks), peakRssBytes: r.peakRssBytes, loss: last.loss, device: r.device };
}

function timeRss(cmd: string, argv: string[]): { seconds: number; rssKiB: number; stdout: string; stderr: string } {
    const t0 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const seconds = (performance.now() - t0) / 1000;
    const m = /MAXRSS (\d+)/.exec(r.stderr ?? '');
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
    return { seconds, rssKiB: m ? Number(m[1]) : NaN, stdout: r.stdout, stderr: r.stderr };
}

export interface Bench1bOptions {
    root: string;
    cache: string;
    sections: string[];
    /** our thread counts (the best is reported) */
    threads: number[];
    /** PyTorch's thread counts (the best is reported) */
    torchThreads: number[];
    /** timed optimizer steps after the warm-up step */
    steps: number;
    batch: number;
    /** base types of the lora1b section (f16, q8_0, q4_k) */
    types: string[];
    /** repetitions of each side-by-side comparison */
    repeat: number;
    log: (...a: unknown[]) => void;
}

export async function bench1b(o: Bench1bOptions): Promise<Record<string, unknown>> {
    const { cache, log } = o;
    const results: Record<string, unknown> = {};
    const facts = makeFacts(o.batch * (o.steps + 1), 3);
    const loraJob = (base: string, outDir: string, threads: number): TrainJob => ({
        base,
        examples: facts,
        mode: 'lora',
        lora: { rank: 8, alpha: 16, targets: [...ALL7] },
        epochs: 1,
        lr: 1e-4,
        batch: o.batch,
        seed: 1,
        threads,
        outDir,
        tokenization: 'completion',
        gpu: 'off',
    });

    if (o.sections.includes('lora1b')) {
        const config: LlamaConfig = { ...realConfig('llama-3.2-1b', { width: 'real' }), nCtx: 256 };
        log(
            `\n== LoRA at Llama-3.2-1B shape: ${config.nLayer} layers × ${config.nEmbd}, ${config.nHead}/${config.nHeadKv} heads, FFN ${config.nFf}, vocabulary ${config.vocabSize} (tied), ${(countParameters(config) / 1e9).toFixed(2)}B parameters, random weights`,
        );
        const f16 = join(cache, 'llama32-1b-f16.gguf');
        const t0 = performance.now();
        writeShapeF16(f16, config, 'llama-3.2-1b', 1);
        const files: Record<string, string> = { f16, q8_0: join(cache, 'llama32-1b-q8_0.gguf'), q4_k: join(cache, 'llama32-1b-q4_k.gguf') };
        for (const k of Object.keys(files)) if (!o.types.includes(k)) delete files[k];
        if (files.q8_0) requantize(f16, files.q8_0, GgmlType.Q8_0);
        if (files.q4_k) requantize(f16, files.q4_k, GgmlType.Q4_K);
        log(
            `files (${((performance.now() - t0) / 1000).toFixed(0)} s to write or find): ${Object.entries(files)
                .map(([k, p]) => `${k} ${gib(statSync(p).size).toFixed(2)} GiB`)
                .join(', ')}`,
        );
        // the batches, as the trainer packs them (sequence order differs: the trainer shuffles; the token
        // count per step is the sum of the batch's sequence lengths on both sides)
        const chk = await checkJob(loraJob(f16, join(cache, 'tmp1b'), 1));
        const T = chk.seqLen;
        const topRows = chk.train
            .map((s) => s.tokens.length - s.answerStart)
            .sort((a, b) => b - a)
            .slice(0, o.batch)
            .reduce((a, b) => a + b, 0);
        const pad = chk.train[0].tokens[chk.train[0].tokens.length - 1];
        const torchSteps = [];
        for (let s = 0; s <= o.steps; s++) {
            const seqs = chk.train.slice(s * o.batch, (s + 1) * o.batch);
            const mb = packBatch(seqs, o.batch, T, topRows, pad);
            torchSteps.push({ tokens: [...mb.tokens], rows: [...mb.rowIndex.slice(0, mb.nReal)], targets: [...mb.targets.slice(0, mb.nReal)], nTokens: seqs.reduce((a, x) => a + x.tokens.length, 0) });
        }
        const meanTok = chk.train.reduce((a, s) => a + s.tokens.length, 0) / chk.train.length;
        log(
            `data: ${chk.train.length} facts, batch ${o.batch} × ${T} positions (${meanTok.toFixed(1)} real tokens per sequence), ${o.steps} timed steps after 1 warm-up step; LoRA rank 8, α 16 on ${ALL7.join(',')}`,
        );

        const ours: Record<string, Measured[]> = {};
        const torchRuns: { threads: number; rep: number; tokensPerSecond: number; rssBytes: number; loss: number; load: number }[] = [];
        const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
        const probe = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
        const torchVersion = probe.status === 0 ? probe.stdout.trim() : undefined;
        const f16File = readGguf(f16);
        writeFileSync(
            join(cache, 'torch-1b-job.json'),
            JSON.stringify({
                config,
                T,
                B: o.batch,
                lr: 1e-4,
                steps: torchSteps,
                gguf: f16,
                lora: { rank: 8, alpha: 16, targets: ALL7 },
                index: f16File.tensors.map((t) => ({ name: t.name, shape: t.shape, offset: t.offset, type: t.type })),
            }),
        );
        const runOurs = async (type: string, th: number) => {
            const m = { ...(await oursRun(cache, loraJob(files[type], join(cache, `ours-1b-${type}`), th), o.steps)), load: loadavg()[0] };
            (ours[`${type}@${th}`] ??= []).push(m);
            log(
                `ours ${type.padEnd(5)} ${th} thread(s): ${m.tokensPerSecond.toFixed(2)} tokens/s (${(m.msPerStep / 1000).toFixed(1)} s/step), peak RSS ${mib(m.peakRssBytes).toFixed(0)} MiB, loss ${m.loss.toFixed(3)}, load average ${m.load.toFixed(1)}`,
            );
        };
        const runTorch = (th: number, rep: number) => {
            const r = timeRss(py, [join(o.root, 'bench/train/torch_llama.py'), join(cache, 'torch-1b-job.json'), '-', String(th)]);
            const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
            const load = loadavg()[0];
            torchRuns.push({ threads: th, rep, tokensPerSecond: j.tokens_per_second, rssBytes: r.rssKiB * 1024, loss: j.final_loss, load });
            log(
                `PyTorch ${torchVersion} f32 base ${th} thread(s): ${j.tokens_per_second.toFixed(2)} tokens/s (${(j.seconds / j.steps).toFixed(1)} s/step), peak RSS ${(r.rssKiB / 1024).toFixed(0)} MiB, loss ${j.final_loss.toFixed(3)}, load average ${load.toFixed(1)}`,
            );
        };
        const types = ['f16', 'q8_0', 'q4_k'].filter((t) => files[t]);
        for (let rep = 0; rep < o.repeat; rep++) {
            // each side by side: ours (F16, every thread count), PyTorch (every thread count), then the quantized bases
            for (const th of o.threads) await runOurs(types[0], th);
            if (torchVersion) for (const th of o.torchThreads) runTorch(th, rep);
            for (const type of types.slice(1)) for (const th of o.threads) await runOurs(type, th);
        }
        const best = (k: string) => ours[k].reduce((a, b) => (b.tokensPerSecond > a.tokensPerSecond ? b : a));
        const summary: Record<string, unknown> = {};
        for (const type of types) {
            const all = o.threads.flatMap((th) => ours[`${type}@${th}`]);
            const bestTh = o.threads.reduce((a, th) => (best(`${type}@${th}`).tokensPerSecond > best(`${type}@${a}`).tokensPerSecond ? th : a));
            summary[type] = {
                bestThreads: bestTh,
                fileBytes: statSync(files[type]).size,
                tokensPerSecond: { min: Math.min(...all.map((m) => m.tokensPerSecond)), max: Math.max(...all.map((m) => m.tokensPerSecond)), best: best(`${type}@${bestTh}`).tokensPerSecond },
                peakRssBytes: { min: Math.min(...all.map((m) => m.peakRssBytes)), max: Math.max(...all.map((m) => m.peakRssBytes)) },
                runs: o.threads.flatMap((th) => ours[`${type}@${th}`].map((m) => ({ ...m, threads: th }))),
            };
        }
        results.lora1b = { config, batch: o.batch, seqLen: T, steps: o.steps, summary, torch: torchVersion ? { version: torchVersion, runs: torchRuns } : 'not installed' };
        log('\n| base | threads | tokens/s (ours) | peak RSS (ours) | file |');
        log('|---|---|---|---|---|');
        for (const type of types)
            for (const th of o.threads) {
                const ms = ours[`${type}@${th}`];
                log(
                    `| ${type} | ${th} | ${range(
                        ms.map((m) => m.tokensPerSecond),
                        2,
                    )} | ${range(
                        ms.map((m) => mib(m.peakRssBytes)),
                        0,
                    )} MiB | ${mib(statSync(files[type]).size).toFixed(0)} MiB |`,
                );
            }
        if (torchVersion) {
            for (const th of o.torchThreads) {
                const rs = torchRuns.filter((r) => r.threads === th);
                log(
                    `| PyTorch f32 | ${th} | ${range(
                        rs.map((r) => r.tokensPerSecond),
                        2,
                    )} | ${range(
                        rs.map((r) => mib(r.rssBytes)),
                        0,
                    )} MiB | (reads the F16 file) |`,
                );
            }
            // ratios per repetition: our best thread count against PyTorch's best, each measured in that repetition
            const ratios: Record<string, { speed: number[]; memory: number[] }> = {};
            for (let rep = 0; rep < o.repeat; rep++) {
                const tr = torchRuns.filter((r) => r.rep === rep);
                const tBest = tr.reduce((a, b) => (b.tokensPerSecond > a.tokensPerSecond ? b : a));
                for (const type of types) {
                    const mine = o.threads.map((th) => ours[`${type}@${th}`][rep]).reduce((a, b) => (b.tokensPerSecond > a.tokensPerSecond ? b : a));
                    const e = (ratios[type] ??= { speed: [], memory: [] });
                    e.speed.push(mine.tokensPerSecond / tBest.tokensPerSecond);
                    e.memory.push(mine.peakRssBytes / tBest.rssBytes);
                }
            }
            for (const [type, e] of Object.entries(ratios))
                log(`ratio ours ${type} ÷ PyTorch (each at its best thread count): tokens/s ${range(e.speed, 3)}× (goal ≥ 1.0), peak RSS ${range(e.memory, 3)}× (goal ≤ 0.5)`);
            (results.lora1b as Record<string, unknown>).ratios = ratios;
        }
        // item 3's bound for a quantized base (Q8_0, Q4_K): file + 25% + activations
        const bounds: Record<string, unknown> = {};
        for (const type of ['q8_0', 'q4_k'].filter((t) => files[t])) {
            const runs = o.threads.flatMap((th) => ours[`${type}@${th}`]);
            const E = config.nEmbd,
                F = config.nFf,
                L = config.nLayer,
                Hh = config.nHead,
                Vv = config.vocabSize;
            const tokens = o.batch * T;
            const perTokenLayer = 10 * E + 4 * F + 2 * Hh * T;
            const acts = tokens * (L * perTokenLayer + 4 * E) * 4 * 2 + 3 * Vv * topRows * 4;
            const file = statSync(files[type]).size;
            const bound = file * 1.25 + acts;
            const peak = Math.max(...runs.map((m) => m.peakRssBytes));
            log(
                `\nmemory bound (${type} base): activations = B·T × (L·(10E + 4F + 2·H·T) + 4E) floats × 4 bytes × 2 (values kept for the backward pass and their gradients) + 3·V·n floats (the n answer rows' logits, softmax, gradient)`,
            );
            log(`  = ${tokens} × (${L}·(10·${E} + 4·${F} + 2·${Hh}·${T}) + 4·${E}) × 8 + 3·${Vv}·${topRows}·4 = ${mib(acts).toFixed(0)} MiB`);
            log(
                `  file ${mib(file).toFixed(0)} MiB + 25% + activations = ${mib(bound).toFixed(0)} MiB; measured peak RSS ${mib(peak).toFixed(0)} MiB (${(peak / bound).toFixed(2)} of the bound: ${peak <= bound ? 'within' : 'OVER'})`,
            );
            bounds[type] = { fileBytes: file, activationBytes: acts, boundBytes: bound, peakRssBytes: peak, within: peak <= bound };
        }
        (results.lora1b as Record<string, unknown>).memoryBound = bounds;
    }

    if (o.sections.includes('full1b')) {
        // 1B width, 4 layers, TinyLlama's 32,000-token SPM vocabulary with a tied head
        const config: LlamaConfig = { ...realConfig('llama-3.2-1b', { width: 'real' }), nCtx: 256, nLayer: 4, vocabSize: 32000 };
        const path = join(cache, 'llama32-1b-4l-32k-f16.gguf');
        writeShapeF16(path, config, 'tinyllama-1.1b', 2);
        const n = countParameters(config);
        log(
            `\n== LoRA vs full per optimizer step at the 1B width: ${config.nLayer} layers × ${config.nEmbd}, FFN ${config.nFf}, vocabulary ${config.vocabSize} (tied), ${(n / 1e6).toFixed(0)}M parameters, F16 file`,
        );
        log(`(all 16 layers and the 128,256-token vocabulary trained in full need about 16 bytes × 1.24B = 20 GB: more than this shared machine gives one run)`);
        const th = o.threads.at(-1)!;
        const fullRuns: Measured[] = [],
            loraRuns: Measured[] = [];
        for (let rep = 0; rep < o.repeat; rep++) {
            const full = await oursRun(cache, { ...loraJob(path, join(cache, 'ours-4l-full'), th), mode: 'full', lora: undefined }, o.steps);
            const lora = await oursRun(cache, loraJob(path, join(cache, 'ours-4l-lora'), th), o.steps);
            fullRuns.push(full);
            loraRuns.push(lora);
            log(
                `full: ${(full.msPerStep / 1000).toFixed(2)} s/step, peak RSS ${mib(full.peakRssBytes).toFixed(0)} MiB; LoRA: ${(lora.msPerStep / 1000).toFixed(2)} s/step, peak RSS ${mib(lora.peakRssBytes).toFixed(0)} MiB; LoRA ÷ full ${(lora.msPerStep / full.msPerStep).toFixed(3)}`,
            );
        }
        // the same LoRA without staging the F16 matrices in F32 (native.ts stageFrozenMatrices): ggml's
        // out_prod then converts each whole matrix once per token
        process.env.MISMATCH_TRAIN_STAGING = 'off';
        let unstaged: Measured | undefined;
        try {
            unstaged = await oursRun(cache, loraJob(path, join(cache, 'ours-4l-lora-unstaged'), th), 1);
        } finally {
            delete process.env.MISMATCH_TRAIN_STAGING;
        }
        log(
            `LoRA without F32 staging: ${(unstaged.msPerStep / 1000).toFixed(2)} s/step (${(unstaged.msPerStep / loraRuns.at(-1)!.msPerStep).toFixed(1)}× the staged step), peak RSS ${mib(unstaged.peakRssBytes).toFixed(0)} MiB`,
        );
        const ratios = loraRuns.map((l, i) => l.msPerStep / fullRuns[i].msPerStep);
        // FLOPs per token: forward 2N, backward through frozen weights 2N (input gradients), full adds 2N
        // (weight gradients); N counts the matrices a token goes through (the head only for answer rows)
        log(`ratio LoRA step ÷ full step: ${range(ratios, 3)} (${th} threads; FLOP floor ≈ 4N/6N = 0.67; goal ≤ 0.75)`);
        results.full1b = { config, params: n, threads: th, full: fullRuns, lora: loraRuns, ratios, loraUnstaged: unstaged };
    }
    return results;
}

function range(xs: number[], digits: number): string {
    const lo = Math.min(...xs),
        hi = Math.max(...xs);
    return lo === hi || xs.length === 1 ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
}
