/**
 * Documentation of the language's keywords, shown on hover and in keyword completion. Property keys
 * inside `{ … }` are documented by the property table of the validator
 * (`language/validation/properties.ts`), so the two never disagree.
 */
export const KEYWORD_DOCS: Record<string, string> = {
    experiment:
        '`experiment Name { … }`: one experiment. Settings at the top (`seed 7`, `seeds 5`, `alpha 0.05`) apply to every step; then worlds, datasets, models, labels, fine-tunes, evaluations and hypotheses, in any order.',
    import: '`import "common.mismatch"`: use the declarations of another spec (path relative to this file).',
    world: '`world atlas { entities 300  relations capital, founder }`: a deterministic synthetic world of fictional entities and facts; datasets and pretrained models can be built from it, and it gives ground truth for "did the model know this fact".',
    dataset:
        '`dataset trivia from atlas { split train 60%  split test 40% }` or `dataset trivia from "data/triviaqa.jsonl" { question "question"  answers "answer.aliases" }`: questions with gold answers, from a world or a JSONL/CSV file, with seeded splits.',
    from: 'Where a dataset comes from: a `world`, or a JSONL/CSV file (path relative to the spec).',
    split: '`split train 60%`: a named, seeded split of the dataset, as a share (`%`) or a count (`2k`). Refer to it as `dataset.split`.',
    model: '`model large = pretrain on atlas { … }`, `= gguf "path.gguf"` or `= server "http://…/v1" { name "…" }`: a model that answers questions.',
    gguf: '`gguf "models/x.gguf"`: a local GGUF file run with node-llama-cpp (path relative to the spec). Fine-tuning needs F32/F16 weights.',
    server: '`server "http://127.0.0.1:8080/v1" { name "…" }`: an OpenAI-compatible endpoint (llama-server, vLLM, Ollama). Matched-coverage comparisons need `logprobs true`.',
    pretrain: "`pretrain on atlas { layers 2  width 128  knows 40% }`: a tiny llama-architecture model trained here on a share of the world's facts (the embedded default; no download).",
    on: 'The data (or label set) a step works on.',
    decoding: '`decoding greedy { temperature 0  maxTokens 24 }`: how answers are generated. Temperature above 0 needs a `seed` to be reproducible.',
    label: '`label byLarge = answers of large on trivia.train using greedy { otherwise "I don\'t know" }`: a fine-tuning set. Where the model\'s answer matches the gold answer the example keeps the gold answer, otherwise the label becomes `otherwise` (R-Tuning style). Also `= shuffle L` and `= mix K`.',
    answers: '`answers of MODEL on DATA`: the model answers the questions of the data.',
    of: 'The model whose answers make the labels.',
    using: 'The `decoding` used to generate answers.',
    shuffle:
        '`label shuffled = shuffle bySmall { seed 11 }`: control arm. The same number of abstention labels as the source, on random questions: it separates "the labels match the student\'s knowledge" from "the labels abstain more".',
    mix: '`label half = mix known { unknown 50% }`: a fine-tuning set with a chosen share of Unknown examples by SliCK category (Gekhman et al. 2024).',
    knowledge:
        '`knowledge small on trivia.train { prompts 10  fewShot 4  samples 16  temperature 0.5 }`: SliCK knowledge categories of a model on a dataset (Gekhman et al. 2024): per question, a greedy answer and samples under each of several few-shot prompts; HighlyKnown: the greedy answer is right with every prompt, MaybeKnown: with some, WeaklyKnown: never but some sample is, Unknown: never right.',
    finetune: '`finetune smallOnLarge = small on byLarge { lora rank 8  epochs 3  learningRate 1e-3 }`: fine-tune a model on a label set (LoRA or full), in a child process.',
    lora: '`lora rank 8`: train low-rank adapters only (the base weights stay frozen).',
    full: '`full`: train every weight of the model.',
    evaluate:
        '`evaluate a, b, c on trivia.test using greedy { abstain "I don\'t know" }`: each arm answers the questions; answers are counted correct, wrong or abstained, with per-question confidence for risk-coverage curves.',
    by: '`by K`: break the evaluation down by the SliCK categories of a `knowledge` step; `by K, K2` (SliCK of the student and of the teacher on the same questions) adds the teacher × student knowledge grid.',
    hypothesis:
        '`hypothesis a hallucinates more than b [at matched coverage]`: a paired test (exact McNemar) on the wrong answers of two arms evaluated on the same data and decoding. `at matched coverage` first makes the arm that answers more give up its least confident answers until both answer as many questions.',
    hallucinates: 'Compares the number of wrong (non-abstained) answers of two arms.',
    more: 'The first arm gives more wrong answers than the second.',
    less: 'The first arm gives fewer wrong answers than the second.',
    than: 'The arm compared against.',
    at: '`at matched coverage`: compare the arms when both answer the same number of questions.',
    matched: '`at matched coverage`: compare the arms when both answer the same number of questions.',
    coverage: 'Share of questions an arm answers (does not abstain on).',
    in: '`in evalName`: the evaluation whose answers the hypothesis tests (when several could).',
};
