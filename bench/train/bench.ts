// Trainer benchmark: the bar (pretrain 300 facts from scratch, then LoRA on 50 new facts),
// our trainer vs llama.cpp's llama-finetune and vs PyTorch on the same model and data, and LoRA vs
// full step time. Run with `node bench/train/run.mjs`. Timings on a shared machine are noisy: each
// comparison runs its two sides back to back, and the ratio is what to read.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
import { buildTokenizer, trainModel, checkJob, readLlamaGguf, writeLlamaGguf, initLlamaWeights, countParameters, type LlamaConfig, type TrainJob } from '../../engine/train/api.js';
import { packBatch } from '../../engine/train/native.js';
import { makeWorld, greedyAccuracy, type Fact } from '../../test/train/helpers.js';
import { buildLlamaCpp } from '../../scripts/llama-cpp.mjs';
import { bench1b } from './bench1b.js';

const root = process.env.MISMATCH_ROOT ?? process.cwd();
const cache = join(root, 'bench/.cache/train');
mkdirSync(cache, { recursive: true });
const args = process.argv.slice(2);
const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
};
const list = (v: string | undefined, d: number[]) => (v === undefined ? d : v.split(',').map(Number));
// --threads N (or a list "1,2": the 1B sections try each and report the best; the others take the largest)
const threadList = list(flag('--threads'), [1]);
const threads = Math.max(...threadList);
const sections = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
// the 1B sections write gigabytes and run for tens of minutes: only when named
const HEAVY = ['lora1b', 'full1b'];
const want = (s: string) => (sections.filter((x) => !HEAVY.includes(x)).length === 0 && !sections.some((x) => HEAVY.includes(x))) || sections.includes(s);
const results: Record<string, unknown> = { threads, date: new Date().toISOString() };
const log = (...a: unknown[]) => console.log(...a);

/** Greedy exact match through node-llama-cpp, prompts evaluated as the engine does (see test/train/helpers.ts). */
const greedy = (model: LlamaModel, facts: Fact[], lora?: string) => greedyAccuracy(model, facts, lora);

// ---- the world and the bar model --------------------------------------------------------------------
const world = makeWorld(120, 42); // 360 facts
const oldFacts = world.slice(0, 300);
const newFacts = world.slice(300, 350);
const tok = buildTokenizer({ texts: world.flatMap((f) => [f.prompt, f.answer]) });
const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 128, nHead: 4, nHeadKv: 2, nFf: 256, nCtx: 64, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false };
const preJob = (outDir: string, over: Partial<TrainJob> = {}): TrainJob => ({
    base: { init: { config, tokenizer: tok.data, seed: 1 } },
    examples: oldFacts,
    mode: 'full',
    epochs: Number(process.env.BAR_EPOCHS ?? 18),
    lr: Number(process.env.BAR_LR ?? 1e-3),
    warmup: Number(process.env.BAR_WARMUP ?? 0),
    schedule: (process.env.BAR_SCHED ?? 'constant') as 'constant',
    minLrRatio: 0.1,
    batch: Number(process.env.BAR_BATCH ?? 10),
    seed: 1,
    threads,
    outDir,
    ...over,
});

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
let preModelPath = join(cache, 'bar-pre/model.gguf');

