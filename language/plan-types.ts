/**
 * The Plan: the validated spec as a DAG of typed steps. This file is the contract between
 * `language/` (which builds a Plan from a Langium document in `plan.ts`) and everything that runs
 * or shows it (`engine/`, `cli/`, `client/`). Pure data: JSON-serialisable, no AST nodes, no I/O.
 *
 * Ranges are 0-based (LSP convention); the CLI converts to 1-based when it prints.
 */

export interface Position {
    line: number;
    character: number;
}

export interface SourceRange {
    /** Absolute path of the file that holds the step (a step may come from an imported file). */
    file: string;
    start: Position;
    end: Position;
}

/** How answers are compared with the gold aliases: the tool's normalisation (`exact`, `contains`) or
 * the official SQuAD v1.1 / TriviaQA normalisations (engine/evaluate/match.ts). */
export type MatchMode = 'exact' | 'contains' | 'squad' | 'triviaqa';

/** Decoding settings, inlined into every step that generates text. */
export interface Decoding {
    /** Name of the `decoding` block it came from (for messages only; not part of any key). */
    name?: string;
    temperature: number;
    topP?: number;
    topK?: number;
    /** Sampling seed; required for reproducibility when temperature > 0. */
    seed?: number;
    maxTokens: number;
    stop: string[];
    /** Prompt template: 'raw' (the question as is), 'chat' (the model's chat template), or a
     * template string with `{question}`. */
    template: string;
    /** Few-shot examples drawn from the dataset's train split (0 = none). */
    fewShot: number;
}

export type DatasetSource =
    | { kind: 'world'; world: string }
    | {
          kind: 'file';
          /** Absolute path. */
          path: string;
          format: 'jsonl' | 'csv' | 'triviaqa';
          /** Dotted paths into each record, e.g. `answer.aliases`. */
          fields: { question: string; answers: string; id?: string };
      };

export interface SplitSpec {
    name: string;
    /** Share in (0, 1], or undefined when `count` is given. */
    share?: number;
    count?: number;
}

export type ModelSource =
    | { kind: 'gguf'; path: string }
    | {
          kind: 'server';
          /** The server's URL; with several servers, the first. */
          url: string;
          /** Every server URL in the spec's order (`url` first), when it names more than one: replicas of one model. */
          urls?: string[];
          name: string;
          /** Name of the environment variable that holds the API key (never the key itself). */
          apiKeyEnv?: string;
          /** 'completions' | 'chat' endpoint. */
          api: 'completions' | 'chat';
          /** Whether the server returns token log-probabilities (needed for matched coverage). */
          logprobs: boolean;
          /** Requests in flight at once, per server. */
          concurrency: number;
          timeoutMs: number;
          /** At most this many requests start per `ratePer`, per server. */
          rateLimit?: number;
          ratePer?: 'second' | 'minute';
      }
    | {
          kind: 'pretrain';
          world: string;
          layers: number;
          width: number;
          heads: number;
          /** Share of the world's facts this model is taught, in (0, 1]. */
          knows: number;
          epochs?: number;
          learningRate?: number;
          seed: number;
          /** Seed of the draw of which facts it is taught (absent: `seed`); `seed` still draws its initial weights. */
          factsSeed?: number;
      };

export interface LoraSettings {
    rank: number;
    alpha: number;
    /** Target matrices, e.g. ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']. */
    targets: string[];
}

interface StepBase {
    /** The step's name: unique in the experiment (generated as `<kind>@<line>` for unnamed steps). */
    id: string;
    /** Range of the whole statement; annotations go after `range.end.line`. */
    range: SourceRange;
    /** Range of the step's name (or keyword for unnamed steps), for diagnostics and hovers. */
    nameRange: SourceRange;
    /** Ids of the steps this one reads. */
    inputs: string[];
    /**
     * Content key: sha256 (hex) of the kind, the parameters and the input steps' keys. It does not
     * include the content of files: the engine adds their hashes (and its format version) to form
     * the store key.
     */
    key: string;
    /** True when a replicate (`seeds N`) redraws this step's own random numbers: it runs once per
     * seed with its seeds offset by the seed index. Steps downstream of one also run per seed. */
    stochastic: boolean;
    /** The seeded stage this step's own random numbers belong to (absent: it draws none). Whether a
     * replicate redraws it is the experiment's `redraw` setting; `stochastic` is the outcome. */
    redraw?: RedrawStage;
    /** Absolute paths of the files this step reads directly (datasets, GGUF models). */
    files: string[];
}

export interface WorldStep extends StepBase {
    kind: 'world';
    params: { entities: number; relations: string[]; seed: number };
}

export interface DatasetStep extends StepBase {
    kind: 'dataset';
    params: { source: DatasetSource; splits: SplitSpec[]; seed: number; dedupe: boolean };
}

