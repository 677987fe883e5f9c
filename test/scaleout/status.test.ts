// While a finetune step waits for an external trainer, the status says so: on the spec's line (the
// annotation of the step in flight) and in the CLI's plain output (once per message, not per poll).
import { describe, expect, it } from 'vitest';
import { annotate } from '../../client/annotate.js';
import { progressRenderer } from '../../cli/run.js';
import type { Plan, Step } from '../../language/plan-types.js';

const file = '/w/spec.mismatch';
const ft = {
    kind: 'finetune',
    id: 'ft',
    range: { file, start: { line: 3, character: 2 }, end: { line: 3, character: 80 } },
    nameRange: { file, start: { line: 3, character: 11 }, end: { line: 3, character: 13 } },
    inputs: [],
    key: 'k',
    stochastic: false,
    files: [],
    params: {},
} as unknown as Step;
const plan: Plan = { experiment: 'E', file, seed: 1, seeds: 1, alpha: 0.05, steps: [ft] };
const message = 'waiting for the TRL job: run /w/.mismatch/jobs/ft-0123/run.sh (accelerate launch train.py); the adapter goes to /w/.mismatch/jobs/ft-0123/output (no adapter_config.json yet)';

describe('waiting for an external trainer', () => {
    it('the spec line says it waits, the hover says what to run and where the adapter goes', () => {
        const [a] = annotate(plan, [], { running: { step: 'ft', done: 0, total: 1, unit: 'job', message } });
        expect(a).toMatchObject({ step: 'ft', text: "⏳ waiting for the trainer's adapter", tone: 'running' });
        expect(a!.hover).toBe(`\`ft\` is ${message}`);
        // other progress keeps its percentage
        expect(annotate(plan, [], { running: { step: 'ft', done: 1, total: 4, unit: 'steps', message: 'loss 2.1' } })[0]!.text).toBe('⟳ running 25% (1/4 steps)');
    });

    it('the CLI without a terminal prints the message once per change', () => {
        const lines: string[] = [];
        const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
        const r = progressRenderer(stream, false);
        const ev = (m: string) => r.onEvent({ type: 'step-progress', step: 'ft', kind: 'finetune', done: 0, total: 1, unit: 'job', message: m });
        ev(message);
        ev(message);
        ev(message.replace('no adapter_config.json yet', 'no adapter_model.safetensors yet'));
        r.stop();
        expect(lines).toEqual([`  ft: ${message}\n`, `  ft: ${message.replace('no adapter_config.json yet', 'no adapter_model.safetensors yet')}\n`]);
    });
});
