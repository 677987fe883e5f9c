/**
 * Terminal conventions of every command: colour only where it is wanted (NO_COLOR, FORCE_COLOR,
 * a terminal), and the `--json` error shape.
 *
 * Colour: `NO_COLOR` set to anything non-empty turns it off (https://no-color.org); else
 * `FORCE_COLOR` turns it on (off when "0" or "false"); else only a terminal gets it. Tables are
 * drawn by cli-table3, which colours its borders and headers whatever the stream is, so text for a
 * stream without colour has its escape codes removed.
 */
import { stripVTControlCharacters } from 'node:util';

export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
    if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
    if (env.FORCE_COLOR !== undefined) return !['0', 'false'].includes(env.FORCE_COLOR.trim().toLowerCase());
    return !!stream.isTTY;
}

/** `text` as it should reach `stream`: without escape codes unless colour is enabled there. */
export function forStream(text: string, stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): string {
    return colorEnabled(stream, env) ? text : stripVTControlCharacters(text);
}

/**
 * What `--json` prints on stdout when a command could not do its work (bad arguments, a spec with
 * errors, an exception): `{ "status": "invalid" | "error", "error": { "message" }, "diagnostics": [...] }`.
 */
export interface JsonError {
    status: 'invalid' | 'error';
    error: { message: string };
    diagnostics: { file: string; line: number; column: number; severity: string; code: string; message: string }[];
}

export function jsonError(status: JsonError['status'], message: string, diagnostics: JsonError['diagnostics'] = []): JsonError {
    return { status, error: { message }, diagnostics };
}
