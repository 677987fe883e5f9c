/**
 * The `mismatch` command line. Each subcommand lives in its own file and exports
 * `register<Name>(program)`; add yours to the list below (one import, one line).
 */
import { Command } from 'commander';
import { registerCheck } from './check.js';
import { registerExport } from './export.js';

const program = new Command()
    .name('mismatch')
    .description('Knowledge-mismatch experiments on local LLMs: check, run and report .mismatch specs.')
    .version('0.1.0')
    .showHelpAfterError();

// Registration points (keep in the order they appear in `mismatch --help`).
registerCheck(program); // language-core: cli/check.ts
// engine: registerRun(program), registerReport(program), registerClean(program) from cli/run.ts, cli/report.ts, cli/clean.ts
registerExport(program); // embedded: cli/export.ts

await program.parseAsync(process.argv);
