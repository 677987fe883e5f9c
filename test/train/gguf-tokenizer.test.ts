// The GGUF writer and the word-level tokenizer against the real node-llama-cpp 3.21.1.
import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { LlamaCompletion, type LlamaModel } from 'node-llama-cpp';
import { buildTokenizer, initLlamaWeights, readLlamaGguf, writeLlamaGguf, readGguf, type LlamaConfig, type Tokenizer } from '../../engine/train/api.js';
import { cpuLlama, makeFacts, tempDir } from './helpers.js';

describe('GGUF writer and tokenizer', () => {
    const facts = makeFacts(60, 3);
    const texts = facts.flatMap((f) => [f.prompt, f.answer, `${f.prompt} ${f.answer}`]);
    let tok: Tokenizer;
    let model: LlamaModel;
    let path: string;
    let config: LlamaConfig;

    beforeAll(async () => {
        tok = buildTokenizer({ texts: [...texts, "It's 3.5 km (approx.) — déjà vu, naïve: yes/no!"] });
        config = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 64, nHead: 4, nHeadKv: 2, nFf: 128, nCtx: 128, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false };
        path = join(tempDir(), 'tiny.gguf');
        writeLlamaGguf(path, { config, tokenizer: tok, tensors: initLlamaWeights(config, 1) });
        const llama = await cpuLlama();
        model = await llama.loadModel({ modelPath: path });
    });

    it('round-trips through our reader', () => {
        const back = readLlamaGguf(path);
        expect(back.config).toEqual({ ...config, rmsEps: Math.fround(config.rmsEps) }); // stored as f32
        expect(back.tokenizer!.data.tokens).toEqual(tok.data.tokens);
        const w = initLlamaWeights(config, 1);
        for (const [name, t] of w) expect(back.tensors.get(name)!.data).toEqual(t.data);
        expect(readGguf(path).metadata.get('general.architecture')).toBe('llama');
    });

    it('tokenizes exactly like node-llama-cpp on many strings', () => {
        const strings = [
            ...texts,
            'Q: What is the capital of Unknownland? A: Zzyzx',
            'double  space',
            ' leading space',
            'trailing space ',
            '',
            'a',
            '?',
            'ÄÖÜ ß 東京 🚀 emoji',
            "It's 3.5 km (approx.) — déjà vu, naïve: yes/no!",
            'tab\there',
            'new\nline',
            '<s> not special </s>',
        ];
        // random recombinations of words and characters
        const words = texts.join(' ').split(/\s+/);
        let x = 12345;
        const rnd = (n: number) => {
            x = (x * 1103515245 + 12345) % 2147483648;
            return x % n;
        };
        for (let i = 0; i < 300; i++) {
            const n = 1 + rnd(8);
            let s = '';
            for (let k = 0; k < n; k++) {
                const w = words[rnd(words.length)];
                s += (k ? [' ', '', '  ', '-'][rnd(4)] : '') + (rnd(5) === 0 ? w.slice(0, 1 + rnd(w.length)) : w);
            }
            strings.push(s);
        }
        let compared = 0;
        for (const s of strings) {
            const ours = tok.encode(s);
            const theirs = Array.from(model.tokenize(s));
            expect(ours, JSON.stringify(s)).toEqual(theirs);
            expect(tok.decode(ours), JSON.stringify(s)).toBe(model.detokenize(theirs));
            // what LlamaCompletion feeds after the BOS
            expect(tok.encode(s, 'trimLeadingSpace'), JSON.stringify(s)).toEqual(Array.from(model.tokenize(s, false, 'trimLeadingSpace')));
            compared++;
        }
        expect(compared).toBeGreaterThan(300);
        // known words are whole tokens, no byte fallback
        for (const f of facts) expect(tok.countFallback(`${f.prompt} ${f.answer}`)).toEqual({ bytes: 0, unknown: 0 });
        const ids = tok.encode(facts[0].answer);
        expect(ids.length).toBe(facts[0].answer.split(' ').length);
    });

    it('loads and generates in node-llama-cpp', async () => {
        const ctx = await model.createContext({ contextSize: 128, threads: 1 });
        const completion = new LlamaCompletion({ contextSequence: ctx.getSequence() });
        const out = await completion.generateCompletion(facts[0].prompt, { maxTokens: 4, temperature: 0 });
        expect(typeof out).toBe('string');
        await ctx.dispose();
    });
});
