/** The world step: draws the embedded world and stores the parameters it was drawn with. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorldStep } from '../../language/plan-types.js';
import { generateWorld } from '../world/index.js';
import type { ExecContext, StepOutcome } from './context.js';

export async function worldStep(ctx: ExecContext, s: WorldStep): Promise<StepOutcome> {
    // A replicate that redraws the world offsets its seed; world.json holds the seed it was drawn with.
    const params = { ...s.params, seed: s.params.seed + ctx.seedOffset };
    const world = generateWorld(params);
    await writeFile(join(ctx.outDir, 'world.json'), JSON.stringify({ params }, null, 1));
    return {
        metrics: {
            entities: world.entities.length,
            facts: world.facts.length,
            relations: world.relations.map((r) => r.name),
            chance: world.chance,
        },
    };
}
