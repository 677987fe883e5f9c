// Batched generation on a pretrained world model: answers/s with 1, 4 and 8 parallel sequences side by
// side (same model, questions, threads and decoding, interleaved rounds), whether a repeated run and a
// resumed run (the first third stored already) give bit-identical answers and log-probabilities, and
// how far batched answers are from one-at-a-time ones.
//   node bench/embedded/run-ts.mjs bench/embedded/seqcheck.ts <model.gguf> [entities=100] [threads=1] [rounds=2] [sequences=1,4,8] [gpu=off|auto|cuda|vulkan]
// A model: node bench/embedded/run-ts.mjs bench/embedded/pretrain.ts entities=100 out=DIR (DIR/model.gguf).
import { LocalGenerator } from '../../engine/models/local.js';
import type { GpuChoice } from '../../engine/models/protocol.js';
import type { GenerationResult } from '../../engine/models/types.js';
import { CHECK_DECODING } from '../../engine/models/pretrain.js';
import { generateWorld } from '../../engine/world/index.js';
import { compareAnswers, cpuOf } from '../generate/measure.js';

const model = process.argv[2];
const args = Object.fromEntries(process.argv.slice(3).map((a) => a.split('=')));
const entities = Number(args.entities ?? 100);
const threads = Number(args.threads ?? 1);
const rounds = Number(args.rounds ?? 2);
const counts = String(args.sequences ?? '1,4,8')
    .split(',')
    .map(Number);
const gpu: GpuChoice = args.gpu === undefined || args.gpu === 'off' ? false : (args.gpu as GpuChoice);
const w = generateWorld({ entities, relations: ['capital', 'founder', 'river'], seed: 7 });
const items = w.facts.map((f) => ({ id: f.id, question: f.question }));
type Answers = Map<string, GenerationResult>;

async function run(sequences: number, todo = items): Promise<{ answers: Answers; seconds: number; cpuMs: number; backend: string; outOfStep: number }> {
    const g = await LocalGenerator.start({ modelPath: model, gpu, threads, sequences, contextSize: 128 });
    try {
        await g.generate(items.slice(0, 2 * sequences), CHECK_DECODING); // warm-up: first allocations and JIT
        const c0 = cpuOf(g.pid!);
        const t = performance.now();
        const r = await g.generate(todo, CHECK_DECODING, todo === items ? {} : { all: items });
        const seconds = (performance.now() - t) / 1000;
        return { answers: new Map(r.map((x) => [x.id, x])), seconds, cpuMs: cpuOf(g.pid!) - c0, backend: g.info?.gpu || 'cpu', outOfStep: g.lastStats?.outOfStep ?? -1 };
    } finally {
        await g.close();
    }
}

const best = new Map<number, number>();
const leastCpu = new Map<number, number>();
const first = new Map<number, Answers>();
let backend = '';
for (let round = 0; round < rounds; round++) {
    for (const n of counts) {
        const r = await run(n);
        backend = r.backend;
        const qps = items.length / r.seconds;
        best.set(n, Math.max(best.get(n) ?? 0, qps));
        leastCpu.set(n, Math.min(leastCpu.get(n) ?? Infinity, r.cpuMs / items.length));
        const prev = first.get(n);
        const repeat = prev ? compareAnswers(prev, r.answers) : undefined;
        if (!prev) first.set(n, r.answers);
        console.log(
            `round ${round + 1}, sequences ${n}: ${qps.toFixed(1)} answers/s (${r.seconds.toFixed(2)} s, ${(r.cpuMs / items.length).toFixed(2)} cpu ms/answer, ${r.outOfStep} batches out of step)${repeat ? `; repeat: ${repeat.identical}/${repeat.n} bit-identical` : ''}`,
        );
    }
}
const gold = new Map(w.facts.map((f) => [f.id, f.answer]));
const base = counts[0];
for (const n of counts) {
    const resumed = await run(n, items.slice(Math.floor(items.length / 3)));
    const r = compareAnswers(first.get(n)!, resumed.answers);
    const vs = compareAnswers(first.get(base)!, first.get(n)!);
    const exact = items.filter((i) => first.get(n)!.get(i.id)!.text === gold.get(i.id)).length;
    console.log(
        `sequences ${n} (${backend}, ${threads} threads): best ${best.get(n)!.toFixed(1)} answers/s = ${(best.get(n)! / best.get(base)!).toFixed(2)}× sequences ${base} wall, ${(leastCpu.get(base)! / leastCpu.get(n)!).toFixed(2)}× cpu; resumed after a third: ${r.identical}/${r.n} bit-identical; vs sequences ${base}: ${vs.texts} of ${vs.n} texts differ, max |Δ logprob| ${vs.maxDiff.toExponential(1)}; exact gold ${exact}/${items.length}`,
    );
}
