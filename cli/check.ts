/**
 * `mismatch check <file|folder…>`: validates specs with the language server's own validator and
 * prints `file:line:col: severity code: message` (1-based), or a JSON array with `--json`.
 * Exit status 1 when any error, else 0.
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { loadPlan, loadSpecs, type SpecDiagnostic } from '../language/load.js';
import { setPathPolicy } from '../language/validation/path-policy.js';
import { jsonError } from './output.js';

export interface CheckOptions {
    json?: boolean;
    warnings?: boolean;
    hints?: boolean;
    plan?: boolean;
    /** Paths leaving the workspace are errors (else warnings). */
    strict?: boolean;
}

export interface JsonDiagnostic {
    file: string;
    line: number;
    column: number;
    severity: SpecDiagnostic['severity'];
    code: string;
    message: string;
}

/** Folders stand for the .mismatch files directly inside them. */
export function expandInputs(inputs: string[]): string[] {
    const out: string[] = [];
    for (const input of inputs) {
        try {
            if (statSync(input).isDirectory()) {
                // Files only: `.mismatch/` is the run store's folder beside the specs.
                const found = readdirSync(input, { withFileTypes: true })
                    .filter((e) => e.isFile() && e.name.endsWith('.mismatch') && e.name !== '.mismatch')
                    .map((e) => path.join(input, e.name))
                    .sort();
                out.push(...(found.length > 0 ? found : [input]));
                continue;
            }
        } catch {
            /* reported as a missing file by loadSpecs */
        }
        out.push(input);
    }
    return out;
}

/** A path for people: relative to the working directory when inside it. */
export function displayPath(file: string, cwd = process.cwd()): string {
    const rel = path.relative(cwd, file);
    return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

export function formatDiagnostic(d: SpecDiagnostic, cwd = process.cwd()): string {
    return `${displayPath(d.file, cwd)}:${d.line}:${d.column}: ${d.severity} ${d.code}: ${d.message}`;
}

export async function checkFiles(
    inputs: string[],
    options: { warnings?: boolean; hints?: boolean } = {},
): Promise<{ diagnostics: SpecDiagnostic[]; files: string[]; errors: number; warnings: number }> {
    const files = expandInputs(inputs);
    const { diagnostics } = await loadSpecs(files);
    const shown = diagnostics.filter((d) => (options.warnings !== false || d.severity === 'error') && (options.hints || d.severity !== 'hint'));
    return {
        diagnostics: shown,
        files,
        errors: diagnostics.filter((d) => d.severity === 'error').length,
        warnings: diagnostics.filter((d) => d.severity === 'warning').length,
    };
}

export interface Writer {
    write(text: string): unknown;
}

export async function runCheck(inputs: string[], options: CheckOptions, out: Writer = process.stdout, err: Writer = process.stderr): Promise<number> {
    setPathPolicy({ strict: !!options.strict });
    let result: Awaited<ReturnType<typeof checkFiles>>;
    try {
        result = await checkFiles(inputs, options);
    } catch (e) {
        // A failure of the checker itself: still one JSON document on stdout with --json.
        if (options.json) out.write(JSON.stringify(jsonError('error', (e as Error).message), null, 2) + '\n');
        err.write(`mismatch check: ${(e as Error).message}\n`);
        return 1;
    }
    if (options.json) {
        const json: JsonDiagnostic[] = result.diagnostics.map((d) => ({ file: displayPath(d.file), line: d.line, column: d.column, severity: d.severity, code: d.code, message: d.message }));
        out.write(JSON.stringify(json, null, 2) + '\n');
    } else {
        for (const d of result.diagnostics) out.write(formatDiagnostic(d) + '\n');
        const n = result.files.length;
        const summary =
            result.errors === 0 && result.warnings === 0
                ? `${n} spec${n === 1 ? '' : 's'} checked: no problems.`
                : `${n} spec${n === 1 ? '' : 's'} checked: ${result.errors} error${result.errors === 1 ? '' : 's'}, ${result.warnings} warning${result.warnings === 1 ? '' : 's'}.`;
        err.write(summary + '\n');
    }
    if (options.plan && result.errors === 0) {
        for (const f of result.files) {
            const { plan } = await loadPlan(f);
            out.write(JSON.stringify(plan, null, 2) + '\n');
        }
    }
    return result.errors > 0 ? 1 : 0;
}

export function registerCheck(program: Command): void {
    program
        .command('check')
        .description('validate .mismatch specs (and their imports): file:line:col: severity code: message')
        .argument('<files...>', '.mismatch files, or folders holding them')
        .option('--json', 'print a JSON array of {file, line, column, severity, code, message}')
        .option('--no-warnings', 'print errors only')
        .option('--hints', 'also print hints (steps that nothing reads)')
        .option('--plan', 'also print the Plan (JSON) of each spec without errors')
        .option('--strict', "dataset, model and import paths outside the workspace (the working directory and the spec's folder) are errors, not warnings")
        .action(async (files: string[], options: CheckOptions) => {
            process.exitCode = await runCheck(files, options);
        });
}
