// From a model that knows something: a small llama pretrained here on half of a world's facts is
// padded with identity blocks (attn_output and ffn_down zero: each added block leaves the residual
// stream exactly as it was) to 24 layers, stored as Q8_0, and handed to `mismatch run` as a GGUF
// student. The spec measures what it knows (SliCK), fine-tunes LoRA on all seven matrices of all 24
// layers on exactly the facts it lacks (a 100%-Unknown mix, gold answers), and the adapter from the
// run store must make node-llama-cpp answer ≥ 90% of those facts, which the student answered 0% of.
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { buildTokenizer, readGguf, readLlamaGguf, trainModel, writeLlamaGguf, type LlamaConfig, type LlamaTensors } from '../../engine/train/api.js';
import { GgmlType } from '../../engine/train/gguf.js';
import { initLlamaWeights } from '../../engine/train/llama.js';
import { runCommand } from '../../cli/run.js';
import { cpuLlama, greedyAccuracy, makeWorld, tempDir } from './helpers.js';

const DEPTH = 24;

/** The model's layers spread over `depth` layers; the others are identity blocks. */
function padWithIdentityBlocks(config: LlamaConfig, tensors: LlamaTensors, depth: number): { config: LlamaConfig; tensors: LlamaTensors } {
    const deep: LlamaConfig = { ...config, nLayer: depth };
    const fresh = initLlamaWeights(deep, 77); // q/k/v/gate/up of the added blocks: random, they do not matter
    const out: LlamaTensors = new Map();
    const stride = depth / config.nLayer;
    const from = new Map<number, number>(); // new layer -> original layer
    for (let l = 0; l < config.nLayer; l++) from.set(l * stride, l);
    for (const [name, t] of fresh) {
        const m = /^blk\.(\d+)\.(.*)$/.exec(name);
        if (!m) {
            out.set(name, tensors.get(name)!);
            continue;
        }
        const orig = from.get(Number(m[1]));
        if (orig !== undefined) out.set(name, tensors.get(`blk.${orig}.${m[2]}`)!);
        else if (m[2] === 'attn_output.weight' || m[2] === 'ffn_down.weight') out.set(name, { shape: t.shape, data: new Float32Array(t.data.length) });
        else out.set(name, t);
    }
    return { config: deep, tensors: out };
}

function capture() {
    const out = new PassThrough(),
        err = new PassThrough();
    let o = '',
        e = '';
    out.on('data', (d) => (o += d));
    err.on('data', (d) => (e += d));
    return { io: { out: out as unknown as NodeJS.WriteStream, err: err as unknown as NodeJS.WriteStream }, stdout: () => o, stderr: () => e };
}

describe('LoRA through `mismatch run` teaches a deep quantized model the facts it lacked', () => {
    it(`pretrained 2 layers → ${DEPTH} layers with identity blocks → Q8_0 → SliCK Unknown mix → LoRA: ≥ 90% of the lacking facts`, { timeout: 900_000 }, async () => {
        const world = makeWorld(20, 7); // 60 facts
        const taught = world.slice(0, 30);
        const lacking = world.slice(30);
        const tok = buildTokenizer({ texts: world.flatMap((f) => [f.prompt, f.answer]) });
        const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 128, nHead: 4, nHeadKv: 2, nFf: 256, nCtx: 64, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false };
        const dir = tempDir('mm-teach-');
        const pre = await trainModel({
            base: { init: { config, tokenizer: tok.data, seed: 1 } },
            examples: taught,
            mode: 'full',
            epochs: 24,
            lr: 1e-3,
            batch: 10,
            seed: 1,
            threads: 1,
            outDir: join(dir, 'pre'),
        });

        const small = readLlamaGguf(pre.modelPath);
        const deep = padWithIdentityBlocks(small.config, small.tensors, DEPTH);
        mkdirSync(join(dir, 'models'));
        const student = join(dir, 'models', 'student.gguf');
        writeLlamaGguf(student, { config: deep.config, tokenizer: small.tokenizer!, tensors: deep.tensors, type: 'q8_0', name: 'padded student' });
        expect(readGguf(student).tensors.find((t) => t.name === `blk.${DEPTH - 1}.ffn_up.weight`)!.type).toBe(GgmlType.Q8_0);

        // the padded, quantized student still knows what it was taught, and not the rest
        const llama = await cpuLlama();
        const model = await llama.loadModel({ modelPath: student });
        try {
            expect(await greedyAccuracy(model, taught)).toBeGreaterThanOrEqual(0.9);
            expect(await greedyAccuracy(model, lacking)).toBe(0);
        } finally {
            await model.dispose();
        }

        writeFileSync(join(dir, 'facts.jsonl'), world.map((f) => JSON.stringify({ question: f.prompt, answer: f.answer })).join('\n') + '\n');
        const spec = join(dir, 'teach.mismatch');
        writeFileSync(
            spec,
            `experiment Teach {
  seed 1
  dataset facts from "facts.jsonl" { question "question"  answers "answer"  split train ${world.length} }
  model student = gguf "models/student.gguf"
  decoding greedy { temperature 0  maxTokens 8 }
  knowledge k = student on facts.train using greedy { fewShot 0  samples 1  temperature 0 }
  label lacking = mix k { unknown 100% }
  finetune taught = student on lacking { lora rank 8  epochs 40  learningRate 2e-3  batch 6 }
}
`,
        );
        const c = capture();
        const store = join(dir, 'store');
        const code = await runCommand(spec, { json: true, threads: 1, gpu: 'off', store }, c.io);
        expect(code, c.stderr()).toBe(0);
        const summary = JSON.parse(c.stdout()) as { status: string; steps: { name: string; key: string; metrics?: Record<string, unknown> }[] };
        expect(summary.status).toBe('done');
        const mix = summary.steps.find((s) => s.name === 'lacking')!;
        expect(mix.metrics).toMatchObject({ total: lacking.length, unknown: lacking.length });
        const ft = summary.steps.find((s) => s.name === 'taught')!;
        const adapter = join(store, 'steps', ft.key, 'adapter.gguf');

        const again = await llama.loadModel({ modelPath: student });
        try {
            const acc = await greedyAccuracy(again, lacking, adapter);
            console.log(`lacking facts answered after LoRA: ${(acc * 100).toFixed(0)}%`);
            expect(acc).toBeGreaterThanOrEqual(0.9);
        } finally {
            await again.dispose();
        }
    });
});
