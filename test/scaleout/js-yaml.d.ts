// js-yaml (installed with the dev tooling) ships no types; the tests use its `load` only, as an
// independent YAML parser for the exported Axolotl config.
declare module 'js-yaml' {
    export function load(text: string): unknown;
    const yaml: { load: typeof load };
    export default yaml;
}
