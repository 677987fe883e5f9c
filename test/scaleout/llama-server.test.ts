// A real inference server: llama.cpp's llama-server, built from the source node-llama-cpp ships
// (scripts/llama-cpp.mjs, cached per commit), serves a model pretrained here on the embedded world and,
// with the fine-tune step's LoRA adapter (`--lora`), the fine-tuned one. Through our OpenAI-compatible
// client the server gives the answers, token log-probabilities and outcomes that local generation
// through node-llama-cpp gives on the same questions, greedy, both at the Generator interface and in
// a spec run (runExperiment) whose evaluate step reads the served models. The same holds for an
// adapter that comes from outside: a PEFT adapter (adapter_config.json + adapter_model.safetensors)
// with known LoRA weights for the pretrained model, converted to GGUF by our converter and served with
// `--lora converted.gguf`.
//
// CI builds llama-server in the background from right after `npm install` (.ci/run); this file waits
// for that build (flock on the cache's lock: the wait ends when the builder exits). Run alone, it builds
// (about 15 CPU-minutes, once per machine and llama.cpp commit).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlan } from '../../language/load.js';
import type { Decoding } from '../../language/plan-types.js';
import { LocalGenerator } from '../../engine/models/local.js';
import { ServerGenerator } from '../../engine/models/server.js';
import type { GenerationItem, GenerationResult } from '../../engine/models/types.js';
import { runExperiment } from '../../engine/run.js';
import type { EvaluateMetrics, RunSummary } from '../../engine/results-types.js';
import { readModelRef } from '../../engine/steps/model-pool.js';
import { convertPeftAdapter } from '../../engine/scaleout/peft.js';
import { readLlamaGguf, readLlamaGgufInfo } from '../../engine/train/api.js';
import { buildLlamaCpp, llamaCppBuildRecord, missingBuildTools } from '../../scripts/llama-cpp.mjs';
import { tempDir } from '../engine/fixtures.js';
import { startLlamaServer, type LlamaServer } from './llama-server.js';
import { MODULES, randomLora, writeMerged, writePeftAdapter, type LoraModule } from './helpers.js';

/**
 * Per-token log-probability tolerance. Both sides run llama.cpp's CPU kernels on the same F32 weights,
 * the same prompt tokens and the same softmax over the whole vocabulary (node-llama-cpp's `confidence`
 * at temperature 0, llama-server's `logprob` without post-sampling probabilities), but not the same
 * machine code: node-llama-cpp loads its prebuilt CPU variant, our server is built -O0 -march=native,
 * so sums are ordered and fused differently, and both keep K and V in an F16 cache (11-bit mantissa,
 * relative rounding up to 4.9e-4), where a last-bit difference upstream can round to the other F16
 * neighbour. Measured here: at most 1.4e-3 per token (24 questions, base and LoRA; 5.6e-4 with the
 * converted PEFT adapter, against node-llama-cpp with it and against the hand-merged base), with no sign
 * bias. 5e-3 leaves room for other CPUs and stays far below what a real difference moves: the
 * adapter changes these log-probabilities by 0.1-1, another prompt or model by more.
 */
const TOL = 5e-3;
/** The PEFT adapter's rank, alpha and weight range (uniform in ±scale): large enough to change answers. */
const PEFT = { r: 4, alpha: 8, scale: 0.2 };

const build = missingBuildTools();
// CI has cmake and g++ (.ci/run installs them): there a missing tool is a failure, not a skip.
const skipReason = build && !process.env.CI ? `llama-server cannot be built on this machine: ${build}` : undefined;

const SPEC = (served = '') => `experiment Served {
  seed 3
  world atlas { entities 24  relations capital, founder }
  dataset trivia from atlas { split train 50%  split test 50% }
  model small = pretrain on atlas { layers 1  width 32  heads 2  knows 50%  epochs 30  learningRate 1e-2 }
  decoding greedy { temperature 0  maxTokens 8 }
  label bySmall = answers of small on trivia.train using greedy { otherwise "I don't know" }
  finetune tuned = small on bySmall { lora rank 4  epochs 6  learningRate 1e-2  batch 4 }
  evaluate local = tuned, small on trivia.test using greedy { abstain "I don't know" }
${served}}
`;
// The spec's decoding as the engine resolves it (template raw, stop at a newline).
const greedy: Decoding = { temperature: 0, maxTokens: 8, stop: ['\n'], template: 'raw', fewShot: 0 };

interface Row {
    arm: string;
    id: string;
    question: string;
    prediction: string;
    outcome: string;
    logprob: number | null;
    confidence: number | null;
}

