/**
 * The `mismatch` command line. Each subcommand lives in its own file and exports
 * `register<Name>(program)`; add yours to the list below (one import, one line).
 */
import { Command } from 'commander';
import { registerCheck } from './check.js';
import { registerExport } from './export.js';
import { registerRun } from './run.js';
import { registerReport } from './report.js';
import { registerClean } from './clean.js';

const program = new Command().name('mismatch').description('Knowledge-mismatch experiments on local LLMs: check, run and report .mismatch specs.').version('0.1.0').showHelpAfterError();

// Registration points (keep in the order they appear in `mismatch --help`).
registerCheck(program); // cli/check.ts
registerRun(program); // cli/run.ts
registerReport(program); // cli/report.ts
registerClean(program); // cli/clean.ts
registerExport(program); // cli/export.ts

await program.parseAsync(process.argv);
