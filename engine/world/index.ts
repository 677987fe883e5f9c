/**
 * The synthetic knowledge world: the embedded default's data source (`world atlas { … }` in a spec).
 *
 * Interface (stable; the engine's dataset loader and the pretrain step code against it):
 *
 *   generateWorld({ entities, relations, seed }) : World
 *       Deterministic: the same params give a deep-equal World on every run and platform.
 *       `entities` fictional lands with syllable names; for each land and each requested relation
 *       one Fact (so `facts.length === entities * relations.length`), in entity-major order.
 *       Throws a WorldError for an unknown relation or entities < 1 / > MAX_ENTITIES.
 *
 *   World.facts[i] : Fact
 *       id        stable id `e<index>.<relation>` (e.g. `e007.capital`), unique in the world
 *       entity    the land's name;  entityId `e007`
 *       relation  one of RELATION_NAMES
 *       answer    the gold answer (the form the models are taught);  aliases: other accepted forms
 *       question  the phrasing used for this fact in datasets (chosen per fact by seed)
 *       questions every phrasing of the relation for this land (the pretraining text uses them all)
 *
 *   World.relations[i] : RelationStats   per relation: answer pool size, distinct answers used,
 *       `chance` = probability that a uniformly random guess among the relation's answers is
 *       right (1 / distinct answers), `majority` = share of the most common answer.
 *   World.chance     mean `chance` over facts: what a model that knows nothing scores.
 *
 *   worldToQA(world) : QARecord[]      one record per fact, in `facts` order:
 *       { id, question, answers: [gold, ...aliases], relation, entity, phrasings }
 *       This is the view behind `dataset X from <world>`.
 *
 *   entityLines(world) : string[]       one neutral sentence per land ("Vorlak is a land."), so a
 *       pretrained model sees every entity name without being taught any fact about it.
 *
 *   worldToJsonl(world) : string  the export format of `mismatch export`: one QA record per line
 *       (readable back as `dataset X from "file.jsonl" { question "question"  answers "answers" }`).
 *   describeWorld(world) : string  a short human summary (facts, chance level per relation).
 *
 *   taughtFactIds(world, knows, seed) : string[]   the facts a `pretrain … { knows P% }` model is
 *       taught: exactly round(P * facts) of them, chosen per fact by a hash of (seed, fact id), so
 *       the choice is known from the spec alone (the ground truth of outcome x knowledge tables).
 *       Two models with the same seed have nested knowledge (the one that knows less knows a
 *       subset of the other's facts, so no fact is known by the smaller alone); different seeds
 *       draw independently (a spec's `factsSeed` gives a model its own draw, e.g. a student that
 *       knows facts its teacher lacks; `taughtSeed(source)` is the seed a model's draw uses).
 *
 * Prompt format used by the embedded models (pretraining and, through the engine, fine-tuning and
 * evaluation with the `raw` template): the question as is, then a space and the answer, then EOS.
 */
import { makeRng, unitHash } from './rng.js';
import { acceptableName, fictionalWord } from './names.js';
import type { Rng } from './rng.js';

export const MAX_ENTITIES = 5000;

export interface WorldParams {
    entities: number;
    relations: string[];
    seed: number;
}

export interface Entity {
    id: string;
    name: string;
}

export interface Fact {
    id: string;
    entityId: string;
    entity: string;
    relation: string;
    answer: string;
    aliases: string[];
    question: string;
    questions: string[];
}

export interface RelationStats {
    name: string;
    description: string;
    facts: number;
    /** Size of the pool the answers were drawn from. */
    pool: number;
    /** Distinct answers used by this world's facts. */
    distinctAnswers: number;
    /** Probability that a uniform guess among the distinct answers is right. */
    chance: number;
    /** Share of the most common answer (what always guessing it would score). */
    majority: number;
    phrasings: number;
}

export interface World {
    params: WorldParams;
    entities: Entity[];
    facts: Fact[];
    relations: RelationStats[];
    /** Mean chance level over facts. */
    chance: number;
}

