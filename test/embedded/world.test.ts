import { describe, expect, it } from 'vitest';
import { DEFAULT_RELATIONS, RELATION_NAMES, WorldError, chanceLevel, entityLines, generateWorld, worldToJsonl, worldToQA } from '../../engine/world/index.js';
import { REAL_NAMES } from '../../engine/world/names.js';

const ALL = [...RELATION_NAMES];

describe('generateWorld', () => {
    it('is deterministic: the same params give the same world, another seed a different one', () => {
        const a = generateWorld({ entities: 120, relations: ALL, seed: 7 });
        const b = generateWorld({ entities: 120, relations: ALL, seed: 7 });
        const c = generateWorld({ entities: 120, relations: ALL, seed: 8 });
        expect(b).toEqual(a);
        expect(worldToJsonl(b)).toBe(worldToJsonl(a));
        const sameNames = a.entities.filter((e, i) => e.name === c.entities[i].name).length;
        expect(sameNames).toBeLessThan(5);
    });

    it('has one fact per land and relation, with unique stable ids', () => {
        const w = generateWorld({ entities: 50, relations: ['capital', 'founded'], seed: 1 });
        expect(w.facts).toHaveLength(100);
        expect(new Set(w.facts.map((f) => f.id)).size).toBe(100);
        expect(w.facts[0].id).toBe('e000.capital');
        expect(w.facts[3].id).toBe('e001.founded');
        // Adding a relation keeps the other relations' answers (each relation has its own stream).
        const w2 = generateWorld({ entities: 50, relations: ['capital', 'founded', 'river'], seed: 1 });
        const founded = (x: typeof w) => x.facts.filter((f) => f.relation === 'founded').map((f) => f.answer);
        expect(founded(w2)).toEqual(founded(w));
    });

    it('uses fictional names that collide with nothing real and with no other name', () => {
        const w = generateWorld({ entities: 600, relations: ALL, seed: 7 });
        const names = w.entities.map((e) => e.name);
        expect(new Set(names).size).toBe(names.length);
        const words = new Set<string>();
        for (const f of w.facts) {
            for (const word of f.answer.split(' ')) if (!/^(River|Mount|\d+)$/.test(word)) words.add(word.toLowerCase());
        }
        for (const n of names) {
            expect(REAL_NAMES.has(n.toLowerCase())).toBe(false);
            expect(words.has(n.toLowerCase())).toBe(false);
            expect(n).toMatch(/^[A-Z][a-z]{3,13}$/);
        }
        // Template words never double as names.
        for (const n of names) expect(['what', 'which', 'name', 'the', 'capital', 'land']).not.toContain(n.toLowerCase());
    });

    it('draws answers from pools large enough that a guess is rarely right, and says the chance level', () => {
        const w = generateWorld({ entities: 300, relations: ALL, seed: 7 });
        for (const r of w.relations) {
            expect(r.facts).toBe(300);
            expect(r.chance).toBeCloseTo(1 / r.distinctAnswers, 12);
            expect(r.chance).toBeLessThan(0.03);
            expect(r.majority).toBeLessThan(0.06);
            expect(chanceLevel(w, r.name)).toBe(r.chance);
            const answers = new Set(w.facts.filter((f) => f.relation === r.name).map((f) => f.answer));
            expect(answers.size).toBe(r.distinctAnswers);
        }
        expect(w.chance).toBeGreaterThan(0);
        expect(w.chance).toBeLessThan(0.02);
        // Unique relations give each land its own answer.
        expect(w.relations.find((r) => r.name === 'capital')!.distinctAnswers).toBe(300);
    });

    it('gives aliases for some answers and several phrasings per relation, one chosen per fact by seed', () => {
        const w = generateWorld({ entities: 200, relations: ALL, seed: 3 });
        expect(w.facts.some((f) => f.aliases.length > 0)).toBe(true);
        expect(w.facts.some((f) => f.aliases.length === 0)).toBe(true);
        for (const f of w.facts) {
            expect(f.questions.length).toBeGreaterThanOrEqual(4);
            expect(f.questions).toContain(f.question);
            for (const q of f.questions) expect(q).toContain(f.entity);
        }
        // Every phrasing is used for some facts of each relation.
        for (const r of RELATION_NAMES) {
            const facts = w.facts.filter((f) => f.relation === r);
            const used = new Set(facts.map((f) => f.questions.indexOf(f.question)));
            expect(used.size).toBe(facts[0].questions.length);
        }
    });

    it('gives the QA view the engine reads, and a neutral line per land', () => {
        const w = generateWorld({ entities: 20, relations: [], seed: 5 });
        expect(w.params.relations).toEqual([...DEFAULT_RELATIONS]);
        const qa = worldToQA(w);
        expect(qa).toHaveLength(w.facts.length);
        expect(qa[0]).toEqual({
            id: w.facts[0].id,
            question: w.facts[0].question,
            answers: [w.facts[0].answer, ...w.facts[0].aliases],
            relation: w.facts[0].relation,
            entity: w.facts[0].entity,
            phrasings: w.facts[0].questions,
        });
        const lines = entityLines(w);
        expect(lines).toHaveLength(20);
        for (const [i, line] of lines.entries()) {
            expect(line).toContain(w.entities[i].name);
            for (const f of w.facts) expect(line).not.toContain(f.answer);
        }
        const jsonl = worldToJsonl(w)
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l));
        expect(jsonl).toEqual(qa);
    });

    it('rejects bad params with a WorldError naming the field', () => {
        expect(() => generateWorld({ entities: 0, relations: [], seed: 1 })).toThrow(WorldError);
        try {
            generateWorld({ entities: 10, relations: ['capital', 'moons'], seed: 1 });
            expect.unreachable();
        } catch (e) {
            expect(e).toBeInstanceOf(WorldError);
            expect((e as WorldError).field).toBe('relations');
            expect((e as Error).message).toContain('moons');
        }
        expect(() => generateWorld({ entities: 10, relations: ['capital', 'capital'], seed: 1 })).toThrow(/twice/);
    });
});

