// A model on several servers in the language: the syntax, located errors (a bad URL, a URL named
// twice, a rate limit of 0 or below), the Plan, and store keys that hold the set of URLs (not their order).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../language/load.js';
import type { Plan } from '../../language/plan-types.js';
import { errorsOf, parse } from './helpers.js';

let counter = 0;
const spec = (model: string) => `experiment T {
  dataset d from "qa.jsonl" { split test 100% }
${model}
  evaluate r on d.test
}`;

async function diagnostics(text: string) {
    const doc = await parse(text, { validation: true, documentUri: `file:///tmp/mm-servers/spec-${++counter}.mismatch` });
    expect(errorsOf(doc)).toEqual([]);
    const lines = text.split('\n');
    return (doc.diagnostics ?? [])
        .filter((d) => d.severity === 1 || d.severity === 2)
        .filter((d) => !/qa\.jsonl|unused/i.test(d.message))
        .map((d) => ({ severity: d.severity, line: d.range.start.line + 1, text: lines[d.range.start.line].slice(d.range.start.character, d.range.end.character), message: d.message }));
}

// Plans from files on disk, as the CLI loads them.
const dir = mkdtempSync(join(tmpdir(), 'mm-servers-'));
writeFileSync(join(dir, 'qa.jsonl'), '{"question": "Capital of France?", "answers": "Paris"}\n');
async function planOf(text: string): Promise<Plan> {
    const file = join(dir, `spec-${++counter}.mismatch`);
    writeFileSync(file, text);
    const r = await loadPlan(file);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    return r.plan!;
}

const serverOf = (plan: Plan) => {
    const s = plan.steps.find((x) => x.id === 'r')!;
    if (s.kind !== 'model' || s.params.source.kind !== 'server') throw new Error('not a server model');
    return s.params.source;
};
const keyOf = (plan: Plan, id: string) => plan.steps.find((s) => s.id === id)!.key;

describe('a model on several servers', () => {
    it('parses a list of URLs into the Plan, with the concurrency per server and the rate limit', async () => {
        const plan = await planOf(spec('  model r = server "http://a:8080/v1", "http://b:8080/v1",\n      "https://c.example/v1" { name "llama"  concurrency 8  rateLimit 600  ratePer minute }'));
        expect(serverOf(plan)).toMatchObject({
            url: 'http://a:8080/v1',
            urls: ['http://a:8080/v1', 'http://b:8080/v1', 'https://c.example/v1'],
            name: 'llama',
            concurrency: 8,
            rateLimit: 600,
            ratePer: 'minute',
        });
        const one = serverOf(await planOf(spec('  model r = server "http://a:8080/v1" { name "llama" }')));
        expect(one.url).toBe('http://a:8080/v1');
        expect(one.urls).toBeUndefined();
        expect(one.rateLimit).toBeUndefined();
    });

    it('bad URLs, a URL named twice, a rate limit of 0 or below: errors on the value itself', async () => {
        const d = await diagnostics(spec('  model r = server "http://a:8080/v1", "b:8080/v1", "http://a:8080/v1/" { name "m"  rateLimit 0 }'));
        expect(d).toEqual([
            { severity: 1, line: 3, text: '"b:8080/v1"', message: `'b:8080/v1' is not an http(s) URL; write the server's OpenAI-compatible base, e.g. "http://127.0.0.1:8080/v1".` },
            { severity: 1, line: 3, text: '"http://a:8080/v1/"', message: `'http://a:8080/v1/' is named twice (server 1 and 3 of this model); name each server once.` },
            { severity: 1, line: 3, text: '0', message: expect.stringMatching(/rateLimit/) },
        ]);
        const neg = await diagnostics(spec('  model r = server "http://a/v1" { name "m"  rateLimit -2 }'));
        expect(neg.map((x) => x.text)).toEqual(['-2']);
        const ok = await diagnostics(spec('  model r = server "http://a:8080/v1", "http://b:8080/v1" { name "m"  rateLimit 0.5  ratePer second }'));
        expect(ok).toEqual([]);
        const lone = await diagnostics(spec('  model r = server "http://a/v1" { name "m"  ratePer minute }'));
        expect(lone).toEqual([{ severity: 2, line: 3, text: 'ratePer', message: '`ratePer` has no effect without `rateLimit` (requests per second or minute, per server).' }]);
    });

    it('store keys: the order of the URLs, the concurrency and the rate limit leave the key alone; the set of URLs and the model name do not', async () => {
        const keys = async (model: string) => {
            const plan = await planOf(spec(model));
            return [keyOf(plan, 'r'), keyOf(plan, plan.steps.at(-1)!.id)];
        };
        const two = await keys('  model r = server "http://a:8080/v1", "http://b:8080/v1" { name "llama" }');
        expect(await keys('  model r = server "http://b:8080/v1", "http://a:8080/v1" { name "llama"  concurrency 16  rateLimit 5 }')).toEqual(two);
        // Another server may serve other weights under the same name: never the same results.
        for (const model of ['  model r = server "http://a:8080/v1" { name "llama" }', '  model r = server "http://a:8080/v1", "http://c:9000/v1" { name "llama" }']) {
            const other = await keys(model);
            expect(other[0]).not.toBe(two[0]);
            expect(other[1]).not.toBe(two[1]);
        }
        const one = await keys('  model r = server "http://a:8080/v1" { name "llama" }');
        expect(await keys('  model r = server "http://a:8080/v1" { name "llama"  concurrency 3  timeoutMs 5000 }')).toEqual(one);
        const renamed = await keys('  model r = server "http://a:8080/v1" { name "llama-70b" }');
        expect(renamed[0]).not.toBe(one[0]);
        expect(renamed[1]).not.toBe(one[1]);
    });
});
