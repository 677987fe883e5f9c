// Diagnoses batched generation: the same greedy questions answered with 1 and with 16 parallel sequences.
import { LocalGenerator } from '../../engine/models/local.js';
import { generateWorld } from '../../engine/world/index.js';
import { CHECK_DECODING } from '../../engine/models/pretrain.js';
const [model, entities] = [process.argv[2], Number(process.argv[3] ?? 100)];
const w = generateWorld({ entities, relations: ['capital', 'founder', 'river'], seed: 7 });
const items = w.facts.map((f) => ({ id: f.id, question: f.question }));
const out: Record<number, Map<string, string>> = {};
for (const sequences of [1, 16]) {
    const g = await LocalGenerator.start({ modelPath: model, gpu: false, threads: 1, sequences, contextSize: 128 });
    const t = Date.now();
    const r = await g.generate(items, CHECK_DECODING);
    console.log(`sequences ${sequences}: ${(Date.now() - t) / 1000} s`);
    out[sequences] = new Map(r.map((x) => [x.id, x.text.trim()]));
    await g.close();
}
const diff = items.filter((i) => out[1].get(i.id) !== out[16].get(i.id));
console.log(`${diff.length} of ${items.length} answers differ`);
for (const d of diff.slice(0, 10)) console.log(d.id, '|', out[1].get(d.id), '|', out[16].get(d.id));
const gold = new Map(w.facts.map((f) => [f.id, f.answer]));
for (const s of [1, 16]) console.log(`sequences ${s}: exact gold ${items.filter((i) => out[s].get(i.id) === gold.get(i.id)).length}`);