describe('taughtFactIds', () => {
    it('chooses exactly the share asked, per fact by seed, nested for one seed and independent across seeds', async () => {
        const { taughtFactIds } = await import('../../engine/world/index.js');
        const w = generateWorld({ entities: 200, relations: ['capital', 'founder', 'river'], seed: 7 });
        const big = taughtFactIds(w, 0.75, 1);
        const small = taughtFactIds(w, 0.4, 1);
        expect(big).toHaveLength(450);
        expect(small).toHaveLength(240);
        expect(taughtFactIds(w, 0.75, 1)).toEqual(big);
        const bigSet = new Set(big);
        expect(small.every((id) => bigSet.has(id))).toBe(true);
        const other = new Set(taughtFactIds(w, 0.4, 2));
        const overlap = small.filter((id) => other.has(id)).length / small.length;
        expect(overlap).toBeGreaterThan(0.25);
        expect(overlap).toBeLessThan(0.55);
        // Spread over relations, not clustered.
        for (const r of ['capital', 'founder', 'river']) {
            const share = small.filter((id) => id.endsWith('.' + r)).length / 200;
            expect(share).toBeGreaterThan(0.28);
            expect(share).toBeLessThan(0.52);
        }
        expect(taughtFactIds(w, 1, 1)).toHaveLength(600);
        expect(() => taughtFactIds(w, 0, 1)).toThrow(WorldError);
    });
});

describe('the language and the world agree', () => {
    it('offers exactly the relations the world can generate, with the same default', async () => {
        const { specFor } = await import('../../language/properties.js');
        const spec = specFor('world', 'relations')!;
        expect([...(spec.values ?? [])].sort()).toEqual([...RELATION_NAMES].sort());
        expect(spec.default).toEqual([...DEFAULT_RELATIONS]);
    });
});
