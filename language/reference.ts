/**
 * The language reference (docs/language.md), generated from the tables the validator uses, so the
 * documentation cannot drift from what is checked. `test/language/reference.test.ts` fails when
 * the committed file is stale (`UPDATE_REFERENCE=1 npx vitest run test/language/reference.test.ts`
 * rewrites it).
 */
import { PROPERTY_TABLE, type BlockKind, type PropertySpec } from './properties.js';
import { DEFAULTS } from './plan.js';
import { CODE_DOCS } from './validation/codes.js';

const FORMS: Array<[string, string]> = [
    ['import "common.mismatch"', 'Use the declarations of another spec (path relative to this file).'],
    ['experiment Name { … }', 'One per file: settings, then declarations in any order (a step may name steps declared after it).'],
    ['world W { … }', 'A deterministic synthetic world of fictional entities and facts.'],
    ['dataset D from W { split train 60%  split test 40% }', "Questions and gold answers from a world, split with the dataset's seed."],
    [
        'dataset D from "file.jsonl" { question "q"  answers "answer.aliases" }',
        'Questions from a JSONL or CSV file (dotted field paths, answers a string or a list of aliases); splits by share (`%`) or count.',
    ],
    ['model M = pretrain on W { layers 4  width 128  knows 75% }', "A tiny llama model trained here on a share of the world's facts."],
    ['model M = gguf "model.gguf"', 'A local GGUF model (node-llama-cpp).'],
    ['model M = server "http://127.0.0.1:8080/v1" { name "m" }', 'An OpenAI-compatible endpoint (llama-server, vLLM, Ollama).'],
    [
        'model M = server "http://a:8080/v1", "http://b:8080/v1" { name "m"  concurrency 8  rateLimit 20 }',
        'One model on several servers (replicas): requests spread over them (least-loaded, `concurrency` per server), a failed request retried on another, `Retry-After` and `rateLimit` per server, a failing server out of the rotation for a while; every URL must serve the model `name` names (`GET /models`). The set of URLs is in the store key (another server may serve other weights under the same name); their order, `concurrency` and `rateLimit` are not.',
    ],
    ['decoding G { temperature 0  maxTokens 24 }', 'How answers are generated; inlined into every step that uses it.'],
    ['label L = answers of M on D.train [using G] { otherwise "I don\'t know" }', 'R-Tuning labels: the gold answer where M answered right, `otherwise` where it did not.'],
    ['label S = shuffle L { seed 11 }', 'Control: the same number of abstentions as L, on random questions.'],
    [
        'knowledge K = M on D.train [using G] { prompts 10  fewShot 4  samples 16  temperature 0.5 }',
        'SliCK knowledge categories of M (Gekhman et al. 2024; the name is optional; see "Knowledge, matching and metrics").',
    ],
    ['label X = mix K { unknown 50%  size 400 }', 'Gekhman et al.: a fine-tuning set (gold answers) with a share of Unknown examples.'],
    ['finetune F = M on L { lora rank 8  epochs 3  learningRate 1e-3 }', 'Fine-tune M (or another fine-tune) on a label set; `full` trains every weight.'],
    [
        'evaluate [E =] A, B, M on D.test [using G] [by K [, K2]] { abstain "I don\'t know" }',
        "Answer the questions with every arm; `by K` slices outcomes by K's knowledge categories; SliCK steps of the student and the teacher (`by K, K2`) give the teacher × student knowledge grid on real data.",
    ],
    [
        'hypothesis [H =] A hallucinates more|less than B [at matched coverage] [in E]',
        'A paired test (McNemar) of wrong answers, raw or with the more-answering arm giving up its least confident answers.',
    ],
];

const BLOCK_TITLES: Record<BlockKind, string> = {
    experiment: '`experiment` settings',
    world: '`world`',
    'dataset-world': '`dataset … from <world>`',
    'dataset-file': '`dataset … from "<file>"`',
    'model-gguf': '`model … = gguf`',
    'model-server': '`model … = server`',
    'model-pretrain': '`model … = pretrain`',
    decoding: '`decoding`',
    label: '`label … = answers of`',
    shuffle: '`label … = shuffle`',
    mix: '`label … = mix`',
    knowledge: '`knowledge`',
    finetune: '`finetune` (also the flags `lora`, `full`)',
    evaluate: '`evaluate`',
    hypothesis: '`hypothesis`',
};

