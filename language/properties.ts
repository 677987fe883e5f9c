/**
 * What may appear in each property block: keys, value types, units, ranges, defaults and a line of
 * documentation. The validator checks blocks against this table; completion and hover (language/lsp)
 * read it too, and the Plan takes its defaults from it, so a new key is added in one place.
 */
import type { AstNode } from 'langium';
import { DEFAULT_ABSTENTIONS } from './abstentions.js';
import {
    isDataset,
    isDecoding,
    isEvaluate,
    isExperiment,
    isFinetune,
    isHypothesis,
    isKnowledge,
    isLabel,
    isMix,
    isModel,
    isNameValue,
    isNumberValue,
    isShuffle,
    isStringValue,
    isWorld,
    type Body,
    type Property,
    type Value,
} from './generated/ast.js';

export type PropertyType =
    | 'integer' // whole number, `k`/`M` allowed (10k)
    | 'number' // any real number (1e-3)
    | 'share' // 60% or a fraction in [0, 1]
    | 'string'
    | 'strings' // one or more strings, comma-separated
    | 'names' // one or more bare names, comma-separated
    | 'boolean' // true / false
    | 'enum'; // one of `values`

export interface PropertySpec {
    key: string;
    type: PropertyType;
    doc: string;
    /** Allowed values for 'enum' (and suggestions for 'names'). */
    values?: string[];
    min?: number;
    max?: number;
    /** True when `min` itself is not allowed. */
    minExclusive?: boolean;
    default?: number | string | boolean | string[];
    /** Other spellings accepted for the key. */
    aliases?: string[];
}

/** The kinds of blocks that have their own table. */
export type BlockKind =
    | 'experiment'
    | 'world'
    | 'dataset-world'
    | 'dataset-file'
    | 'model-gguf'
    | 'model-server'
    | 'model-pretrain'
    | 'decoding'
    | 'label'
    | 'shuffle'
    | 'mix'
    | 'knowledge'
    | 'finetune'
    | 'evaluate'
    | 'hypothesis';

const seed: PropertySpec = { key: 'seed', type: 'integer', min: 0, doc: "Random seed (defaults to the experiment's `seed`)." };
const temperature: PropertySpec = { key: 'temperature', type: 'number', min: 0, max: 5, doc: 'Sampling temperature; 0 is greedy decoding.' };
const match: PropertySpec = {
    key: 'match',
    type: 'enum',
    values: ['exact', 'contains', 'squad', 'triviaqa'],
    default: 'exact',
    doc: 'How an answer is compared with the gold answers: `exact` (equal after lowercasing and deleting every Unicode punctuation mark, symbol and article a/an/the), `contains` (a gold answer occurs in it as whole words, same normalisation), `squad` (the official SQuAD v1.1 normalisation: ASCII punctuation deleted, so "U.S.A." matches "USA") or `triviaqa` (the official TriviaQA normalisation: punctuation and ‘ ’ ´ ` replaced by spaces, so "U.S.A." becomes "u s a"). Empty answers are counted apart.',
};

export { DEFAULT_ABSTENTIONS };

export const TEMPLATE_DOC = "Prompt template: `raw` (the question as is), `chat` (the model's chat template) or a string with `{question}`.";

