// Peak memory and speed of one training run, measured outside the test runner (a node process of its
// own; the figures are the trainer child's VmHWM and tokens/s).
//
//   node esbuild-bundled measure-memory.mjs <q8_0|q4_k|f16> <lora|full> <layers> <width> [threads] [examples]
//   (bench/gpu.sh bundles and runs it; MISMATCH_GPU=cuda|vulkan|auto trains on a GPU, default off)
//
// Writes a GGUF of Llama-3.2-1B's shape (128,256-token BPE vocabulary, 32/8 heads, FFN 4·width, rope
// freqs) at the given depth and width, its matrices quantized by ggml (ggml_quantize_chunk), then trains
// 2 steps on `examples` facts in one batch (LoRA: rank 8 on all 7 matrices) and prints file size, the
// trainer's estimate and the child's peak RSS.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { GgmlType } from '../../engine/train/gguf.js';
import type { LlamaConfig } from '../../engine/train/llama.js';
import { checkJob, countParameters, trainModel, type TrainJob } from '../../engine/train/api.js';
import type { TrainGpu } from '../../engine/train/types.js';
import { estimateTrainBytes, frozenWeightBytes, loraTrainableParams } from '../../engine/train/parent.js';
import { readGguf } from '../../engine/train/gguf.js';
import { realVocab, writeRandomLlamaGguf } from './real-shapes.js';
import { makeFacts, tempDir } from './helpers.js';

const [typeName = 'q8_0', mode = 'lora', layersArg = '16', widthArg = '2048', threadsArg = '2', examplesArg = '8'] = process.argv.slice(2);
const TYPES: Record<string, GgmlType> = { q8_0: GgmlType.Q8_0, q4_k: GgmlType.Q4_K, f16: GgmlType.F16 };
const type = TYPES[typeName];
if (type === undefined) throw new Error(`type ${typeName}: one of ${Object.keys(TYPES).join(', ')}`);
const width = Number(widthArg);
const vocab = realVocab('llama-3.2-1b');
const config: LlamaConfig = {
    vocabSize: vocab.tokens.length,
    nLayer: Number(layersArg),
    nEmbd: width,
    nHead: width / 64,
    nHeadKv: width / 256,
    nFf: 4 * width,
    nCtx: 256,
    ropeTheta: 500000,
    rmsEps: 1e-5,
    tiedEmbeddings: true,
    ropeFreqs: true,
};
const path = join(tempDir('mm-mem-'), `llama32-shape-${typeName}.gguf`);
writeRandomLlamaGguf(path, config, vocab, { type, seed: 1, name: 'memory measurement' });
const fileBytes = statSync(path).size;
const facts = makeFacts(Number(examplesArg), 2);
const job: TrainJob = {
    base: path,
    examples: facts,
    mode: mode as 'lora' | 'full',
    lora: mode === 'lora' ? { rank: 8, alpha: 16, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] } : undefined,
    epochs: 2,
    lr: 1e-4,
    batch: Number(examplesArg),
    seed: 1,
    threads: Number(threadsArg),
    outDir: tempDir('mm-mem-out-'),
    tokenization: 'completion',
    gpu: (process.env.MISMATCH_GPU ?? 'off') as TrainGpu,
};
const r = await checkJob(job);
const trainable = mode === 'lora' ? loraTrainableParams(config, 8, job.lora!.targets!) : countParameters(config);
const rows = r.train.reduce((a, s) => a + s.tokens.length - s.answerStart, 0);
const est = estimateTrainBytes(r.config, trainable, r.train.length, r.seqLen, { frozenBytes: mode === 'lora' ? frozenWeightBytes(readGguf(path)) : undefined, rows });
const losses: number[] = [];
const res = await trainModel(job, {
    onEvent: (e) => {
        if (e.type === 'progress') losses.push(e.loss);
    },
});
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
console.log(
    JSON.stringify({
        type: typeName,
        mode,
        layers: config.nLayer,
        width,
        vocab: config.vocabSize,
        params: res.totalParams,
        trainable: res.trainableParams,
        file: mib(fileBytes),
        estimate: mib(est),
        peakRss: mib(res.peakRssBytes),
        peakOverFile: +(res.peakRssBytes / fileBytes).toFixed(3),
        tokensPerSecond: +res.tokensPerSecond.toFixed(1),
        seqLen: r.seqLen,
        batch: r.train.length,
        answerRows: rows,
        losses: losses.map((l) => +l.toFixed(3)),
        device: res.device,
    }),
);
