// The batching tests' reference, written apart from the engine's worker: greedy answers with
// node-llama-cpp alone, the questions ordered by id and cut into groups of `sequences`, each group's
// sequences evaluated together one step at a time (all prompts, then one token per unfinished
// sequence). With sequences 1 it is the plain one-question-at-a-time loop.
//   node lockstep-reference-child.mjs '{"model":"m.gguf","items":[{"id":"a","question":"..."}],"sequences":8,"maxTokens":10}'
// Prints one JSON line: [{ id, text, logprobs }] in id order. Run with UV_THREADPOOL_SIZE=1 (see engine/models/local.ts).
import { setImmediate } from 'node:timers';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const { model: modelPath, items, sequences, maxTokens } = JSON.parse(process.argv[2]);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 1 });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({ sequences, contextSize: 128, batchSize: Math.min(512, 128 * sequences), threads: 1 });
const slots = Array.from({ length: sequences }, () => context.getSequence());
const ordered = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const out = [];
for (let g = 0; g < ordered.length; g += sequences) {
    const group = ordered.slice(g, g + sequences);
    const lanes = group.map((item, j) => {
        const bos = model.tokens.bos;
        const prompt = model.tokenize(item.question, false);
        const tokens = bos != null && model.tokens.shouldPrependBosToken ? [bos, ...prompt] : prompt;
        return { item, seq: slots[j], tokens, out: [], logprobs: [], it: undefined };
    });
    for (const l of lanes) await l.seq.clearHistory();
    for (const l of lanes) l.it = l.seq.evaluateWithMetadata(l.tokens, { confidence: true }, { temperature: 0 });
    let active = lanes;
    while (active.length) {
        // the previous step's batch has been dispatched and finished before anyone asks again
        await new Promise((r) => setImmediate(r));
        const steps = await Promise.all(active.map((l) => l.it.next()));
        const still = [];
        for (let k = 0; k < active.length; k++) {
            const l = active[k];
            const r = steps[k];
            if (r.done || model.isEogToken(r.value.token)) continue;
            l.out.push(r.value.token);
            l.logprobs.push(Math.log(Math.max(r.value.confidence, 1e-45)));
            if (l.out.length < maxTokens) still.push(l);
        }
        for (const l of active) if (!still.includes(l)) await l.it.return();
        active = still;
    }
    for (const l of lanes) out.push({ id: l.item.id, text: model.detokenize(l.out).trim(), logprobs: l.logprobs });
}
process.stdout.write(JSON.stringify(out) + '\n');
await context.dispose();
await model.dispose();
await llama.dispose();
