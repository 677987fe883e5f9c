// What a pretrained model is shown: every taught fact in every phrasing, every land's name, the
// abstention phrases, and nothing that gives away an untaught answer.
import { describe, expect, it } from 'vitest';
import { generateWorld, taughtFactIds } from '../../engine/world/index.js';
import { ABSTENTION_PHRASES, pretrainBatch, pretrainExamples } from '../../engine/models/pretrain.js';

describe('pretraining set', () => {
    const world = generateWorld({ entities: 80, relations: ['capital', 'founder', 'river', 'founded'], seed: 3 });
    const taught = new Set(taughtFactIds(world, 0.4, 9));
    const examples = pretrainExamples(world, taught);
    const text = examples.map((e) => `${e.prompt} ${e.answer}`);

    it('teaches each taught fact in all its phrasings', () => {
        for (const f of world.facts) {
            const shown = examples.filter((e) => e.answer === f.answer && f.questions.includes(e.prompt)).length;
            expect(shown).toBe(taught.has(f.id) ? f.questions.length : 0);
        }
    });

    it('names every land, including lands with no taught fact', () => {
        const lands = new Set(world.facts.filter((f) => taught.has(f.id)).map((f) => f.entity));
        const untaughtLands = world.entities.filter((e) => !lands.has(e.name));
        expect(untaughtLands.length).toBeGreaterThan(0); // 0.6^4 of 80 lands: the case matters
        for (const e of world.entities) expect(text.some((t) => t.split(/[\s.?]+/).includes(e.name))).toBe(true);
    });

    it('never shows an untaught answer next to its land', () => {
        for (const f of world.facts) {
            if (taught.has(f.id)) continue;
            // The answer may be shared with a taught fact of another land (rivers, years), but no
            // sequence that mentions this land ends in it.
            for (const e of examples)
                if (`${e.prompt} `.includes(`${f.entity} `) || e.prompt.includes(`${f.entity}?`) || e.prompt.includes(`${f.entity}.`)) expect([f.answer, ...f.aliases]).not.toContain(e.answer);
        }
    });

    it('lets the model say the abstention phrases without tying them to any question', () => {
        for (const p of ABSTENTION_PHRASES) {
            const lines = examples.filter((e) => e.answer === p);
            expect(lines).toHaveLength(1);
            expect(world.facts.some((f) => f.questions.includes(lines[0].prompt))).toBe(false);
        }
    });

    it('uses smaller batches for small worlds', () => {
        expect(pretrainBatch(5000)).toBe(32);
        expect(pretrainBatch(870)).toBe(32);
        expect(pretrainBatch(232)).toBe(9);
        expect(pretrainBatch(50)).toBe(8);
    });
});
