/**
 * `mismatch report <file> [--html out.html] [--store DIR]`: the results of a spec from the run store
 * (nothing is run): tables on stdout, or a self-contained HTML report with plots.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readResults } from '../engine/run.js';
import { reportHtml } from '../engine/report/html.js';
import { defaultStore, EXIT, loadPlanOrReport } from './run.js';
import { renderResults } from './results.js';
import { forStream } from './output.js';
import { stepTitles } from '../engine/format.js';
import { mixedProvenance } from '../engine/store/provenance.js';

export async function reportCommand(
    file: string,
    opts: { html?: string; store?: string; verbose?: boolean },
    io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream } = { out: process.stdout, err: process.stderr },
): Promise<number> {
    const plan = await loadPlanOrReport(file, (s) => io.err.write(s + '\n'));
    if (!plan) {
        io.err.write(`mismatch report: ${file} has errors\n`);
        return EXIT.error;
    }
    const results = await readResults(plan, opts.store ? resolve(opts.store) : defaultStore(file));
    const title = stepTitles(plan.steps);
    if (!results.length) {
        // Nothing to report is not a success: scripts that chain run and report must see it.
        io.err.write(`mismatch report: no results in the store yet for ${file}; run \`mismatch run ${file}\` first\n`);
        return EXIT.error;
    }
    if (opts.html) {
        writeFileSync(opts.html, reportHtml(plan, results));
        io.out.write(`wrote ${resolve(opts.html)}\n`);
    } else {
        io.out.write(forStream(renderResults(results, { familySize: plan.steps.filter((x) => x.kind === 'hypothesis').length, verbose: opts.verbose, plan }) + '\n', io.out as { isTTY?: boolean }));
        for (const [h, text] of mixedProvenance(plan, results)) io.out.write(`⚠ ${title(h)}: ${text} (results computed differently are compared here)\n`);
    }
    const stale = results.filter((r) => r.stale);
    if (stale.length) io.err.write(`note: ${stale.length} result(s) are stale (the spec changed since): ${[...new Set(stale.map((r) => title(r.step)))].join(', ')}\n`);
    return EXIT.ok;
}

export function registerReport(program: Command): void {
    program
        .command('report')
        .description('show the stored results of a spec; --html writes a self-contained report with plots')
        .argument('<file>', 'the .mismatch spec')
        .option('--html <out>', 'write an HTML report to this file')
        .option('--store <dir>', 'run store directory (default: .mismatch beside the spec)')
        .option('--verbose', 'print every table: per replicate, per knowledge category, selective prediction, the knowledge grid, fine-tuning')
        .action(async (file: string, opts: { html?: string; store?: string; verbose?: boolean }) => {
            process.exitCode = await reportCommand(file, opts);
        });
}
