/**
 * What the extension host uses of the engine, bundled by esbuild as ESM into
 * `dist/client/engine.js` and loaded from the CJS extension with a dynamic `import()`
 * (node-llama-cpp, which the engine reaches, is ESM-only). The native work itself (generation,
 * training) runs in the engine's child processes, never in the extension host.
 */
export { runExperiment, readResults } from '../engine/run.js';
export type { RunOptions, GpuSetting } from '../engine/run.js';
export type { EngineEvent } from '../engine/events.js';
export { openStore } from '../engine/store/index.js';
export { allPlots, type NamedPlot } from '../engine/report/plots.js';