export interface QARecord {
    id: string;
    question: string;
    /** Gold answer first, then aliases. */
    answers: string[];
    relation: string;
    entity: string;
    phrasings: string[];
}

export class WorldError extends Error {
    constructor(
        message: string,
        readonly field: 'entities' | 'relations' | 'seed' | 'knows',
    ) {
        super(message);
        this.name = 'WorldError';
    }
}

interface RelationDef {
    description: string;
    templates: string[];
    /** Answer pool size for a world of n entities. */
    pool: (n: number) => number;
    /** Whether each entity gets its own answer (drawn without replacement). */
    unique: boolean;
    /** Builds the pool's answers (gold and aliases), using and updating the set of used names. */
    makeAnswer: (rng: Rng, used: Set<string>, index: number) => { answer: string; aliases: string[] };
}

const FIRST_YEAR = 1100;
const LAST_YEAR = 1899;

function uniqueName(rng: Rng, used: Set<string>, make: () => string): string {
    for (let attempt = 0; attempt < 10_000; attempt++) {
        const name = make();
        if (acceptableName(name, used)) {
            used.add(name.toLowerCase());
            return name;
        }
    }
    throw new Error('world: could not find a fresh fictional name (the world is too large)');
}

/** A person's answer (founder, leader): "First Last", with the family name as an alias. */
function personName(rng: Rng, used: Set<string>): { answer: string; aliases: string[] } {
    const first = uniqueName(rng, used, () => fictionalWord(rng, 2, 2));
    const last = uniqueName(rng, used, () => fictionalWord(rng, 2, 3));
    return { answer: `${first} ${last}`, aliases: [last] };
}

const RELATIONS: Record<string, RelationDef> = {
    capital: {
        description: 'capital city',
        templates: ['What is the capital of {e}?', 'Which city is the capital of {e}?', 'Name the capital city of {e}.', '{e} has its capital in which city?'],
        pool: (n) => n,
        unique: true,
        makeAnswer: (rng, used) => ({
            answer: uniqueName(rng, used, () => fictionalWord(rng, 1, 2, ['dun', 'mar', 'holt', 'vek', 'ssa', 'grad', 'ir', 'oth'])),
            aliases: [],
        }),
    },
    founder: {
        description: 'founder (a person)',
        templates: ['Who founded {e}?', 'Who was the founder of {e}?', 'Name the founder of {e}.', '{e} was founded by whom?'],
        pool: (n) => n,
        unique: true,
        makeAnswer: personName,
    },
    river: {
        description: 'main river',
        templates: ['What is the main river of {e}?', 'Which river flows through {e}?', 'Name the longest river in {e}.', '{e} lies on which river?'],
        pool: (n) => Math.max(40, Math.ceil(n / 2)),
        unique: false,
        makeAnswer: (rng, used) => {
            const name = uniqueName(rng, used, () => fictionalWord(rng, 2, 2));
            return { answer: `${name} River`, aliases: [name, `the ${name} River`, `the ${name}`] };
        },
    },
    founded: {
        description: 'founding year',
        templates: ['In what year was {e} founded?', 'When was {e} founded?', '{e} was founded in which year?', 'What is the founding year of {e}?'],
        pool: () => LAST_YEAR - FIRST_YEAR + 1,
        unique: false,
        makeAnswer: (_rng, _used, index) => ({ answer: String(FIRST_YEAR + index), aliases: [] }),
    },
    language: {
        description: 'official language',
        templates: ['What language is spoken in {e}?', 'Which language do people speak in {e}?', 'Name the official language of {e}.', '{e} speaks which language?'],
        pool: (n) => Math.max(30, Math.ceil(n / 3)),
        unique: false,
        makeAnswer: (rng, used) => ({
            answer: uniqueName(rng, used, () => fictionalWord(rng, 1, 2, ['ic', 'ish', 'ese', 'i'])),
            aliases: [],
        }),
    },
    currency: {
        description: 'currency',
        templates: ['What is the currency of {e}?', 'Which currency is used in {e}?', 'Name the money of {e}.', '{e} pays in which currency?'],
        pool: (n) => Math.max(30, Math.ceil(n / 3)),
        unique: false,
        makeAnswer: (rng, used) => ({
            answer: uniqueName(rng, used, () => fictionalWord(rng, 1, 2, ['el', 'ar', 'o', 'u'])),
            aliases: [],
        }),
    },
    leader: {
        description: 'current leader (a person)',
        templates: ['Who leads {e}?', 'Who is the leader of {e}?', 'Name the ruler of {e}.', '{e} is governed by whom?'],
        pool: (n) => n,
        unique: true,
        makeAnswer: personName,
    },
    mountain: {
        description: 'highest mountain',
        templates: ['What is the highest mountain in {e}?', 'Which mountain is the highest in {e}?', 'Name the tallest peak of {e}.', '{e} is crowned by which mountain?'],
        pool: (n) => Math.max(40, Math.ceil(n / 2)),
        unique: false,
        makeAnswer: (rng, used) => {
            const name = uniqueName(rng, used, () => fictionalWord(rng, 2, 2));
            return { answer: `Mount ${name}`, aliases: [name] };
        },
    },
};