if (want('bar')) {
    log(`\n== the bar: ${countParameters(config)} parameters, vocabulary ${tok.vocabSize}, ${oldFacts.length} facts (multi-token answers), ${threads} thread(s)`);
    const pre = process.env.BAR_REUSE && existsSync(preModelPath) ? JSON.parse(readFileSync(join(cache, 'bar-pre.json'), 'utf8')) : await trainModel(preJob(join(cache, 'bar-pre')));
    writeFileSync(join(cache, 'bar-pre.json'), JSON.stringify(pre));
    const model = await llama.loadModel({ modelPath: pre.modelPath });
    const accOld = await greedy(model, oldFacts);
    const accNewBefore = await greedy(model, newFacts);
    log(
        `pretrain: ${pre.steps} steps (${pre.epochs} epochs, batch ${preJob('').batch}, AdamW lr ${preJob('').lr} ${preJob('').schedule}), ${pre.trainSeconds.toFixed(1)} s, ${pre.tokensPerSecond.toFixed(0)} tokens/s, loss ${pre.finalTrainLoss.toFixed(3)}, peak RSS ${(pre.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    log(`  greedy exact match through node-llama-cpp: ${(accOld * 100).toFixed(1)}% of the 300 taught facts, ${(accNewBefore * 100).toFixed(1)}% of 50 untaught ones`);
    log(
        '  loss by epoch: ' +
            readFileSync(pre.lossCsv, 'utf8')
                .split('\n')
                .filter((l) => l.startsWith('epoch'))
                .map((l) => Number(l.split(',')[3]).toFixed(2))
                .join(' '),
    );
    if (process.env.BAR_ONLY_PRE) process.exit(0);
    const bar: Record<string, unknown> = {
        pretrain: {
            steps: pre.steps,
            seconds: pre.trainSeconds,
            tokensPerSecond: pre.tokensPerSecond,
            loss: pre.finalTrainLoss,
            accuracy: accOld,
            untaught: accNewBefore,
            params: countParameters(config),
        },
    };
    const all = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
    type LoraCfg = { label: string; replay: number; epochs: number; lr: number; rank: number; alpha: number; targets: readonly string[] };
    const cfgs: LoraCfg[] = process.env.BAR_LORA
        ? JSON.parse(process.env.BAR_LORA)
        : [
              { label: 'new facts only', replay: 0, epochs: 15, lr: 1e-3, rank: 8, alpha: 16, targets: all },
              { label: 'new facts + 100 replayed old facts', replay: 100, epochs: 15, lr: 1e-3, rank: 8, alpha: 16, targets: all },
          ];
    for (const cfg of cfgs) {
        const examples = [...newFacts, ...oldFacts.slice(0, cfg.replay)];
        const l = await trainModel({
            base: pre.modelPath,
            examples,
            mode: 'lora',
            lora: { rank: cfg.rank, alpha: cfg.alpha, targets: [...cfg.targets] as never },
            epochs: cfg.epochs,
            lr: cfg.lr,
            batch: 10,
            seed: 2,
            threads,
            outDir: join(cache, `bar-lora-${cfgs.indexOf(cfg)}`),
        });
        const n = await greedy(model, newFacts, l.modelPath),
            o = await greedy(model, oldFacts, l.modelPath);
        log(
            `LoRA r${cfg.rank} α${cfg.alpha} on ${cfg.targets.join(',')}, ${cfg.label} (${examples.length} examples, ${cfg.epochs} epochs, lr ${cfg.lr}, batch 10): ${l.trainSeconds.toFixed(1)} s, ${l.steps} steps, loss ${l.finalTrainLoss.toFixed(3)}; new ${(n * 100).toFixed(1)}%, old kept ${(o * 100).toFixed(1)}%`,
        );
        bar[cfg.label] = { ...cfg, seconds: l.trainSeconds, newAccuracy: n, oldAccuracy: o, examples: examples.length };
    }
    results.bar = bar;
    preModelPath = pre.modelPath;
    await model.dispose();
}

// ---- the same micro-batches for every trainer -------------------------------------------------------
async function batches(nSteps: number, B: number) {
    const r = await checkJob(preJob(join(cache, 'tmp'), { batch: B }));
    const T = r.seqLen;
    const steps: { tokens: number[]; rows: number[]; targets: number[]; nTokens: number }[] = [];
    let k = 0;
    for (let s = 0; s < nSteps; s++) {
        const seqs = [] as typeof r.train;
        for (let b = 0; b < B; b++) seqs.push(r.train[k++ % r.train.length]);
        const mb = packBatch(seqs, B, T, B * 8, tok.eosId);
        steps.push({ tokens: [...mb.tokens], rows: [...mb.rowIndex.slice(0, mb.nReal)], targets: [...mb.targets.slice(0, mb.nReal)], nTokens: seqs.reduce((a, x) => a + x.tokens.length, 0) });
    }
    return { T, steps, seqs: r.train };
}

function timeRss(cmd: string, argv: string[], env: Record<string, string> = {}): { seconds: number; rssKiB: number; stdout: string; stderr: string } {
    const t0 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', cmd, ...argv], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
    const seconds = (performance.now() - t0) / 1000;
    const m = /MAXRSS (\d+)/.exec(r.stderr ?? '');
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
    return { seconds, rssKiB: m ? Number(m[1]) : NaN, stdout: r.stdout, stderr: r.stderr };
}

/** Our trainer on a fixed number of steps in a child (same measurement as the others: whole process). */
async function ours(B: number, epochs: number, mode: 'full' | 'lora' = 'full', base?: string, cfg?: LlamaConfig) {
    const job: TrainJob = {
        ...preJob(join(cache, `ours-${mode}`), { batch: B, epochs, schedule: 'constant', warmup: 0, ...(cfg ? { base: { init: { config: cfg, tokenizer: tok.data, seed: 1 } } } : {}) }),
        ...(mode === 'lora' ? { base: base!, mode, lora: { rank: 4, alpha: 8, targets: ['attn_q', 'attn_v'] } } : base ? { base } : {}),
    };
    const r = await trainModel(job);
    return r;
}

// ---- llama.cpp's llama-finetune ---------------------------------------------------------------------
if (want('finetune')) {
    log('\n== vs llama.cpp llama-finetune (same model file, same text, same threads; it trains through the KV cache: no K/V or embedding gradients)');
    // built once per machine and llama.cpp commit, in the cache the llama-server test shares
    // (scripts/llama-cpp.mjs), at -O3: the tests' -O0 build runs ggml's kernels several times slower
    const { 'llama-finetune': bin } = await buildLlamaCpp(['llama-finetune'], { root, log, optimize: true });
    // The model: the bar model's shape, or --ft-layers / --ft-width (heads of 32, FFN 2 × width). At the
    // bar's size both processes' memory is mostly their runtime (Node and koffi against a bare binary);
    // at 8 × 768 (60M parameters) the weights and AdamW state are.
    const ftWidth = Number(flag('--ft-width') ?? config.nEmbd);
    const ftConfig: LlamaConfig = { ...config, nLayer: Number(flag('--ft-layers') ?? config.nLayer), nEmbd: ftWidth, nHead: ftWidth / 32, nHeadKv: ftWidth / 64, nFf: 2 * ftWidth };
    log(`model: ${ftConfig.nLayer} layers × ${ftWidth}, ${countParameters(ftConfig)} parameters, F32, full fine-tuning on both sides`);
    const modelPath = join(cache, 'ft-init.gguf');
    writeLlamaGguf(modelPath, { config: ftConfig, tokenizer: tok, tensors: initLlamaWeights(ftConfig, 1) });
    const text = oldFacts.map((f) => `${f.prompt} ${f.answer}`).join('\n');
    writeFileSync(join(cache, 'ft-data.txt'), text);
    // llama_opt_epoch trains one window of n_ctx tokens per step (n_batch is capped at n_ctx)
    // llama-finetune takes one window of ctxLen tokens per optimizer step; ours takes B question-answer
    // sequences. Like for like, B is chosen so that a step holds about as many tokens (activations, and
    // so the compute buffer, grow with them); --ft-batch overrides it.
    const ctxLen = 64,
        epochs = 2;
    const ex = (await checkJob(preJob(join(cache, 'tmp')))).train;
    const meanTokens = ex.reduce((a, s) => a + s.tokens.length, 0) / ex.length;
    const B = Number(flag('--ft-batch') ?? Math.max(1, Math.round(ctxLen / meanTokens)));
    log(`tokens per optimizer step: llama-finetune ${ctxLen}; ours ${B} sequences × ${meanTokens.toFixed(1)} tokens on average = ${(B * meanTokens).toFixed(0)}`);
    const ft = timeRss(
        bin,
        [
            '-m',
            modelPath,
            '-f',
            join(cache, 'ft-data.txt'),
            '-c',
            String(ctxLen),
            '-b',
            String(ctxLen),
            '-ub',
            String(ctxLen),
            '-t',
            String(threads),
            '--epochs',
            String(epochs),
            '-lr',
            '1e-3',
            '--val-split',
            '0',
            '-o',
            join(cache, 'ft-out.gguf'),
            '-ngl',
            '0',
        ],
        {},
    );
    // The number of windows it trained on, from its own progress bar ("train: [...] data=0000120/0000120"):
    // computing it from our tokenizer's count over-counted (it adds BOS and tokenizes on its own).
    const bars = [...ft.stderr.matchAll(/train: \[[^\]]*\] data=(\d+)\/(\d+)/g)];
    if (bars.length === 0) throw new Error(`llama-finetune printed no progress bar: ${ft.stderr.slice(-1000)}`);
    const ndata = Number(bars.at(-1)![2]);
    const ftTokens = ndata * ctxLen * epochs;
    const ftTps = ftTokens / ft.seconds;
    // ours on the same data as QA sequences (loss on answers only), same number of epochs and batch,
    // timed like llama-finetune: the whole child process, start and model load included.
    const tOurs = performance.now();
    // read from the same file as llama-finetune (not initialised in memory), so both load alike
    const o = await ours(B, epochs, 'full', modelPath, ftConfig);
    const oursWall = (performance.now() - tOurs) / 1000;
    const oursTokens = Math.round(o.tokensPerSecond * o.trainSeconds);
    const oursTps = oursTokens / oursWall;
    log(
        `llama-finetune: ${ftTokens} tokens (${ndata} windows of ${ctxLen} × ${epochs} epochs, from its progress bar) in ${ft.seconds.toFixed(1)} s (whole process, model load included) = ${ftTps.toFixed(0)} tokens/s, peak RSS ${(ft.rssKiB / 1024).toFixed(0)} MiB`,
    );
    log(
        `ours:           ${oursTokens} tokens in ${oursWall.toFixed(1)} s (whole child process; ${o.trainSeconds.toFixed(1)} s of it training) = ${oursTps.toFixed(0)} tokens/s, peak RSS ${(o.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    if (o.memory) {
        const mib = (b: number) => (b / 2 ** 20).toFixed(0);
        const m = o.memory;
        log(
            `ours, ggml buffers: weights ${mib(m.weights)} MiB, gradient accumulators + AdamW ${mib(m.optimizer)} MiB, compute ${mib(m.compute)} MiB; the rest of the peak (${mib(o.peakRssBytes - m.weights - m.optimizer - m.compute - m.staging)} MiB) is the process: Node, koffi, the libraries and the JS heap`,
        );
    }
    log(`ratio: speed ${(oursTps / ftTps).toFixed(2)}× (our steps compute padded sequences, its windows none), memory ${(o.peakRssBytes / 1024 / ft.rssKiB).toFixed(2)}× (goal ≤ 1.1)`);
    results.finetune = {
        llamaFinetune: { tokens: ftTokens, seconds: ft.seconds, tokensPerSecond: ftTps, rssKiB: ft.rssKiB },
        ours: { tokensPerSecond: oursTps, seconds: o.trainSeconds, rssBytes: o.peakRssBytes, batch: B, memory: o.memory },
        speedRatio: oursTps / ftTps,
        memoryRatio: o.peakRssBytes / 1024 / ft.rssKiB,
    };
}

// ---- PyTorch ----------------------------------------------------------------------------------------
if (want('torch')) {
    log('\n== vs PyTorch (Debian python3-torch; same model, initial weights, data, batch size, step count and AdamW settings; batch order differs)');
    const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const probe = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.status !== 0) {
        log('PyTorch is not installed (apt-get install python3-torch libopenblas0-pthread): skipped');
        results.torch = 'not installed';
    } else {
        const B = 10,
            nSteps = 120;
        const { T, steps } = await batches(nSteps, B);
        const w = initLlamaWeights(config, 1);
        const index: { name: string; shape: number[]; offset: number }[] = [];
        const parts: Buffer[] = [];
        let off = 0;
        for (const [name, t] of w) {
            index.push({ name, shape: t.shape, offset: off });
            parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
            off += t.data.byteLength;
        }
        writeFileSync(join(cache, 'torch-weights.bin'), Buffer.concat(parts));
        writeFileSync(join(cache, 'torch-job.json'), JSON.stringify({ config, index, T, B, lr: 1e-3, steps }));
        // ours: the same steps in a child (constant lr 1e-3, AdamW 0.9/0.999, eps 1e-8)
        const ourRun = await trainModel({ ...preJob(join(cache, 'ours-torch'), { batch: B, schedule: 'constant', warmup: 0, lr: 1e-3, epochs: 100, maxSteps: nSteps }), examples: oldFacts });
        const oursTps = ourRun.tokensPerSecond;
        const torchRuns: { threads: number; tps: number; rss: number; loss: number }[] = [];
        for (const th of [1, 2]) {
            const r = timeRss(py, [join(root, 'bench/train/torch_llama.py'), join(cache, 'torch-job.json'), join(cache, 'torch-weights.bin'), String(th)]);
            const line = r.stdout.trim().split('\n').at(-1)!;
            const j = JSON.parse(line);
            torchRuns.push({ threads: th, tps: j.tokens_per_second, rss: r.rssKiB * 1024, loss: j.final_loss });
            log(`PyTorch ${th} thread(s): ${j.tokens_per_second.toFixed(0)} tokens/s, loss after ${nSteps} steps ${j.final_loss.toFixed(3)}, peak RSS ${(r.rssKiB / 1024).toFixed(0)} MiB`);
        }
        const best = torchRuns.reduce((a, b) => (b.tps > a.tps ? b : a));
        log(
            `ours (${threads} thread(s)): ${oursTps.toFixed(0)} tokens/s, loss after ${ourRun.steps} steps ${ourRun.finalTrainLoss.toFixed(3)}, peak RSS ${(ourRun.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
        );
        log(`ratio vs PyTorch at its best (${best.threads} thread(s)): speed ${(oursTps / best.tps).toFixed(2)}× (goal ≥ 1.0), memory ${(ourRun.peakRssBytes / best.rss).toFixed(2)}×`);
        results.torch = { runs: torchRuns, ours: { tokensPerSecond: oursTps, rss: ourRun.peakRssBytes, loss: ourRun.finalTrainLoss }, speedRatio: oursTps / best.tps };
    }
}

// ---- LoRA vs full -----------------------------------------------------------------------------------
if (want('lora')) {
    log('\n== LoRA vs full fine-tuning step time (rank 4 on attn_q/attn_v)');
    if (!existsSync(preModelPath)) {
        preModelPath = join(cache, 'lora-base.gguf');
        writeLlamaGguf(preModelPath, { config, tokenizer: tok, tensors: initLlamaWeights(config, 1) });
    }
    const full = await trainModel({ ...preJob(join(cache, 'ours-full'), { batch: 16, epochs: 3, schedule: 'constant', warmup: 0 }), base: preModelPath });
    const lora = await ours(16, 3, 'lora', preModelPath);
    const share = lora.trainableParams / countParameters(readLlamaGguf(preModelPath).config);
    log(
        `full: ${((full.trainSeconds / full.steps) * 1000).toFixed(1)} ms/step; LoRA: ${((lora.trainSeconds / lora.steps) * 1000).toFixed(1)} ms/step; adapter = ${(share * 100).toFixed(2)}% of the weights`,
    );
    log(`ratio: LoRA ${(full.trainSeconds / full.steps / (lora.trainSeconds / lora.steps)).toFixed(2)}× faster per step (goal ≥ 2)`);
    results.lora = { fullMsPerStep: (full.trainSeconds / full.steps) * 1000, loraMsPerStep: (lora.trainSeconds / lora.steps) * 1000, adapterShare: share };
}

// ---- 1B shape (bench1b.ts) --------------------------------------------------------------------------
if (sections.some((x) => HEAVY.includes(x))) {
    Object.assign(
        results,
        await bench1b({
            root,
            cache,
            sections,
            threads: threadList,
            torchThreads: list(flag('--torch-threads'), [1, 2]),
            steps: Number(flag('--steps') ?? 2),
            batch: Number(flag('--batch') ?? 4),
            repeat: Number(flag('--repeat') ?? 1),
            types: (flag('--types') ?? 'f16,q8_0,q4_k').split(','),
            log,
        }),
    );
}

// results.json keeps the sections this run did not measure (the 1B ones run on their own); each 1B
// section also goes to results-<section>.json
const resultsPath = join(cache, 'results.json');
const previous = existsSync(resultsPath) ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>) : {};
writeFileSync(resultsPath, JSON.stringify({ ...previous, ...results }, null, 2));
for (const s of HEAVY) if (results[s]) writeFileSync(join(cache, `results-${s}.json`), JSON.stringify({ threads: results.threads, date: results.date, [s]: results[s] }, null, 2));
rmSync(join(cache, 'tmp'), { recursive: true, force: true });
log(
    `\nresults: ${join(cache, 'results.json')} (machine: ${(await import('node:os')).cpus().length} cores; load average ${(await import('node:os'))
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')})`,
);
process.exit(0);