export const PROPERTY_TABLE: Record<BlockKind, PropertySpec[]> = {
    experiment: [
        { key: 'seed', type: 'integer', min: 0, default: 1, doc: 'Base seed of every stochastic step (splits, sampling, shuffles, training).' },
        {
            key: 'seeds',
            type: 'integer',
            min: 1,
            max: 100,
            default: 1,
            doc: 'Replicates: run the experiment this many times (seeds seed, seed+1, ...), each redrawing what `redraw` names, and test across them.',
        },
        {
            key: 'redraw',
            type: 'names',
            values: ['all', 'facts', 'splits', 'pretraining', 'labels', 'finetuning', 'sampling'],
            default: ['all'],
            doc: "What a replicate redraws: `all` (the default: an independent draw of the whole experiment), or some of `facts` (the synthetic world's entities and facts), `splits` (which questions go to which split), `pretraining` (which facts each embedded model is taught, and its initial weights), `labels` (the shuffle control's and the mixes' random choices), `finetuning` (fine-tuning order and initialisation), `sampling` (sampled answers, SliCK samples, few-shot exemplars). Replicates that share their test questions are tested question by question (exact sign-flip permutation test); independent draws by a paired t test over replicates.",
        },
        { key: 'alpha', type: 'number', min: 0, max: 0.5, minExclusive: true, default: 0.05, doc: 'Significance level of the hypothesis tests.' },
    ],
    world: [
        { key: 'entities', type: 'integer', min: 1, max: 1_000_000, default: 300, doc: 'Number of fictional entities in the synthetic world.' },
        {
            key: 'relations',
            type: 'names',
            values: ['capital', 'founder', 'river', 'language', 'currency', 'leader', 'mountain', 'founded'],
            default: ['capital', 'founder', 'river'],
            doc: 'Relations each entity has a fact for (one question per entity and relation).',
        },
        seed,
    ],
    'dataset-world': [seed, { key: 'dedupe', type: 'boolean', default: true, doc: 'Drop repeated questions before splitting.' }],
    'dataset-file': [
        { key: 'question', type: 'string', default: 'question', doc: 'Field holding the question (a dotted path into each record, e.g. `"Question"`).' },
        { key: 'answers', type: 'string', default: 'answers', doc: 'Field holding the gold answer or a list of aliases (a dotted path, e.g. `"answer.aliases"`).' },
        { key: 'id', type: 'string', doc: 'Field holding a stable question id (optional).' },
        { key: 'format', type: 'enum', values: ['jsonl', 'csv', 'triviaqa'], doc: 'File format; by default from the extension (`.jsonl`, `.csv`).' },
        seed,
        { key: 'dedupe', type: 'boolean', default: true, doc: 'Drop repeated questions before splitting.' },
    ],
    'model-gguf': [{ key: 'template', type: 'string', doc: TEMPLATE_DOC }],
    'model-server': [
        { key: 'name', type: 'string', doc: 'Model name sent to the server (`model` field of the request).' },
        { key: 'api', type: 'enum', values: ['completions', 'chat'], default: 'completions', doc: 'Endpoint: `/completions` or `/chat/completions`.' },
        { key: 'logprobs', type: 'boolean', default: true, doc: 'Whether the server returns token log-probabilities (needed for matched-coverage comparisons).' },
        { key: 'apiKeyEnv', type: 'string', doc: 'Name of the environment variable that holds the API key (never the key itself).' },
        { key: 'concurrency', type: 'integer', min: 1, max: 256, default: 4, doc: 'Requests in flight at once, per server (a model on several servers has this many on each).' },
        { key: 'timeoutMs', type: 'integer', min: 1, default: 120_000, doc: 'Timeout of one request in milliseconds; a request that times out goes to another server, never again to that one.' },
        {
            key: 'rateLimit',
            type: 'number',
            min: 0,
            minExclusive: true,
            doc: 'At most this many requests start per second (or per `ratePer minute`) on each server, in any window of that length (e.g. an API quota); no limit by default.',
        },
        { key: 'ratePer', type: 'enum', values: ['second', 'minute'], default: 'second', doc: 'The window of `rateLimit`: `second` or `minute`.' },
        { key: 'template', type: 'string', doc: TEMPLATE_DOC },
    ],
    'model-pretrain': [
        { key: 'layers', type: 'integer', min: 1, max: 64, default: 2, doc: 'Transformer layers of the tiny llama model.' },
        { key: 'width', type: 'integer', min: 8, max: 8192, default: 128, doc: 'Embedding width (must be a multiple of `heads`).' },
        { key: 'heads', type: 'integer', min: 1, max: 128, default: 4, doc: 'Attention heads.' },
        { key: 'knows', type: 'share', min: 0, max: 1, minExclusive: true, default: 1, doc: "Share of the world's facts this model is taught (e.g. `75%`); every entity name is still seen." },
        {
            key: 'epochs',
            type: 'integer',
            min: 1,
            max: 100_000,
            doc: 'Pretraining epochs (default 12). Train well past the point where 95% of the taught facts are answered, or the confidence gap stays narrow; the knowledge check after pretraining warns when a model misses.',
        },
        { key: 'learningRate', type: 'number', min: 0, max: 1, minExclusive: true, doc: 'Pretraining peak learning rate (AdamW, cosine decay; default 0.005).' },
        seed,
        {
            key: 'factsSeed',
            type: 'integer',
            min: 0,
            doc: "Seed of the draw of which facts this model is taught (default: its `seed`; its initial weights keep `seed`). Models of one world drawn with the same seed have nested knowledge: the one that knows less knows a subset of the other's facts, so no question is known by the student alone. A different `factsSeed` draws this model's facts independently of the others': with `knows` P and Q, about P × Q of the facts are known by both and about (1 − P) × Q by this one alone, so every cell of the teacher × student knowledge grid is populated. Replicates offset it as they offset `seed`.",
        },
    ],
    decoding: [
        temperature,
        { key: 'topP', type: 'number', min: 0, max: 1, minExclusive: true, doc: 'Nucleus sampling: keep the smallest set of tokens whose probability reaches this.' },
        { key: 'topK', type: 'integer', min: 0, doc: 'Sample among the K most likely tokens (0 = all).' },
        seed,
        { key: 'maxTokens', type: 'integer', min: 1, max: 4096, default: 32, doc: 'Longest answer, in tokens.' },
        { key: 'stop', type: 'strings', default: ['\n'], doc: 'Strings that end an answer.' },
        { key: 'template', type: 'string', default: 'raw', doc: TEMPLATE_DOC },
        {
            key: 'fewShot',
            type: 'integer',
            min: 0,
            max: 32,
            default: 0,
            doc: "Few-shot exemplars put before each question, drawn per question (seeded) from the dataset's `train` split, never the asked question; an evaluation of the `train` split cannot use them.",
        },
    ],
    label: [{ key: 'otherwise', type: 'string', default: "I don't know", doc: "Label given where the model's answer is wrong (R-Tuning style abstention)." }, match],
    shuffle: [{ ...seed, doc: 'Seed of the shuffle that moves the abstentions to random questions.' }],
    mix: [
        { key: 'unknown', type: 'share', min: 0, max: 1, default: 0.5, doc: 'Share of Unknown examples (SliCK) in the fine-tuning set, e.g. `50%`.' },
        { key: 'size', type: 'integer', min: 1, doc: 'Number of examples (by default as many as the categories allow).' },
        seed,
    ],
    knowledge: [
        {
            key: 'prompts',
            type: 'integer',
            min: 1,
            max: 100,
            default: 10,
            doc: 'Few-shot prompts per question (SliCK: Nex = 10), each with its own random exemplars; a greedy answer and `samples` sampled answers per prompt. With `fewShot 0` the prompts are all the same text, so one is used.',
        },
        {
            key: 'samples',
            type: 'integer',
            min: 1,
            max: 100,
            default: 16,
            doc: 'Sampled answers per prompt (SliCK: 16 at temperature 0.5). HighlyKnown: the greedy answer is right with every prompt; MaybeKnown: with some; WeaklyKnown: never, but some sample is right; Unknown: no answer is ever right.',
        },
        { ...temperature, default: 0.5, doc: 'Temperature of the sampled answers (SliCK: 0.5; the greedy answer is always taken too).' },
        seed,
        { key: 'fewShot', type: 'integer', min: 0, max: 32, default: 4, doc: "Exemplars per prompt (SliCK: 4), drawn from the dataset's `train` split, never the asked question." },
        match,
    ],
    finetune: [
        { key: 'rank', type: 'integer', min: 1, max: 1024, default: 8, doc: 'LoRA rank (with `lora`).' },
        { key: 'alpha', type: 'number', min: 0, minExclusive: true, doc: 'LoRA scaling alpha (default: 2 × rank).' },
        {
            key: 'targets',
            type: 'names',
            values: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'],
            default: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'],
            doc: 'Weight matrices that get LoRA adapters.',
        },
        { key: 'epochs', type: 'integer', min: 1, max: 10_000, default: 3, doc: 'Passes over the labels.' },
        { key: 'learningRate', type: 'number', min: 0, max: 1, minExclusive: true, default: 1e-3, doc: 'Peak learning rate (AdamW).' },
        { key: 'batch', type: 'integer', min: 1, max: 4096, default: 8, aliases: ['batchSize'], doc: 'Examples per optimisation step.' },
        { key: 'gradientAccumulation', type: 'integer', min: 1, max: 1024, default: 1, doc: 'Batches accumulated before each update.' },
        { key: 'warmup', type: 'integer', min: 0, default: 0, doc: 'Warm-up steps of the learning-rate schedule.' },
        { key: 'schedule', type: 'enum', values: ['constant', 'linear', 'cosine'], default: 'constant', doc: 'Learning-rate schedule after warm-up.' },
        { key: 'weightDecay', type: 'number', min: 0, max: 1, default: 0, doc: 'AdamW weight decay.' },
        { key: 'optimizer', type: 'enum', values: ['adamw', 'sgd'], default: 'adamw', doc: 'Optimiser.' },
        seed,
        { key: 'validation', type: 'share', min: 0, max: 0.5, default: 0, doc: 'Share of the labels held out to measure validation loss (e.g. `10%`).' },
        { key: 'earlyStopping', type: 'boolean', default: false, doc: 'Stop when the validation loss stops improving (needs `validation`).' },
        {
            key: 'trainer',
            type: 'enum',
            values: ['embedded', 'trl', 'axolotl'],
            default: 'embedded',
            doc: "Who trains: `embedded` (this machine, ggml), or an existing trainer that scales out: `trl` (Hugging Face TRL's SFTTrainer, multi-GPU through accelerate/DeepSpeed/FSDP) or `axolotl`. An external trainer gets a job folder (data, config, command) under the run store; the step waits until the PEFT adapter appears in the job's `output/` folder, converts it to a GGUF LoRA adapter and the run goes on. LoRA only; needs `hfModel`.",
        },
        {
            key: 'hfModel',
            type: 'string',
            doc: 'The base model as the external trainer loads it: a Hugging Face id (`"meta-llama/Llama-2-7b-hf"`) or a path on the training machine. Its weights must be those of the model\'s GGUF, which evaluates the adapter.',
        },
        { key: 'dropout', type: 'number', min: 0, max: 0.9, default: 0, doc: 'LoRA dropout (external trainers: `lora_dropout`); the embedded trainer has none.' },
    ],
    evaluate: [
        {
            key: 'abstain',
            type: 'strings',
            default: [...DEFAULT_ABSTENTIONS],
            doc: 'Answers that count as abstentions (after lowercasing and deleting punctuation: equal to a phrase, or beginning with a phrase of two words or more; `/regex/` for patterns). By default a list of common phrases ("I don\'t know", "I do not know", "Unknown", "I\'m not sure", …) and the `otherwise` texts of the arms\' labels.',
        },
        match,
    ],
    hypothesis: [{ key: 'alpha', type: 'number', min: 0, max: 0.5, minExclusive: true, doc: "Significance level of this test (default: the experiment's `alpha`)." }],
};

