// Loads the engine bundle (ESM, dist/client/engine.js) into the extension host on first use.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export type EngineApi = typeof import('./engine-api.js');

let loading: Promise<EngineApi> | undefined;

/** The engine's API. `extensionPath` is the extension's root (dist/ lives under it). */
export function loadEngine(extensionPath: string): Promise<EngineApi> {
    // A dynamic import() that esbuild leaves alone (the path is not a literal), so the CJS
    // extension bundle loads the ESM engine bundle at run time.
    const url = pathToFileURL(path.join(extensionPath, 'dist', 'client', 'engine.js')).href;
    loading ??= (import(/* webpackIgnore: true */ url) as Promise<EngineApi>).catch((e: unknown) => {
        loading = undefined;
        throw e;
    });
    return loading;
}
