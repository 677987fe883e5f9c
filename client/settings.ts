// The extension's settings (package.json `contributes.configuration`), resolved for one spec.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Plan } from '../language/plan-types.js';

export type GpuChoice = 'auto' | 'cuda' | 'vulkan' | 'off';

export interface RunSettings {
    /** undefined: the engine's default (available cores). */
    threads?: number;
    gpu: GpuChoice;
    storeDir: string;
    serverUrl: string;
    annotations: boolean;
}

export function runSettings(spec: vscode.Uri): RunSettings {
    const cfg = vscode.workspace.getConfiguration('mismatch', spec);
    const threads = cfg.get<number>('threads', 0);
    const gpu = cfg.get<GpuChoice>('gpu', 'auto');
    const store = cfg.get<string>('store', '.mismatch') || '.mismatch';
    return {
        threads: Number.isInteger(threads) && threads > 0 ? threads : undefined,
        gpu: (['auto', 'cuda', 'vulkan', 'off'] as const).includes(gpu) ? gpu : 'auto',
        storeDir: storeDirFor(spec.fsPath, store),
        serverUrl: cfg.get<string>('serverUrl', '') ?? '',
        annotations: cfg.get<boolean>('annotations.enabled', true),
    };
}

/** A relative store path is resolved beside the spec; `~` is the home folder. */
export function storeDirFor(specPath: string, store: string): string {
    const home = process.env.HOME ?? process.env.USERPROFILE ?? '';
    const expanded = store.startsWith('~/') ? path.join(home, store.slice(2)) : store;
    return path.isAbsolute(expanded) ? expanded : path.join(path.dirname(specPath), expanded);
}

/**
 * A `server` model without a URL takes the `mismatch.serverUrl` setting. Applied to the plan both
 * when running and when reading results. The store key holds the URL (engine/run.ts), so results
 * made on another server are never read as this one's.
 */
export function withDefaultServerUrl(plan: Plan, url: string): Plan {
    if (!url) return plan;
    return {
        ...plan,
        steps: plan.steps.map((s) => (s.kind === 'model' && s.params.source.kind === 'server' && !s.params.source.url ? { ...s, params: { ...s.params, source: { ...s.params.source, url } } } : s)),
    };
}