/** Which table applies to a block (or to the settings of an experiment). */
export function blockKindOf(owner: AstNode): BlockKind | undefined {
    if (isExperiment(owner)) return 'experiment';
    if (isWorld(owner)) return 'world';
    if (isDataset(owner)) return owner.path !== undefined ? 'dataset-file' : 'dataset-world';
    if (isModel(owner)) {
        if (owner.source === 'gguf') return 'model-gguf';
        if (owner.source === 'server') return 'model-server';
        if (owner.source === 'pretrain') return 'model-pretrain';
        return undefined;
    }
    if (isDecoding(owner)) return 'decoding';
    if (isLabel(owner)) return 'label';
    if (isShuffle(owner)) return 'shuffle';
    if (isMix(owner)) return 'mix';
    if (isKnowledge(owner)) return 'knowledge';
    if (isFinetune(owner)) return 'finetune';
    if (isEvaluate(owner)) return 'evaluate';
    if (isHypothesis(owner)) return 'hypothesis';
    return undefined;
}

const SPEC_INDEX = new Map<BlockKind, Map<string, PropertySpec>>(
    (Object.keys(PROPERTY_TABLE) as BlockKind[]).map((kind) => [kind, new Map(PROPERTY_TABLE[kind].flatMap((p) => [[p.key, p] as const, ...(p.aliases ?? []).map((a) => [a, p] as const)]))]),
);

