// The embedded models' tokenizer on world text: every word is one vocabulary piece (no byte
// fallback), encode/decode round-trips, and node-llama-cpp tokenizes a written GGUF identically.
// Then the honesty check's plumbing on a real, untrained model: it answers at about chance.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama } from 'node-llama-cpp';
import { buildTokenizer, initLlamaWeights, writeLlamaGguf } from '../../engine/train/api.js';
import { generateWorld, taughtFactIds } from '../../engine/world/index.js';
import { ABSTENTION_PHRASES, checkKnowledge, modelConfig, pretrainExamples, worldTexts } from '../../engine/models/pretrain.js';

const dir = mkdtempSync(join(tmpdir(), 'mm-embedded-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const world = generateWorld({ entities: 60, relations: ['capital', 'founder', 'river', 'founded'], seed: 11 });
const tokenizer = buildTokenizer({ texts: worldTexts(world) });

describe('world tokenizer', () => {
    it('covers every world text without byte fallback and round-trips it', () => {
        const texts = [...worldTexts(world), ...pretrainExamples(world, new Set(taughtFactIds(world, 0.5, 1))).map((e) => `${e.prompt} ${e.answer}`)];
        for (const t of texts) {
            expect(tokenizer.countFallback(t)).toEqual({ bytes: 0, unknown: 0 });
            expect(tokenizer.decode(tokenizer.encode(t))).toBe(t);
        }
        // Names are whole tokens: a land's name is one token after a space.
        const f = world.facts[0];
        const ids = tokenizer.encode(f.answer);
        expect(ids.length).toBe(f.answer.split(' ').length);
        for (const phrase of ABSTENTION_PHRASES) expect(tokenizer.countFallback(phrase).bytes).toBe(0);
    });

    it('is what node-llama-cpp reads from the GGUF, token for token', async () => {
        const config = modelConfig({ kind: 'pretrain', world: 'w', layers: 1, width: 32, heads: 2, knows: 0.5, seed: 1 }, tokenizer.vocabSize);
        const path = join(dir, 'vocab.gguf');
        writeLlamaGguf(path, { config, tokenizer, tensors: initLlamaWeights(config, 1) });
        const llama = await getLlama({ gpu: false, build: 'never' });
        const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
        try {
            for (const f of world.facts.slice(0, 80)) {
                for (const t of [f.question, f.answer, `${f.question} ${f.answer}`]) {
                    expect(Array.from(model.tokenize(t))).toEqual(tokenizer.encode(t));
                    expect(model.detokenize(model.tokenize(t))).toBe(t);
                }
            }
        } finally {
            await model.dispose();
        }
    });
});

describe('checkKnowledge on an untrained model', () => {
    it('scores a real GGUF: nothing taught is known, untaught accuracy is at chance, and it warns', async () => {
        const config = modelConfig({ kind: 'pretrain', world: 'w', layers: 1, width: 32, heads: 2, knows: 0.5, seed: 1 }, tokenizer.vocabSize);
        const path = join(dir, 'random.gguf');
        writeLlamaGguf(path, { config, tokenizer, tensors: initLlamaWeights(config, 3) });
        const taught = new Set(taughtFactIds(world, 0.5, 1));
        const { summary, records } = await checkKnowledge({ ggufPath: path, world, taught, threads: 1, gpu: false, maxFacts: 60 });
        expect(records).toHaveLength(60);
        expect(summary.taught + summary.untaught).toBe(60);
        expect(summary.taught).toBeGreaterThan(15);
        expect(summary.taughtAccuracy).toBeLessThan(0.1);
        expect(summary.untaughtAccuracy).toBeLessThan(0.1);
        expect(summary.chance).toBeCloseTo(world.chance, 12);
        for (const r of records) {
            expect(r.probability).toBeGreaterThanOrEqual(0);
            expect(r.probability).toBeLessThanOrEqual(1);
        }
        expect(summary.warnings.some((w) => w.includes('taught'))).toBe(true);
    });
});
