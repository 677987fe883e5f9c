/**
 * Which files a spec may read without a word: those inside the workspace. A path that leaves it
 * (absolute, `..`, or a symlink whose target is elsewhere) gets a warning by default and an error
 * when the policy is strict (`mismatch check|run --strict`, or an untrusted VS Code workspace, which
 * the extension tells the language server). Either way the checks never read such a file's
 * content, so no diagnostic can show the first record of, say, /etc/passwd.
 *
 * The workspace is the editor's workspace folders in the language server; on the command line, the
 * working directory and the folder of the spec that names the file.
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PathPolicy {
    /** Workspace roots; undefined on the command line (the working directory and the spec's folder). */
    roots?: string[];
    strict: boolean;
}

let policy: PathPolicy = { strict: false };

export function setPathPolicy(p: Partial<PathPolicy>): void {
    policy = { ...policy, ...p };
}

/**
 * The policy of the language server from its initialize request: the workspace folders are the
 * roots, and `initializationOptions.trusted` (sent by the extension from VS Code's workspace trust)
 * false makes it strict. A client that says nothing about trust is taken as trusted.
 */
export function policyFromInitialize(params: { initializationOptions?: unknown; workspaceFolders?: { uri: string }[] | null }): PathPolicy {
    const trusted = (params.initializationOptions as { trusted?: unknown } | undefined)?.trusted !== false;
    const roots = (params.workspaceFolders ?? []).filter((f) => f.uri.startsWith('file:')).map((f) => fileURLToPath(f.uri));
    return { strict: !trusted, ...(roots.length ? { roots } : {}) };
}

export function pathPolicy(): PathPolicy {
    return policy;
}

function real(p: string): string {
    try {
        return realpathSync(p);
    } catch {
        // Not there (yet): resolve the deepest folder that exists, so a symlinked parent still counts.
        const parent = path.dirname(p);
        return parent === p ? p : path.join(real(parent), path.basename(p));
    }
}

function within(file: string, root: string): boolean {
    const rel = path.relative(root, file);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Undefined when `abs` (named as `written` in the spec at `specFile`) is inside the workspace, else
 * the sentence that says where it leads.
 */
export function outsideWorkspace(abs: string, written: string, specFile: string): string | undefined {
    const roots = policy.roots ?? [process.cwd(), path.dirname(specFile)];
    const target = real(abs);
    const realRoots = roots.map(real);
    if (realRoots.some((r) => within(target, r))) return undefined;
    const how = path.isAbsolute(written) ? 'an absolute path' : within(path.resolve(abs), path.dirname(specFile)) || !written.split(/[\\/]/).includes('..') ? 'a symlink' : 'a path with ..';
    return `'${written}' is outside the workspace (${how} to ${target}); its content is not checked.`;
}