export interface ModelStep extends StepBase {
    kind: 'model';
    params: { source: ModelSource; template?: string };
}

export interface LabelStep extends StepBase {
    kind: 'label';
    params: {
        model: string;
        dataset: string;
        /** Split name; 'all' when the step reads the whole dataset (`on trivia`). */
        split: string;
        decoding: Decoding;
        /** The abstention text that replaces a wrong answer. */
        otherwise: string;
        match: MatchMode;
    };
}

export interface ShuffleStep extends StepBase {
    kind: 'shuffle';
    params: { source: string; seed: number };
}

export interface KnowledgeStep extends StepBase {
    kind: 'knowledge';
    params: {
        model: string;
        dataset: string;
        split: string;
        /** Few-shot prompts per question (Nex; SliCK: 10), each with `decoding.fewShot` random exemplars. */
        prompts: number;
        /** Sampled answers per prompt (SliCK: 16) at `temperature` (SliCK: 0.5). */
        samples: number;
        temperature: number;
        seed: number;
        decoding: Decoding;
        match: MatchMode;
    };
}

/** Gekhman et al.: a fine-tuning set with a chosen share of Unknown examples. */
export interface MixStep extends StepBase {
    kind: 'mix';
    params: {
        knowledge: string;
        /** Share of Unknown examples in (0..1). */
        unknown: number;
        /** Number of examples in the mix (defaults to what the categories allow). */
        size?: number;
        seed: number;
    };
}

export interface FinetuneStep extends StepBase {
    kind: 'finetune';
    params: {
        model: string;
        /** A label, shuffle or mix step. */
        labels: string;
        mode: 'lora' | 'full';
        lora?: LoraSettings;
        epochs: number;
        learningRate: number;
        batchSize: number;
        gradientAccumulation: number;
        warmup: number;
        schedule: 'constant' | 'linear' | 'cosine';
        weightDecay: number;
        optimizer: 'adamw' | 'sgd';
        seed: number;
        /** Share of the labels held out for validation (0 = none). */
        validation: number;
        earlyStopping: boolean;
        /** An existing trainer that runs the fine-tune from an exported job (absent: the embedded trainer). */
        external?: ExternalTrainer;
    };
}

/** `trainer trl|axolotl` on a finetune step: the job is exported, the PEFT adapter comes back. */
export interface ExternalTrainer {
    engine: 'trl' | 'axolotl';
    /** Hugging Face id or path of the base model, as the trainer loads it. */
    hfModel: string;
    /** LoRA dropout. */
    dropout: number;
}

export interface EvaluateArm {
    /** Id of a model or finetune step. */
    model: string;
}

export interface EvaluateStep extends StepBase {
    kind: 'evaluate';
    params: {
        arms: EvaluateArm[];
        dataset: string;
        split: string;
        decoding: Decoding;
        /** Abstention phrases (matched after normalisation) and /regex/ patterns. */
        abstain: string[];
        match: MatchMode;
        /** Optional knowledge step used to slice outcomes (SliCK categories). */
        knowledge?: string;
        /** Further knowledge steps (`by K1, K2`): SliCK of other models on the same questions, for the
         * teacher × student knowledge grid on real data. */
        knowledgeAlso?: string[];
    };
}

export interface HypothesisStep extends StepBase {
    kind: 'hypothesis';
    params: {
        /** Arms (model or finetune ids) compared on the same evaluate step. */
        a: string;
        b: string;
        /** `a hallucinates more than b` → 'more'. */
        direction: 'more' | 'less';
        matchedCoverage: boolean;
        /** The evaluate step that holds both arms. */
        evaluation: string;
        alpha: number;
    };
}

export type Step = WorldStep | DatasetStep | ModelStep | LabelStep | ShuffleStep | KnowledgeStep | MixStep | FinetuneStep | EvaluateStep | HypothesisStep;

export type StepKind = Step['kind'];

/** Seeded stages a replicate can redraw: the synthetic world's facts, the dataset's splits,
 * pretraining (which facts a model is taught, and its initialisation), the labels' random choices
 * (shuffle control, mixes), fine-tuning, and sampling (temperature > 0, SliCK samples, few-shot
 * exemplars). (Not `world`, `split`, `finetune`: those words are keywords of the language.) */
export type RedrawStage = 'facts' | 'splits' | 'pretraining' | 'labels' | 'finetuning' | 'sampling';

export interface Plan {
    experiment: string;
    /** Absolute path of the spec. */
    file: string;
    seed: number;
    /** Number of replicates (`seeds N`); 1 when absent. */
    seeds: number;
    /** What a replicate redraws (`redraw ...`); absent means every stage. */
    redraw?: RedrawStage[];
    alpha: number;
    /** Topologically ordered: every step comes after its inputs. */
    steps: Step[];
}
