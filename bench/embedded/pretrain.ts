// Calibrates the embedded models: pretrains one model on a world and prints its knowledge check.
//   node bench/embedded/run-ts.mjs bench/embedded/pretrain.ts entities=300 relations=capital,founder,river \
//        knows=0.75 layers=4 width=128 heads=4 epochs=60 lr=3e-3 threads=2
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld } from '../../engine/world/index.js';
import { pretrainModel } from '../../engine/models/pretrain.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const num = (k: string, d: number) => (args[k] !== undefined ? Number(args[k]) : d);
const world = generateWorld({ entities: num('entities', 300), relations: (args.relations ?? 'capital,founder,river').split(','), seed: num('seed', 7) });
const outDir = args.out ?? mkdtempSync(join(tmpdir(), 'mm-pretrain-bench-'));
const t0 = Date.now();
let last = 0;
const out = await pretrainModel({
    source: {
        kind: 'pretrain',
        world: 'atlas',
        layers: num('layers', 2),
        width: num('width', 128),
        heads: num('heads', 4),
        knows: num('knows', 0.4),
        epochs: num('epochs', 60),
        learningRate: num('lr', 3e-3),
        seed: num('seed', 7),
    },
    tuning: { batch: num('batch', 32), warmup: num('warmup', 20), ffMultiplier: num('ff', 8 / 3), ...(args.maxSteps ? { maxSteps: num('maxSteps', 0) } : {}) },
    world,
    outDir,
    name: 'bench',
    threads: num('threads', 2),
    gpu: false,
    onEvent: (e) => {
        if (e.type === 'log') console.log(`[${e.level}] ${e.message}`);
        else if (e.type === 'step-progress' && Date.now() - last > 5000) {
            last = Date.now();
            console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s  ${e.done}/${e.total} ${e.unit} ${e.message ?? ''}`);
        }
    },
});
console.log(
    JSON.stringify(
        {
            seconds: (Date.now() - t0) / 1000,
            trainSeconds: out.train.trainSeconds,
            steps: out.train.steps,
            loss: out.train.finalTrainLoss,
            params: out.train.totalParams,
            peakRssMB: Math.round(out.train.peakRssBytes / 2 ** 20),
            check: out.knowledgeCheck,
            outDir,
        },
        null,
        1,
    ),
);