export function specFor(kind: BlockKind, key: string): PropertySpec | undefined {
    return SPEC_INDEX.get(kind)?.get(key);
}

// ---- reading values ---------------------------------------------------------------------------

export interface ParsedNumber {
    value: number;
    unit?: '%' | 'k' | 'M';
}

/** `60%` → {value: 60, unit: '%'}; `10k` → {value: 10000, unit: 'k'}; `1e-3` → {value: 0.001}. */
export function parseNumber(text: string): ParsedNumber | undefined {
    const m = /^(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(%|[kKM])?$/.exec(text);
    if (!m) return undefined;
    const base = Number(m[1]);
    if (!Number.isFinite(base)) return undefined;
    const unit = m[2] === undefined ? undefined : m[2] === '%' ? '%' : m[2] === 'M' ? 'M' : 'k';
    const value = unit === 'k' ? base * 1000 : unit === 'M' ? base * 1_000_000 : base;
    return { value, unit };
}

/** Decodes a STRING token's text (quotes and escapes). */
export function unquote(text: string): string {
    if (text.length >= 2 && (text[0] === '"' || text[0] === "'") && text.at(-1) === text[0]) {
        return text.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c));
    }
    return text;
}

export type ReadValue = number | string | boolean | string[];

/**
 * The value of a property as its spec wants it, or an explanation of why it is not one.
 * Shares come back in [0, 1] (`60%` → 0.6).
 */
