// Builds Plans by hand for engine tests (the same shape language/plan.ts produces): each step's
// key hashes its kind, parameters and its inputs' keys, as the Plan contract says.
import { createHash } from 'node:crypto';
import type { Decoding, Plan, Step } from '../../language/plan-types.js';

type StepInit = Omit<Step, 'key' | 'range' | 'nameRange' | 'files' | 'stochastic'> & { files?: string[]; stochastic?: boolean };

export function makePlan(file: string, steps: StepInit[], options: { seeds?: number; alpha?: number } = {}): Plan {
    const keys = new Map<string, string>();
    const out: Step[] = steps.map((s, line) => {
        const key = createHash('sha256')
            .update(JSON.stringify({ kind: s.kind, params: s.params, inputs: s.inputs.map((i) => keys.get(i)) }))
            .digest('hex');
        keys.set(s.id, key);
        const range = { file, start: { line, character: 0 }, end: { line, character: 10 } };
        return { ...s, key, range, nameRange: range, files: s.files ?? [], stochastic: s.stochastic ?? false } as Step;
    });
    return { experiment: 'Test', file, seed: 1, seeds: options.seeds ?? 1, alpha: options.alpha ?? 0.05, steps: out };
}

export const greedy: Decoding = { temperature: 0, maxTokens: 4, stop: [], template: 'raw', fewShot: 0 };

/** dataset + two gguf models + label + shuffle + evaluate + hypotheses. */
export function basicSteps(dataPath: string, modelA: string, modelB: string, evalDecoding: Decoding = greedy): StepInit[] {
    return [
        {
            id: 'qa',
            kind: 'dataset',
            inputs: [],
            files: [dataPath],
            params: {
                source: { kind: 'file', path: dataPath, format: 'jsonl', fields: { question: 'question', answers: 'answer', id: 'id' } },
                splits: [
                    { name: 'train', share: 0.5 },
                    { name: 'test', share: 0.5 },
                ],
                seed: 3,
                dedupe: true,
            },
        },
        { id: 'a', kind: 'model', inputs: [], files: [modelA], params: { source: { kind: 'gguf', path: modelA } } },
        { id: 'b', kind: 'model', inputs: [], files: [modelB], params: { source: { kind: 'gguf', path: modelB } } },
        { id: 'byA', kind: 'label', inputs: ['a', 'qa'], params: { model: 'a', dataset: 'qa', split: 'train', decoding: greedy, otherwise: "I don't know", match: 'exact' } },
        { id: 'shuf', kind: 'shuffle', inputs: ['byA'], stochastic: true, params: { source: 'byA', seed: 11 } },
        {
            id: 'ev',
            kind: 'evaluate',
            inputs: ['a', 'b', 'qa'],
            params: { arms: [{ model: 'a' }, { model: 'b' }], dataset: 'qa', split: 'test', decoding: evalDecoding, abstain: ["I don't know"], match: 'exact' },
        },
        { id: 'h1', kind: 'hypothesis', inputs: ['ev'], params: { a: 'a', b: 'b', direction: 'more', matchedCoverage: false, evaluation: 'ev', alpha: 0.05 } },
        { id: 'h2', kind: 'hypothesis', inputs: ['ev'], params: { a: 'a', b: 'b', direction: 'more', matchedCoverage: true, evaluation: 'ev', alpha: 0.05 } },
    ] as StepInit[];
}