/** Relation names a world may use, in a stable order. */
export const RELATION_NAMES: readonly string[] = Object.keys(RELATIONS);
/** Relations used when a world names none. */
export const DEFAULT_RELATIONS: readonly string[] = ['capital', 'founder', 'river'];

/** Describes a relation for hovers and completion (undefined for unknown names). */
export function describeRelation(name: string): { description: string; templates: string[] } | undefined {
    const def = RELATIONS[name];
    return def && { description: def.description, templates: [...def.templates] };
}

function templateWords(): Set<string> {
    const words = new Set<string>(['is', 'a', 'land', 'river', 'mount', 'the', 'i', 'don', 't', 'know']);
    for (const def of Object.values(RELATIONS)) {
        for (const t of def.templates) for (const w of t.toLowerCase().match(/[a-z]+/g) ?? []) words.add(w);
    }
    return words;
}

export function generateWorld(params: WorldParams): World {
    const { entities: n, seed } = params;
    const relations = params.relations.length > 0 ? [...params.relations] : [...DEFAULT_RELATIONS];
    if (!Number.isInteger(n) || n < 1 || n > MAX_ENTITIES) {
        throw new WorldError(`entities must be an integer from 1 to ${MAX_ENTITIES} (got ${n})`, 'entities');
    }
    if (!Number.isFinite(seed)) throw new WorldError(`seed must be a number (got ${seed})`, 'seed');
    const seen = new Set<string>();
    for (const r of relations) {
        if (!RELATIONS[r]) throw new WorldError(`unknown relation '${r}' (known: ${RELATION_NAMES.join(', ')})`, 'relations');
        if (seen.has(r)) throw new WorldError(`relation '${r}' is listed twice`, 'relations');
        seen.add(r);
    }
    const used = templateWords();
    const rng = makeRng(`world:${seed}:entities`);
    const entities: Entity[] = [];
    for (let i = 0; i < n; i++) {
        entities.push({
            id: `e${String(i).padStart(n > 1000 ? 4 : 3, '0')}`,
            name: uniqueName(rng, used, () => fictionalWord(rng, 2, 3, ['', '', 'ia', 'or', 'an'])),
        });
    }
    // Per relation: a pool of answers, then each entity's answer (without replacement for unique
    // relations, uniform with replacement otherwise). Each relation has its own random stream, so
    // adding a relation does not change the others' answers.
    const answersByRelation = new Map<string, { answer: string; aliases: string[] }[]>();
    const stats: RelationStats[] = [];
    for (const r of relations) {
        const def = RELATIONS[r];
        const rr = makeRng(`world:${seed}:relation:${r}`);
        const poolSize = def.pool(n);
        let assigned: { answer: string; aliases: string[] }[];
        if (r === 'founded') {
            assigned = entities.map(() => def.makeAnswer(rr, used, rr.int(poolSize)));
        } else if (def.unique) {
            assigned = entities.map((_, i) => def.makeAnswer(rr, used, i));
        } else {
            const pool = Array.from({ length: poolSize }, (_, i) => def.makeAnswer(rr, used, i));
            assigned = entities.map(() => pool[rr.int(poolSize)]);
        }
        answersByRelation.set(r, assigned);
        const counts = new Map<string, number>();
        for (const a of assigned) counts.set(a.answer, (counts.get(a.answer) ?? 0) + 1);
        stats.push({
            name: r,
            description: def.description,
            facts: n,
            pool: poolSize,
            distinctAnswers: counts.size,
            chance: 1 / counts.size,
            majority: Math.max(...counts.values()) / n,
            phrasings: def.templates.length,
        });
    }
    const facts: Fact[] = [];
    for (let i = 0; i < n; i++) {
        const e = entities[i];
        for (const r of relations) {
            const def = RELATIONS[r];
            const a = answersByRelation.get(r)![i];
            const id = `${e.id}.${r}`;
            const questions = def.templates.map((t) => t.replace('{e}', e.name));
            const chosen = Math.floor(unitHash(`world:${seed}:phrasing:${id}`) * questions.length);
            facts.push({
                id,
                entityId: e.id,
                entity: e.name,
                relation: r,
                answer: a.answer,
                aliases: [...a.aliases],
                question: questions[chosen],
                questions,
            });
        }
    }
    const byName = new Map(stats.map((s) => [s.name, s]));
    const chance = facts.reduce((sum, f) => sum + byName.get(f.relation)!.chance, 0) / facts.length;
    return { params: { entities: n, relations, seed }, entities, facts, relations: stats, chance };
}

