import { describe, expect, it } from 'vitest';
import { RunRegistry, stepLenses } from '../../client/run-state.js';

/** What the CodeLens provider would show above a step of `key` now. */
function lensTitles(r: RunRegistry, key: string): string[] {
    return stepLenses({ id: 's', kind: 'evaluate' }, r.isRunning(key)).map((l) => l.title);
}

describe('run state: every path ends with "▶ Run"', () => {
    const A = 'file:///w/a.mismatch';
    const B = 'file:///w/b.mismatch';

    it('a run goes preparing → running → released, and says so on each change', () => {
        const r = new RunRegistry();
        const seen: string[] = [];
        r.onDidChange(() => seen.push(`${r.phase(A) ?? 'idle'}:${lensTitles(r, A).join('|')}`));
        const t = r.claim(A)!;
        expect(r.start(t)).toBe(true);
        expect(r.release(t)).toBe(true);
        expect(seen).toEqual(['preparing:▶ Run|▶ Run to here', 'running:■ Cancel', 'idle:▶ Run|▶ Run to here']);
    });

    it('a second request for a spec that is preparing is refused, not raced', () => {
        const r = new RunRegistry();
        const first = r.claim(A)!;
        expect(r.claim(A)).toBeUndefined();
        r.start(first);
        expect(r.claim(A)).toBeUndefined();
        r.release(first);
        expect(r.claim(A)).toBeDefined();
    });

    it('a run that fails before the engine starts (no plan, GPU check, an exception) leaves nothing claimed', () => {
        const r = new RunRegistry();
        let changes = 0;
        r.onDidChange(() => changes++);
        const t = r.claim(A)!;
        r.release(t); // the runner's outer finally
        expect(r.isClaimed(A)).toBe(false);
        expect(lensTitles(r, A)).toEqual(['▶ Run', '▶ Run to here']);
        expect(changes).toBe(2);
    });

    it('a run finished from the cache: start and release back to back, released twice (inner and outer finally)', () => {
        const r = new RunRegistry();
        const t = r.claim(A)!;
        r.start(t);
        expect(r.release(t)).toBe(true);
        expect(r.release(t)).toBe(false);
        expect(r.anyRunning()).toBe(false);
        expect(lensTitles(r, A)).toEqual(['▶ Run', '▶ Run to here']);
    });

    it('an old ticket neither starts nor clears a newer run of the same spec', () => {
        const r = new RunRegistry();
        const old = r.claim(A)!;
        r.release(old);
        const now = r.claim(A)!;
        r.start(now);
        expect(r.start(old)).toBe(false);
        expect(r.release(old)).toBe(false);
        expect(lensTitles(r, A)).toEqual(['■ Cancel']);
        r.release(now);
        expect(lensTitles(r, A)).toEqual(['▶ Run', '▶ Run to here']);
    });

    it('two specs run and end independently; the context key follows any running one', () => {
        const r = new RunRegistry();
        const a = r.claim(A)!;
        const b = r.claim(B)!;
        r.start(a);
        r.start(b);
        r.release(a);
        expect(lensTitles(r, A)).toEqual(['▶ Run', '▶ Run to here']);
        expect(lensTitles(r, B)).toEqual(['■ Cancel']);
        expect(r.anyRunning()).toBe(true);
        r.release(b);
        expect(r.anyRunning()).toBe(false);
    });

    it('cancel asks one spec or all, once each; a run cancelled while preparing is seen as aborted', () => {
        const r = new RunRegistry();
        const a = r.claim(A)!;
        const b = r.claim(B)!;
        r.start(b);
        expect(r.cancel(A)).toEqual([A]);
        expect(a.controller.signal.aborted).toBe(true);
        expect(b.controller.signal.aborted).toBe(false);
        expect(r.cancel()).toEqual([B]);
        expect(r.cancel()).toEqual([]);
        r.release(a);
        r.release(b);
        expect(r.cancel()).toEqual([]);
    });
});

describe('step lenses', () => {
    it('run a step and run up to it, with the step id as argument', () => {
        expect(stepLenses({ id: 'smallOnLarge', kind: 'finetune' }, false)).toEqual([
            { title: '▶ Run', command: 'mismatch.runStep', step: 'smallOnLarge', tooltip: 'Run finetune smallOnLarge (and the steps it needs)' },
            { title: '▶ Run to here', command: 'mismatch.runToHere', step: 'smallOnLarge', tooltip: 'Run every step up to smallOnLarge' },
        ]);
        expect(stepLenses({ id: 'x', kind: 'model' }, true)).toEqual([{ title: '■ Cancel', command: 'mismatch.cancelRun', tooltip: 'Cancel the run of this spec' }]);
    });
});
