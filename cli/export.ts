/**
 * `mismatch export <spec> [--world NAME] [--out file.jsonl]`: writes a spec's synthetic world as
 * JSONL (one QA record per fact, the view behind `dataset X from <world>`), so users can read the
 * facts, the phrasings, the aliases and, per fact, which embedded models are taught it.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ModelStep, Plan, WorldStep } from '../language/plan-types.js';
import { loadPlan } from '../language/load.js';
import { describeWorld, generateWorld, taughtFactIds, worldToQA } from '../engine/world/index.js';

export interface ExportOptions {
    world?: string;
    out?: string;
}

export interface ExportResult {
    world: string;
    records: number;
    text: string;
    summary: string;
}

/** Builds the JSONL of one world of a plan; throws an Error with a user-facing message. */
export function exportWorldFromPlan(plan: Plan, options: ExportOptions = {}): ExportResult {
    const worlds = plan.steps.filter((s): s is WorldStep => s.kind === 'world');
    if (worlds.length === 0) throw new Error(`${plan.file}: the spec declares no world to export`);
    let step: WorldStep | undefined;
    if (options.world) {
        step = worlds.find((w) => w.id === options.world);
        if (!step) throw new Error(`${plan.file}: no world named '${options.world}' (worlds: ${worlds.map((w) => w.id).join(', ')})`);
    } else if (worlds.length > 1) {
        throw new Error(`${plan.file}: the spec declares several worlds (${worlds.map((w) => w.id).join(', ')}); choose one with --world`);
    } else {
        step = worlds[0];
    }
    const world = generateWorld(step.params);
    const models = plan.steps.filter((s): s is ModelStep => s.kind === 'model' && s.params.source.kind === 'pretrain' && s.params.source.world === step.id);
    const taught = new Map<string, Set<string>>();
    for (const m of models) {
        const src = m.params.source;
        if (src.kind === 'pretrain') taught.set(m.id, new Set(taughtFactIds(world, src.knows, src.seed)));
    }
    const lines = worldToQA(world).map((r) => {
        const record: Record<string, unknown> = { ...r };
        if (taught.size > 0) record.taught = Object.fromEntries([...taught].map(([m, ids]) => [m, ids.has(r.id)]));
        return JSON.stringify(record) + '\n';
    });
    return { world: step.id, records: lines.length, text: lines.join(''), summary: describeWorld(world) };
}

export function registerExport(program: Command): void {
    program
        .command('export')
        .description("write a spec's synthetic world as JSONL (one question/answers record per fact)")
        .argument('<spec>', 'the .mismatch file')
        .option('--world <name>', 'the world to export when the spec declares several')
        .option('--out <file>', 'output file (default: standard output)')
        .action(async (spec: string, options: ExportOptions) => {
            const { plan, diagnostics } = await loadPlan(spec);
            const errors = diagnostics.filter((d) => d.severity === 'error');
            if (!plan || errors.length > 0) {
                for (const d of errors) process.stderr.write(`${d.file}:${d.line}:${d.column}: error ${d.code}: ${d.message}\n`);
                process.stderr.write(`mismatch export: ${spec} has errors; nothing exported\n`);
                process.exitCode = 1;
                return;
            }
            try {
                const result = exportWorldFromPlan(plan, options);
                if (options.out) {
                    writeFileSync(options.out, result.text);
                    process.stderr.write(`${result.world}: ${result.summary}\nwrote ${result.records} records to ${options.out}\n`);
                } else {
                    process.stdout.write(result.text);
                }
            } catch (e) {
                process.stderr.write(`mismatch export: ${(e as Error).message}\n`);
                process.exitCode = 1;
            }
        });
}
