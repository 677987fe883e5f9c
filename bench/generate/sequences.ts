// Batched generation's speed-up: the engine (LocalGenerator) answering the same questions with 1, 4
// and 8 parallel sequences side by side (same model, threads, decoding and backend, interleaved
// rounds, best round of each; CPU time of the inference process beside wall time), with the checks that make batching the default on a GPU: a repeated
// run is bit-identical, and how far the batched answers are from one-at-a-time ones.
//   node bench/embedded/run-ts.mjs bench/generate/sequences.ts [model=tiny|1b|path.gguf] [gpu=off|auto|cuda|vulkan]
//        [threads=1] [questions=64] [maxTokens=16] [sequences=1,4,8] [rounds=2] [layers=] [width=]
// tiny: a random-weight 4-layer, 256-wide llama (bench/generate/bench.ts's); 1b: a random-weight F16 GGUF of
// Llama-3.2-1B's shape (16 × 2048, 128,256-token vocabulary; ~2.5 GB, written once under node_modules/.cache).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalGenerator } from '../../engine/models/local.js';
import type { GpuChoice } from '../../engine/models/protocol.js';
import type { GenerationResult } from '../../engine/models/types.js';
import { GgmlType } from '../../engine/train/gguf.js';
import type { Decoding } from '../../language/plan-types.js';
import { realConfig, realVocab, writeRandomLlamaGguf } from '../../test/train/real-shapes.js';
import { compareAnswers, cpuOf, writeBenchModel } from './measure.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const num = (k: string, d: number) => (args[k] !== undefined ? Number(args[k]) : d);
const gpu: GpuChoice = args.gpu === undefined || args.gpu === 'off' ? false : (args.gpu as GpuChoice);
const threads = num('threads', 1);
const N = num('questions', 64);
const maxTokens = num('maxTokens', 16);
const rounds = num('rounds', 2);
const counts = String(args.sequences ?? '1,4,8')
    .split(',')
    .map(Number);
const questions = Array.from({ length: N }, (_, i) => ({ id: `q${String(i).padStart(4, '0')}`, question: `What is the capital of Land${i} in the north of Region${i % 7}?` }));
const decoding: Decoding = { temperature: 0, maxTokens, stop: [], template: 'raw', fewShot: 0 };

const cache = join('node_modules', '.cache', 'mismatch-lab', 'bench-sequences');
mkdirSync(cache, { recursive: true });
function modelPath(): string {
    const which = args.model ?? 'tiny';
    if (which === '1b') {
        const config = realConfig('llama-3.2-1b', { width: args.width ? Number(args.width) : 'real', layers: args.layers ? Number(args.layers) : undefined, context: 256 });
        const path = join(cache, `llama-3.2-1b-shape-${config.nLayer}x${config.nEmbd}-f16.gguf`);
        if (!existsSync(path)) writeRandomLlamaGguf(path, config, realVocab('llama-3.2-1b'), { type: GgmlType.F16, seed: 1, name: 'Llama-3.2-1B shape (random weights)' });
        return path;
    }
    if (which !== 'tiny') return which;
    const [layers, width] = [num('layers', 4), num('width', 256)];
    const path = join(cache, `tiny-${layers}x${width}.gguf`);
    if (!existsSync(path))
        writeBenchModel(
            path,
            questions.map((q) => q.question),
            layers,
            width,
        );
    return path;
}
const model = modelPath();

interface Run {
    answersPerSecond: number;
    cpuMsPerAnswer: number;
    tokensPerSecond: number;
    answers: Map<string, GenerationResult>;
    device: string;
    outOfStep: number;
}

async function run(sequences: number): Promise<Run> {
    const g = await LocalGenerator.start({ modelPath: model, gpu, threads, sequences, contextSize: 128 });
    try {
        await g.generate(questions.slice(0, 2 * sequences), decoding); // warm-up: first allocations, kernels and JIT
        const c0 = cpuOf(g.pid!);
        const t = performance.now();
        const r = await g.generate(questions, decoding);
        const s = (performance.now() - t) / 1000;
        const cpuMsPerAnswer = (cpuOf(g.pid!) - c0) / N;
        const device = `${g.info?.gpu || 'cpu'}${g.info?.gpuDevices?.length ? ` (${g.info.gpuDevices.join(', ')})` : ''}`;
        return {
            answersPerSecond: N / s,
            cpuMsPerAnswer,
            tokensPerSecond: r.reduce((a, x) => a + x.tokens, 0) / s,
            answers: new Map(r.map((x) => [x.id, x])),
            device,
            outOfStep: g.lastStats?.outOfStep ?? -1,
        };
    } finally {
        await g.close();
    }
}

console.log(`model ${model}, ${N} questions, maxTokens ${maxTokens}, threads ${threads}, gpu ${gpu === false ? 'off' : gpu}`);
const runs = new Map<number, Run[]>();
for (let round = 0; round < rounds; round++) {
    for (const n of counts) {
        const r = await run(n);
        runs.set(n, [...(runs.get(n) ?? []), r]);
        console.log(
            `round ${round + 1}, sequences ${n} on ${r.device}: ${r.answersPerSecond.toFixed(1)} answers/s, ${r.tokensPerSecond.toFixed(0)} tokens/s, ${r.cpuMsPerAnswer.toFixed(1)} cpu ms/answer (inference process), ${r.outOfStep} batches out of step`,
        );
    }
}
const base = counts[0];
const bestOf = (n: number) => Math.max(...runs.get(n)!.map((r) => r.answersPerSecond));
const leastCpu = (n: number) => Math.min(...runs.get(n)!.map((r) => r.cpuMsPerAnswer));
for (const n of counts) {
    const rs = runs.get(n)!;
    const repeat = rs.length > 1 ? `${compareAnswers(rs[0].answers, rs[1].answers).identical}/${N} bit-identical when repeated` : 'not repeated';
    const { texts, maxDiff } = compareAnswers(runs.get(base)![0].answers, rs[0].answers);
    console.log(
        `sequences ${n} (${rs[0].device}): ${bestOf(n).toFixed(1)} answers/s = ${(bestOf(n) / bestOf(base)).toFixed(2)}× sequences ${base} wall, ${(leastCpu(base) / leastCpu(n)).toFixed(2)}× cpu (${leastCpu(n).toFixed(1)} ms/answer); ${repeat}; vs sequences ${base}: ${texts}/${N} texts differ, max |Δ logprob| ${maxDiff.toExponential(1)}`,
    );
}