export function readValue(spec: PropertySpec, values: Value[]): { value: ReadValue } | { problem: string; code: string; data?: Record<string, unknown> } {
    const first = values[0];
    const many = spec.type === 'strings' || spec.type === 'names';
    if (!first) return { problem: `\`${spec.key}\` needs a value.`, code: 'invalid-value' };
    if (!many && values.length > 1) return { problem: `\`${spec.key}\` takes one value, not a list.`, code: 'invalid-value' };
    switch (spec.type) {
        case 'integer':
        case 'number':
        case 'share': {
            if (!isNumberValue(first)) return { problem: `\`${spec.key}\` needs a number${spec.type === 'share' ? ' such as `50%`' : ''}.`, code: 'invalid-value' };
            const n = parseNumber(first.text);
            if (!n) return { problem: `'${first.text}' is not a number.`, code: 'invalid-value' };
            if (spec.type === 'share') {
                if (n.unit === '%') return { value: n.value / 100 };
                if (n.unit) return { problem: `\`${spec.key}\` is a share: write a percentage such as \`50%\`.`, code: 'invalid-value' };
                if (n.value > 1) {
                    return { problem: `\`${spec.key}\` is a share: did you mean \`${first.text}%\`?`, code: 'missing-unit', data: { unit: '%', replacement: `${first.text}%` } };
                }
                return { value: n.value };
            }
            if (n.unit === '%') return { problem: `\`${spec.key}\` is not a share; write it without \`%\`.`, code: 'invalid-value' };
            if (spec.type === 'integer' && !Number.isInteger(n.value)) return { problem: `\`${spec.key}\` must be a whole number, not ${first.text}.`, code: 'out-of-range' };
            return { value: n.value };
        }
        case 'string':
            if (!isStringValue(first))
                return {
                    problem: `\`${spec.key}\` needs a string in quotes, e.g. \`${spec.key} "${isNameValue(first) ? first.text : '…'}"\`.`,
                    code: 'invalid-value',
                    data: isNameValue(first) ? { replacement: `"${first.text}"` } : undefined,
                };
            return { value: unquote(first.text) };
        case 'strings': {
            if (!values.every(isStringValue)) return { problem: `\`${spec.key}\` takes strings in quotes, separated by commas.`, code: 'invalid-value' };
            return { value: values.map((v) => unquote(v.text)) };
        }
        case 'names': {
            if (!values.every(isNameValue))
                return { problem: `\`${spec.key}\` takes names separated by commas, e.g. \`${spec.key} ${(spec.values ?? ['a', 'b']).slice(0, 2).join(', ')}\`.`, code: 'invalid-value' };
            return { value: values.map((v) => v.text) };
        }
        case 'boolean':
            if (isNameValue(first) && (first.text === 'true' || first.text === 'false')) return { value: first.text === 'true' };
            return { problem: `\`${spec.key}\` is \`true\` or \`false\`.`, code: 'invalid-value' };
        case 'enum': {
            const text = isNameValue(first) ? first.text : isStringValue(first) ? unquote(first.text) : undefined;
            if (text !== undefined && spec.values?.includes(text)) return { value: text };
            return { problem: `\`${spec.key}\` is one of ${spec.values?.map((v) => `\`${v}\``).join(', ')}.`, code: 'invalid-value' };
        }
    }
}

/** Properties of a body (or experiment settings), in order. */
export function propertiesOf(body: Body | undefined): Property[] {
    return (body?.items ?? []).filter((i): i is Property => i.$type === 'Property');
}

/**
 * Reads `key` from a body with its spec, falling back to the spec's default when it is not written
 * (undefined when it is written but invalid); used by the Plan and the semantic checks.
 */
export function readProperty(kind: BlockKind, props: Array<{ key: string; values: Value[] }>, key: string): ReadValue | undefined {
    const spec = specFor(kind, key);
    if (!spec) return undefined;
    const prop = [...props].reverse().find((p) => p.key === spec.key || spec.aliases?.includes(p.key));
    if (prop) {
        const r = readValue(spec, prop.values);
        // A written but invalid value is unknown (its own error is reported); guessing the default
        // would make other checks report consequences of a value the user did not write.
        return 'value' in r ? r.value : undefined;
    }
    return spec.default;
}

/** The number a property holds, for checks that compare numbers. */
export function readNumber(kind: BlockKind, props: Array<{ key: string; values: Value[] }>, key: string): number | undefined {
    const v = readProperty(kind, props, key);
    return typeof v === 'number' ? v : undefined;
}

/** True when the property is written in the block (not a default). */
export function hasProperty(props: Array<{ key: string }>, key: string, kind?: BlockKind): boolean {
    const spec = kind ? specFor(kind, key) : undefined;
    return props.some((p) => p.key === key || (spec?.aliases?.includes(p.key) ?? false));
}