const dir = tempDir('mm-llama-server-');
const store = join(dir, '.mismatch');
let bin: string;
let localRun: RunSummary;
let basePath: string;
let adapter: string;
let items: GenerationItem[];
const servers: LlamaServer[] = [];
let baseServer: LlamaServer;
let tunedServer: LlamaServer;
let converted: string;
let peftMods: LoraModule[];
let convertedServer: LlamaServer;

afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    if (!process.env.MISMATCH_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

const rowsOf = (summary: RunSummary, step: string): Row[] => {
    const s = summary.steps.find((x) => x.step === step)!;
    return readFileSync(join(s.dir!, 'answers.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Row);
};

async function run(text: string): Promise<RunSummary> {
    const file = join(dir, 'served.mismatch');
    writeFileSync(file, text);
    const { plan, diagnostics } = await loadPlan(file);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const summary = await runExperiment(plan!, { storeDir: store, threads: 1, gpu: 'off' });
    expect(summary.status, JSON.stringify(summary.steps.filter((s) => s.error).map((s) => [s.step, s.error]))).toBe('done');
    return summary;
}

function maxDiff(a: GenerationResult[], b: GenerationResult[]): number {
    let m = 0;
    for (const x of a) {
        const y = b.find((r) => r.id === x.id)!;
        for (let i = 0; i < x.logprobs!.length; i++) m = Math.max(m, Math.abs(x.logprobs![i] - y.logprobs![i]));
    }
    return m;
}

describe.skipIf(!!skipReason)("llama-server built from node-llama-cpp's llama.cpp source", () => {
    beforeAll(async () => {
        const t0 = Date.now();
        bin = (await buildLlamaCpp(['llama-server'], { log: (l) => console.log(`[llama.cpp build] ${l}`) }))['llama-server'];
        const rec = llamaCppBuildRecord('llama-server');
        console.log(`llama-server: ${bin} (waited ${((Date.now() - t0) / 1000).toFixed(0)} s here; its build took ${rec?.totalSeconds.toFixed(0)} s on ${rec?.date})`);

        // The embedded pipeline, locally: pretrain, label, LoRA fine-tune, evaluate both.
        localRun = await run(SPEC());
        const small = await readModelRef(localRun.steps.find((s) => s.step === 'small')!.dir!);
        const tuned = await readModelRef(localRun.steps.find((s) => s.step === 'tuned')!.dir!);
        if (small.kind !== 'local' || tuned.kind !== 'local') throw new Error('expected local models');
        basePath = small.path;
        adapter = tuned.lora[0];
        expect(tuned.path).toBe(basePath);
        expect(tuned.lora).toHaveLength(1);
        items = rowsOf(localRun, 'local')
            .filter((r) => r.arm === 'small')
            .map((r) => ({ id: r.id, question: r.question }));

        baseServer = await startLlamaServer(bin, { model: basePath, alias: 'small' });
        servers.push(baseServer);
        tunedServer = await startLlamaServer(bin, { model: basePath, alias: 'tuned', lora: [adapter] });
        servers.push(tunedServer);

        // A PEFT adapter with known weights for the pretrained base (rank 4, alpha 8 on all seven
        // projections of its layer), converted to a GGUF LoRA adapter by our converter.
        const config = readLlamaGgufInfo(basePath).config;
        const peftDir = join(dir, 'peft');
        peftMods = randomLora(config, PEFT.r, 7, MODULES, PEFT.scale);
        writePeftAdapter(peftDir, peftMods, { r: PEFT.r, alpha: PEFT.alpha });
        converted = join(dir, 'converted.gguf');
        expect(convertPeftAdapter({ adapterDir: peftDir, baseGguf: basePath, out: converted }).tensors).toBe(2 * MODULES.length * config.nLayer);
        convertedServer = await startLlamaServer(bin, { model: basePath, alias: 'converted', lora: [converted] });
        servers.push(convertedServer);
    }, 3_900_000);

    it('reports the served model at /v1/models; it answers whatever model a request names, so our client checks the name', async () => {
        for (const [server, alias] of [
            [baseServer, 'small'],
            [tunedServer, 'tuned'],
        ] as const) {
            const res = await fetch(`${server.url}/models`);
            expect(res.status).toBe(200);
            const body = (await res.json()) as { object: string; data: { id: string; object: string; owned_by: string }[] };
            expect(body.object).toBe('list');
            expect(body.data.map((m) => m.id)).toEqual([alias]);
        }
        // llama-server does not compare the request's model with what it serves: a request naming
        // another model is answered by the one it has.
        const other = await fetch(`${baseServer.url}/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'some-other-model', prompt: items[0].question, max_tokens: 2, temperature: 0 }),
        });
        expect(other.status).toBe(200);
        expect(((await other.json()) as { model: string }).model).toBe('small');

        // Our client asks GET /models before its first request: a model the server does not serve is
        // refused with the URL and what it serves; the served one passes (every generate below).
        const client = (url: string, name: string) => new ServerGenerator({ url, name, api: 'completions', logprobs: true, concurrency: 1, timeoutMs: 60_000 });
        await expect(client(baseServer.url, 'tuned').generate(items.slice(0, 1), greedy)).rejects.toThrow(`${baseServer.url} serves 'small', not 'tuned' (GET /models)`);
        // Without --alias llama-server reports the model file's path; the file's name (with or
        // without .gguf) names it.
        const plain = await startLlamaServer(bin, { model: basePath });
        servers.push(plain);
        const listed = ((await (await fetch(`${plain.url}/models`)).json()) as { data: { id: string }[] }).data.map((m) => m.id);
        expect(listed).toHaveLength(1);
        expect(listed[0].endsWith('model.gguf')).toBe(true);
        for (const name of ['model', 'model.gguf']) expect((await client(plain.url, name).generate(items.slice(0, 1), greedy)).length).toBe(1);
        await expect(client(plain.url, 'small').generate(items.slice(0, 1), greedy)).rejects.toThrow(/serves '.*model\.gguf', not 'small'/);
    });

    it('through the Generator interface: the same greedy answers and token log-probabilities as node-llama-cpp, base and LoRA', async () => {
        const local = await LocalGenerator.start({ modelPath: basePath, gpu: false, threads: 1, sequences: 1 });
        let here: GenerationResult[], hereTuned: GenerationResult[];
        try {
            here = await local.generate(items, greedy);
            await local.setLora([adapter]);
            hereTuned = await local.generate(items, greedy);
        } finally {
            await local.close();
        }
        // The fine-tune changed answers: a server that ignored the adapter could not pass below.
        expect(hereTuned.filter((r) => r.text !== here.find((x) => x.id === r.id)!.text).length).toBeGreaterThan(0);

        const served = (url: string, name: string) => new ServerGenerator({ url, name, api: 'completions', logprobs: true, concurrency: 2, timeoutMs: 60_000 });
        const there = await served(baseServer.url, 'small').generate(items, greedy);
        const thereTuned = await served(tunedServer.url, 'tuned').generate(items, greedy);
        for (const [a, b] of [
            [here, there],
            [hereTuned, thereTuned],
        ] as const) {
            // An empty answer (end of text first) has no token to score.
            const byId = (xs: GenerationResult[]) => Object.fromEntries(xs.map((x) => [x.id, { text: x.text, tokens: x.logprobs?.length ?? 0 }]));
            expect(byId(b)).toEqual(byId(a));
            for (const r of b) if (r.text) expect(r.logprobs?.length, r.id).toBeGreaterThan(0);
        }
        const d = Math.max(maxDiff(here, there), maxDiff(hereTuned, thereTuned));
        console.log(`llama-server vs node-llama-cpp on ${items.length} questions, base and LoRA: answers equal, max |Δ log p| per token ${d.toExponential(2)}`);
        expect(d).toBeLessThan(TOL);
    });

    it('with a PEFT adapter converted by our converter: the same greedy answers and token log-probabilities as node-llama-cpp with it', async () => {
        const generate = async (modelPath: string, lora?: string) => {
            const local = await LocalGenerator.start({ modelPath, gpu: false, threads: 1, sequences: 1 });
            try {
                if (lora) await local.setLora([lora]);
                return await local.generate(items, greedy);
            } finally {
                await local.close();
            }
        };
        const here = await generate(basePath);
        const hereConverted = await generate(basePath, converted);
        const there = await new ServerGenerator({ url: convertedServer.url, name: 'converted', api: 'completions', logprobs: true, concurrency: 2, timeoutMs: 60_000 }).generate(items, greedy);
        const byId = (xs: GenerationResult[]) => Object.fromEntries(xs.map((x) => [x.id, { text: x.text, tokens: x.logprobs?.length ?? 0 }]));
        expect(byId(there)).toEqual(byId(hereConverted));
        for (const r of there) if (r.text) expect(r.logprobs?.length, r.id).toBeGreaterThan(0);
        const d = maxDiff(hereConverted, there);

        // The adapter moves the model: answers change, and where an answer starts with the same
        // token, that token's log-probability moves by far more than the tolerance. A server that
        // ignored the adapter (or a converter that wrote a no-op) could not pass the comparison above.
        const changed = hereConverted.filter((r) => r.text !== here.find((x) => x.id === r.id)!.text).length;
        let moved = 0;
        for (const r of hereConverted) {
            const b = here.find((x) => x.id === r.id)!;
            if (r.text && b.text && r.text[0] === b.text[0]) moved = Math.max(moved, Math.abs(r.logprobs![0] - b.logprobs![0]));
        }
        console.log(
            `converted PEFT adapter through llama-server vs node-llama-cpp on ${items.length} questions: answers equal, max |Δ log p| per token ${d.toExponential(2)}; the adapter changes ${changed} of ${items.length} answers and moves a first token's log p by up to ${moved.toFixed(3)}`,
        );
        expect(changed).toBeGreaterThan(0);
        expect(moved).toBeGreaterThan(10 * TOL);
        expect(d).toBeLessThan(TOL);

        // Independently of the converter: the base with W + s·B·A merged by hand from the PEFT
        // weights (helpers.ts writeMerged, with convert_hf_to_gguf's q/k row order) answers as the
        // server with the converted adapter does.
        const b = readLlamaGguf(basePath);
        if (!b.tokenizer) throw new Error(`${basePath}: no SPM vocabulary to write the merged model with`);
        const mergedPath = join(dir, 'merged.gguf');
        writeMerged(mergedPath, { path: basePath, config: b.config, tokenizer: b.tokenizer, tensors: b.tensors }, peftMods, { r: PEFT.r, alpha: PEFT.alpha });
        const merged = await generate(mergedPath);
        expect(byId(there)).toEqual(byId(merged));
        const dm = maxDiff(merged, there);
        console.log(`converted PEFT adapter through llama-server vs the hand-merged base through node-llama-cpp: answers equal, max |Δ log p| per token ${dm.toExponential(2)}`);
        expect(dm).toBeLessThan(TOL);
    });

    it("in a spec run: an evaluate step over the served models gives the local evaluation's answers, outcomes and log-probabilities", async () => {
        const servedRun = await run(
            SPEC(`  model smallServed = server "${baseServer.url}" { name "small"  logprobs true  concurrency 2 }
  model tunedServed = server "${tunedServer.url}" { name "tuned"  logprobs true  concurrency 2 }
  evaluate served = tunedServed, smallServed on trivia.test using greedy { abstain "I don't know" }
`),
        );
        // The local steps came from the store (same keys), so both evaluations ask the same questions.
        for (const id of ['small', 'bySmall', 'tuned', 'local']) expect(servedRun.steps.find((s) => s.step === id)!.cached, id).toBe(true);
        const local = rowsOf(servedRun, 'local');
        const served = rowsOf(servedRun, 'served');
        let maxSum = 0;
        for (const [localArm, servedArm] of [
            ['small', 'smallServed'],
            ['tuned', 'tunedServed'],
        ]) {
            const a = local.filter((r) => r.arm === localArm);
            const b = served.filter((r) => r.arm === servedArm);
            expect(b.length).toBe(items.length);
            expect(b.map((r) => [r.id, r.prediction, r.outcome])).toEqual(a.map((r) => [r.id, r.prediction, r.outcome]));
            for (const r of b) {
                const l = a.find((x) => x.id === r.id)!;
                // null for an empty answer on both sides, a number for every other
                expect(r.logprob === null, r.id).toBe(l.logprob === null);
                expect(r.logprob === null, r.id).toBe(r.prediction === '');
                if (r.logprob === null) continue;
                // the answer's log-probability is a sum over its tokens (at most maxTokens)
                maxSum = Math.max(maxSum, Math.abs(r.logprob - l.logprob!));
                expect(Math.abs(r.logprob - l.logprob!), r.id).toBeLessThan(TOL * greedy.maxTokens);
            }
            const m = (step: string, arm: string) => (servedRun.steps.find((s) => s.step === step)!.metrics as EvaluateMetrics).arms.find((x) => x.arm === arm)!;
            const [ml, ms] = [m('local', localArm), m('served', servedArm)];
            expect([ms.total, ms.correct, ms.wrong, ms.abstained]).toEqual([ml.total, ml.correct, ml.wrong, ml.abstained]);
        }
        // The outcomes are not all alike, so equal outcomes say something.
        expect(new Set(local.map((r) => r.outcome)).size).toBeGreaterThan(1);
        console.log(`spec run: ${items.length} questions × 2 arms served by llama-server, outcomes equal to local; max |Δ log p| per answer ${maxSum.toExponential(2)}`);
    });
});

describe.runIf(!!skipReason)('llama-server (not buildable here)', () => {
    it('is skipped with the reason', ({ skip }) => {
        skip(skipReason);
    });
});