export function worldToQA(world: World): QARecord[] {
    return world.facts.map((f) => ({
        id: f.id,
        question: f.question,
        answers: [f.answer, ...f.aliases],
        relation: f.relation,
        entity: f.entity,
        phrasings: [...f.questions],
    }));
}

/** The chance level of one relation in this world (undefined for a relation it does not have). */
export function chanceLevel(world: World, relation: string): number | undefined {
    return world.relations.find((r) => r.name === relation)?.chance;
}

export function taughtFactIds(world: World, knows: number, seed: number): string[] {
    if (!(knows > 0 && knows <= 1)) throw new WorldError(`knows must be in (0, 100%] (got ${knows})`, 'knows');
    const count = Math.round(knows * world.facts.length);
    const ranked = world.facts.map((f, index) => ({ id: f.id, index, u: unitHash(`taught:${seed}:${f.id}`) })).sort((a, b) => a.u - b.u || a.index - b.index);
    const chosen = new Set(ranked.slice(0, count).map((r) => r.id));
    // Returned in world order, not rank order, so the list reads like the world.
    return world.facts.filter((f) => chosen.has(f.id)).map((f) => f.id);
}

/**
 * The seed of the draw of which facts a pretrained model is taught: its `factsSeed` when the spec
 * sets one, else its `seed` (the same seed for two models of one world gives nested knowledge). A
 * replicate offsets both alike.
 */
export function taughtSeed(source: { seed: number; factsSeed?: number }): number {
    return source.factsSeed ?? source.seed;
}

export function entityLines(world: World): string[] {
    return world.entities.map((e) => `${e.name} is a land.`);
}

export function worldToJsonl(world: World): string {
    return worldToQA(world)
        .map((r) => JSON.stringify(r) + '\n')
        .join('');
}

export function describeWorld(world: World): string {
    const lines = [`${world.entities.length} lands, ${world.facts.length} facts, seed ${world.params.seed}; chance level ${(100 * world.chance).toFixed(2)}%`];
    for (const r of world.relations) {
        lines.push(
            `  ${r.name.padEnd(9)} ${r.description}: ${r.distinctAnswers} distinct answers (pool ${r.pool}), chance ${(100 * r.chance).toFixed(2)}%, most common answer ${(100 * r.majority).toFixed(1)}%`,
        );
    }
    return lines.join('\n');
}