function typeWords(p: PropertySpec): string {
    switch (p.type) {
        case 'integer':
            return 'whole number';
        case 'number':
            return 'number';
        case 'share':
            return 'share (`50%`)';
        case 'string':
            return '"string"';
        case 'strings':
            return '"string", …';
        case 'names':
            return 'name, …';
        case 'boolean':
            return '`true` / `false`';
        case 'enum':
            return (p.values ?? []).map((v) => `\`${v}\``).join(' / ');
    }
}

function rangeWords(p: PropertySpec): string {
    const show = (v: number) => (p.type === 'share' ? `${v * 100}%` : String(v));
    const lo = p.min === undefined ? '' : `${p.minExclusive ? '>' : '≥'} ${show(p.min)}`;
    const hi = p.max === undefined ? '' : `≤ ${show(p.max)}`;
    return [lo, hi].filter(Boolean).join(', ');
}

function defaultWords(p: PropertySpec): string {
    const d = p.default;
    if (d === undefined) return '';
    if (Array.isArray(d)) return d.map((x) => `\`${JSON.stringify(x).slice(1, -1)}\``).join(', ');
    if (p.type === 'share' && typeof d === 'number') return `${d * 100}%`;
    return `\`${String(d)}\``;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function languageReference(): string {
    const out: string[] = [];
    out.push('# The Mismatch language: reference', '');
    out.push('Generated from `language/properties.ts` and `language/validation/codes.ts` by `language/reference.ts`; do not edit by hand.', '');
    out.push('Comments are `// …` and `/* … */`. Numbers take units: `60%`, `10k`, `2M`, `1e-3`. Strings are in double (or single) quotes. Blocks are `{ key value  key value, value }` lists.', '');
    out.push('## Statements', '');
    out.push('| form | meaning |', '|---|---|');
    for (const [form, doc] of FORMS) out.push(`| \`${cell(form)}\` | ${cell(doc)} |`);
    out.push('');
    out.push('## Properties', '');
    out.push(
        `Steps without their own \`seed\` take the experiment's (default ${DEFAULTS.seed}). A LoRA \`alpha\` defaults to 2 × rank; a step without \`using\` decodes greedily (temperature 0, ${DEFAULTS.decoding.maxTokens} tokens, stop at a newline).`,
        '',
    );
    for (const kind of Object.keys(PROPERTY_TABLE) as BlockKind[]) {
        out.push(`### ${BLOCK_TITLES[kind]}`, '');
        out.push('| key | value | default | range | meaning |', '|---|---|---|---|---|');
        for (const p of PROPERTY_TABLE[kind]) {
            const key = `\`${p.key}\`${p.aliases ? ` (or ${p.aliases.map((a) => `\`${a}\``).join(', ')})` : ''}`;
            out.push(`| ${key} | ${cell(typeWords(p))} | ${cell(defaultWords(p))} | ${cell(rangeWords(p))} | ${cell(p.doc)} |`);
        }
        out.push('');
    }
    out.push('## Knowledge, matching and metrics', '');
    out.push(
        "**SliCK** (Gekhman et al. 2024, §3). Each question is asked with `prompts` few-shot prompts (Nex, default 10), each of `fewShot` exemplars (default 4) drawn at random from the `train` split, never the question itself. Per prompt the model gives one greedy answer and `samples` answers at `temperature` (defaults 16 at 0.5, the paper's numbers; smaller settings are allowed). Answers are compared with the gold answers by the step's `match`. **HighlyKnown**: the greedy answer is right with every prompt. **MaybeKnown**: with some prompts but not all. **WeaklyKnown**: the greedy answer is never right, but some sample is. **Unknown**: no answer is ever right. Known = the first three. With `fewShot 0` every prompt is the same text, so one prompt is used (and MaybeKnown cannot occur).",
        '',
        "**Few-shot exemplars** (`fewShot` of a decoding) are drawn per question, seeded, from the dataset's `train` split, never the asked question (by id or text); a step that answers the `train` split draws from its other questions. An evaluation never draws them from the split it evaluates: `fewshot-evaluated-split` and `fewshot-no-train-split` refuse such specs.",
        '',
        '**Matching** (`match`): `exact` lowercases, deletes every Unicode punctuation mark and symbol, removes the words a/an/the and collapses whitespace, then compares for equality; `contains` accepts a gold answer found as whole words in the answer. `squad` and `triviaqa` are the official scripts\' `normalize_answer` (SQuAD v1.1 `evaluate-v1.1.py`; TriviaQA `utils/dataset_utils.py`) as they run under Python 3 (word boundaries are Unicode-aware, so "España" stays whole). They differ: SQuAD deletes the ASCII punctuation (`string.punctuation`) and keeps curly quotes, so "U.S.A." matches "USA"; TriviaQA first turns "_" into a space and replaces punctuation and ‘ ’ ´ ` by spaces, so "U.S.A." becomes "u s" (the last "a" is then an article) and "don\'t" becomes "don t".',
        '',
        '**Outcomes**: an answer that is empty or unparseable (nothing but whitespace, punctuation or articles, or a failed generation) is `empty`, counted apart: neither wrong nor an abstention. Otherwise it is correct when it matches a gold answer, abstained when it is an abstention phrase (`abstain`; equal to a phrase, or beginning with a phrase of two words or more, after the `exact` normalisation), else wrong.',
        '',
        "**Metrics** per arm: accuracy given attempted (correct / (correct + wrong)) and the SimpleQA F-score (harmonic mean of correct / all and correct / attempted); AURC, the area under the risk–coverage curve over [0, coverage] (Geifman & El-Yaniv): answers ranked by confidence (mean token log-probability), the selective risk at each coverage k/n (k = 1..answered) summed and divided by n, ties in confidence spread evenly; expected calibration error over attempted answers, with the answer's sequence probability as confidence and 10 equal-width bins; and the teacher × student knowledge grid: each question by whether the teacher (whose answers labelled the arm) and the student (the model it was fine-tuned from) know it, from the facts each was taught in the embedded world, or from SliCK steps of both models named with `by` on real data, with every arm's outcomes per cell.",
        '',
        "**Training fit** of a fine-tune: after training, the base model and the fine-tuned model answer the fine-tune's own training questions (greedy, the model's template, no exemplars; at most 256, a seeded sample beyond), matched `exact` against the taught label. The results give both accuracies, split into Known and Unknown examples when the labels come from a `mix` (its examples keep their SliCK category), and warn on the fine-tune's line when it fitted nothing (under 10 points above the base model and under 90%) or under half of its Unknown examples. **How fast** it fitted them (Gekhman et al. 2024): the embedded trainer also measures, after every epoch, which training examples greedy decoding reproduces (teacher-forced on the training sequence: the most likely next token is the taught one at every answer token and at the end token, one forward pass over the training set per epoch); the results keep the counts per epoch, Known and Unknown apart for a `mix` (and the step's `fit-by-epoch.jsonl` each example's fit after every epoch), examples held out by `validation` not counted. The CLI gives a line per fine-tune (training accuracy after the last epoch and the epoch each half reached 50%), `--verbose` the table by epoch, and the report plots training accuracy by epoch, Known vs Unknown. External trainers (`trainer trl|axolotl`) report no such curve. The loss per epoch and per optimizer step comes from the trainer (`loss.csv` beside the adapter holds the same numbers).",
        '',
        '**Accuracy vs Unknown share**: for every evaluation whose arms are fine-tunes on `mix` sets, test accuracy (correct / all) of each (fine-tune, replicate) against the Unknown share of its training set, with the ordinary least-squares line and a t interval (n \u2212 2 degrees of freedom) for the slope, printed after a run and plotted in the report. The points of one replicate share their world, base model and test questions, and the interval treats every point as independent: read it as descriptive, and the hypotheses (tested across replicates) as the verdicts.',
        '',
    );
    out.push('## Diagnostics', '');
    out.push('Every diagnostic has a stable code (`mismatch check` prints it; quick fixes key on it).', '');
    out.push('| code | severity | meaning |', '|---|---|---|');
    for (const [code, { severity, doc }] of Object.entries(CODE_DOCS)) out.push(`| \`${code}\` | ${severity} | ${cell(doc)} |`);
    out.push('');
    return out.join('\n');
}
