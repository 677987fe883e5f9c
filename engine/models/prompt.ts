/**
 * The one place a model's prompt is made, for generation and for training alike, so that a model is
 * trained on exactly the tokens it is later asked.
 *
 * - `chat`: the model's own chat template through node-llama-cpp (resolveChatWrapper: the GGUF's
 *   Jinja template or a known wrapper); few-shot exemplars are earlier user/model turns. Generation
 *   evaluates the history up to the open model turn; training appends the answer and the end-of-turn
 *   token (EOT, else EOS), which is where generation stops.
 * - `raw` and custom templates (plain completion): the text of `buildPrompt`, tokenized by the model's
 *   vocabulary, after the BOS when the model prepends one. Training tokenizes prompt + ' ' + answer as
 *   one text (as the words meet in running text) and appends EOS; the prompt is the part both
 *   tokenizations share. Trailing spaces of the prompt are dropped (see completionText).
 *
 * `trainingSequence(...).tokens.slice(0, answerStart)` equals `promptTokens(...)`; where a tokenizer
 * or a template would make them differ, it throws instead of training on a prompt the model is never
 * asked (test/engine/prompt.test.ts).
 */
import type { ChatHistoryItem, LlamaModel, Token } from 'node-llama-cpp';
import type { TrainExample } from '../train/types.js';
import { buildPrompt, type FewShotExample } from './types.js';

// node-llama-cpp is ESM-only and heavy: bundles that reach this file (the CLI, the extension's
// CommonJS bundle) must not import it statically. Its chat-wrapper resolver is loaded on first need.
let resolveChatWrapper: typeof import('node-llama-cpp').resolveChatWrapper | undefined;

/** Loads what the chat template path needs; call once before promptTokens/trainingSequence. */
export async function preparePrompts(): Promise<void> {
    resolveChatWrapper ??= (await import('node-llama-cpp')).resolveChatWrapper;
}

export interface PromptSpec {
    /** 'chat', 'raw' or a template with {question} (and optionally {answer} for exemplars) */
    template: string;
    question: string;
    fewShot?: readonly FewShotExample[];
}

/** Separator between a plain-completion prompt and its answer in training text. */
export const ANSWER_SEPARATOR = ' ';

/**
 * node-llama-cpp's Llama 3.1/3.2 wrappers write "Today Date: <the current date>" into the system
 * turn: a prompt that changes every day would make stored answers depend on the day they were made.
 * The date is pinned to the one the models' own Jinja templates use when none is given.
 */
const TEMPLATE_DATE = '26 Jul 2024';
const FIXED_DATES = { 'llama3.1': { todayDate: TEMPLATE_DATE }, 'llama3.2-lightweight': { todayDate: TEMPLATE_DATE } };

function chatTokens(model: LlamaModel, p: PromptSpec, answer: string | undefined): Token[] {
    if (!resolveChatWrapper) throw new Error('chat prompts: await preparePrompts() first');
    const wrapper = resolveChatWrapper(model, { customWrapperSettings: FIXED_DATES });
    const history: ChatHistoryItem[] = [];
    for (const e of p.fewShot ?? []) {
        history.push({ type: 'user', text: e.question });
        history.push({ type: 'model', response: [e.answer] });
    }
    history.push({ type: 'user', text: p.question });
    history.push({ type: 'model', response: answer === undefined ? [] : [answer] });
    const { contextText } = wrapper.generateContextState({ chatHistory: history });
    return contextText.tokenize(model.tokenizer);
}

/**
 * The completion prompt's text. Trailing spaces are dropped: "A: " + " Paris" would tokenize the
 * prompt's last space differently with and without the answer (byte-level BPE glues it to the word),
 * so the model would be trained on a prompt ending it is never asked.
 */
function completionText(p: PromptSpec): string {
    return buildPrompt(p.template, p.question, [...(p.fewShot ?? [])]).replace(/[ \t]+$/, '');
}

function withBos(model: LlamaModel, tokens: readonly Token[]): Token[] {
    const bos = model.tokens.bos;
    return bos != null && model.tokens.shouldPrependBosToken ? [bos, ...tokens] : [...tokens];
}

/** The tokens generation evaluates for this question (the engine's inference worker calls this). */
export function promptTokens(model: LlamaModel, p: PromptSpec): Token[] {
    if (p.template === 'chat') return chatTokens(model, p, undefined);
    return withBos(model, model.tokenize(completionText(p), false));
}

/** The token that ends an answer in training: end-of-turn for chat, end-of-sequence otherwise. */
function endToken(model: LlamaModel, chat: boolean): Token {
    const t = (chat ? model.tokens.eot : null) ?? model.tokens.eos;
    if (t == null) throw new Error("the model's vocabulary has no end-of-sequence token: an answer could not be ended");
    return t;
}

/**
 * A training example as the model will be asked it: the prompt tokens of `promptTokens`, the answer's
 * tokens, and the end token; `answerStart` is the index of the first answer token (the loss is on the
 * answer and the end token).
 */
export function trainingSequence(model: LlamaModel, p: PromptSpec, answer: string): { tokens: Token[]; answerStart: number } {
    const chat = p.template === 'chat';
    const prompt = promptTokens(model, p);
    const full = chat ? chatTokens(model, p, answer) : withBos(model, model.tokenize(completionText(p) + ANSWER_SEPARATOR + answer, false));
    let k = 0;
    while (k < prompt.length && k < full.length && prompt[k] === full[k]) k++;
    if (k < prompt.length) {
        const where = JSON.stringify(model.detokenize(prompt.slice(k), true).slice(0, 40));
        throw new Error(`the prompt of "${p.question.slice(0, 60)}" tokenizes differently once its answer follows (from ${where} on): training on it would teach a prompt generation never asks`);
    }
    if (full.length === prompt.length) throw new Error(`the answer "${answer.slice(0, 60)}" of "${p.question.slice(0, 60)}" produced no tokens`);
    return { tokens: [...full, endToken(model, chat)], answerStart: prompt.length };
}

/**
 * Training examples for a fine-tune of the GGUF at `modelPath`, each tokenized by trainingSequence
 * with the model's own vocabulary (loaded alone, no weights), so the trainer trains exactly what
 * generation will ask.
 */
export async function trainingExamples(modelPath: string, template: string, items: readonly { question: string; answer: string }[]): Promise<TrainExample[]> {
    await preparePrompts();
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath, vocabOnly: true });
    try {
        return items.map((it) => ({
            prompt: it.question,
            answer: it.answer,
            sequence: trainingSequence(model, { template, question: it.question }, it.answer),
        }));
    } finally {
        await model.dispose();
    }
}
