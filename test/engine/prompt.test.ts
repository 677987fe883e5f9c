// One prompt builder for generation and training (engine/models/prompt.ts): for a question, the tokens
// a fine-tune trains before the answer are the tokens generation evaluates, on the vocabularies and
// chat templates of real models (Llama 3.x: BPE + Llama 3 template; Qwen2.5: BPE, no BOS, ChatML;
// TinyLlama / Llama 2: SPM, plain completion). The expected chat texts are written out by hand from
// each model's template; the trainer's own check keeps the sequence as given.
import { beforeAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { preparePrompts, promptTokens, trainingExamples, trainingSequence } from '../../engine/models/prompt.js';
import { checkJob } from '../../engine/train/api.js';
import { realShapeGguf, type RealShape } from '../train/real-shapes.js';

const Q = 'What is the capital of France?';
const A = 'Paris';
let llama: Llama;
const models = new Map<RealShape, LlamaModel>();
async function vocab(shape: RealShape): Promise<LlamaModel> {
    let m = models.get(shape);
    if (!m) {
        m = await llama.loadModel({ modelPath: realShapeGguf(shape, { layers: 1 }).path, vocabOnly: true });
        models.set(shape, m);
    }
    return m;
}

beforeAll(async () => {
    await preparePrompts();
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});

/** The training sequence's prompt part equals the generation prompt, token for token and as text. */
function expectSamePrompt(model: LlamaModel, template: string, question = Q, answer = A) {
    const gen = promptTokens(model, { template, question });
    const train = trainingSequence(model, { template, question }, answer);
    expect(train.tokens.slice(0, train.answerStart)).toEqual(gen);
    expect(model.detokenize(train.tokens.slice(0, train.answerStart), true)).toBe(model.detokenize(gen, true));
    return { gen, train, text: model.detokenize(gen, true), answer: model.detokenize(train.tokens.slice(train.answerStart, -1), true), end: train.tokens.at(-1) };
}

describe('training text == generation text', () => {
    it('Llama 3.x (BPE, chat template): the Llama 3 turn markup, the answer, then <|eot_id|>', async () => {
        const m = await vocab('llama-3.2-1b');
        const r = expectSamePrompt(m, 'chat');
        // node-llama-cpp recognises the template as Llama 3.1's and adds its system turn, with the date
        // pinned (a prompt must not change with the day it is asked)
        expect(r.text).toMatch(/^<\|begin_of_text\|><\|start_header_id\|>system<\|end_header_id\|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n/);
        expect(r.text.endsWith(`<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n${Q}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`)).toBe(true);
        expect(r.answer).toBe(A);
        expect(r.end).toBe(128009);
    }, 120_000);

    it('Qwen2.5 (BPE, ChatML): the ChatML turns, <|im_end|> ends the answer', async () => {
        const m = await vocab('qwen2.5-0.5b');
        const r = expectSamePrompt(m, 'chat');
        // node-llama-cpp's ChatML wrapper starts with the BOS string (<|endoftext|> in Qwen's vocabulary)
        expect(r.text).toBe(`<|endoftext|><|im_start|>user\n${Q}<|im_end|>\n<|im_start|>assistant\n`);
        expect(r.answer).toBe(A);
        expect(r.end).toBe(151645);
    }, 120_000);

    it('TinyLlama (SPM, plain completion): BOS, the question, the answer after a space, EOS', async () => {
        const m = await vocab('tinyllama-1.1b');
        const r = expectSamePrompt(m, 'raw');
        expect(r.gen[0]).toBe(1);
        expect(r.text).toBe(`<s> ${Q}`);
        expect(r.answer.trim()).toBe(A);
        expect(r.end).toBe(2);
    }, 120_000);

    it('a custom template ending in a space: the space is not half in the prompt and half in the answer', async () => {
        const m = await vocab('llama-3.2-1b');
        const r = expectSamePrompt(m, 'Question: {question}\nAnswer: ');
        expect(r.text).toBe(`<|begin_of_text|>Question: ${Q}\nAnswer:`);
        expect(r.answer).toBe(` ${A}`);
    }, 120_000);

    it("the trainer trains the builder's sequences as given (Llama 2 shape, SPM)", async () => {
        const g = realShapeGguf('llama-2-7b', { layers: 1 });
        const examples = await trainingExamples(g.path, 'raw', [
            { question: Q, answer: A },
            { question: 'Who wrote Pride and Prejudice?', answer: 'Jane Austen' },
        ]);
        const resolved = await checkJob({
            base: g.path,
            examples,
            mode: 'lora',
            lora: { rank: 2, alpha: 4 },
            epochs: 1,
            lr: 1e-3,
            seed: 1,
            outDir: '/nonexistent-not-written',
            threads: 1,
            gpu: 'off',
        });
        const m = await vocab('llama-2-7b');
        for (let i = 0; i < examples.length; i++) {
            expect(resolved.train[i]).toEqual(examples[i].sequence);
            expect(resolved.train[i].tokens.slice(0, resolved.train[i].answerStart)).toEqual(promptTokens(m, { template: 'raw', question: examples[i].prompt }));
        }
    }, 120_000);
});
