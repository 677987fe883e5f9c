// Types of the trainer's public API (re-exported by api.ts) and of the parent <-> child protocol.
import type { LlamaConfig } from './llama.js';
import type { TokenizerData } from './tokenizer.js';

export interface TrainExample {
    prompt: string;
    answer: string;
    /**
     * The example already tokenized by the engine's prompt builder (engine/models/prompt.ts
     * trainingSequence: the prompt exactly as generation asks it, the answer, the end token) and the
     * index of the first answer token. When present it is trained as is (prompt/answer then only name
     * the example in messages); job.tokenization and job.separator do not apply to it.
     */
    sequence?: { tokens: number[]; answerStart: number };
}

/** From scratch: a config, a tokenizer and a seed for the initial weights. */
export interface InitSpec {
    init: {
        config: LlamaConfig;
        tokenizer: TokenizerData;
        seed: number;
    };
}

export interface LoraSpec {
    rank: number;
    /** scale = alpha / rank (stored as adapter.lora.alpha) */
    alpha: number;
    /** which matrices get adapters; default attn_q, attn_k, attn_v, attn_output */
    targets?: ('attn_q' | 'attn_k' | 'attn_v' | 'attn_output' | 'ffn_gate' | 'ffn_up' | 'ffn_down')[];
}

export type TrainGpu = 'off' | 'auto' | 'cuda' | 'vulkan';

export interface TrainJob {
    /** a GGUF path to fine-tune, or a from-scratch spec */
    base: string | InitSpec;
    /** For `base` as a path: a LoRA adapter GGUF to continue training from (LoRA mode only). */
    examples: TrainExample[];
    /** optional fixed validation set; otherwise `validationShare` of the examples */
    validation?: TrainExample[];
    mode: 'full' | 'lora';
    lora?: LoraSpec;
    epochs: number;
    /** peak learning rate */
    lr: number;
    /** warmup steps (optimizer steps) before the peak; default 0 */
    warmup?: number;
    /** after warmup: constant, linear decay to 0, or cosine decay to `minLrRatio`·lr; default constant */
    schedule?: 'constant' | 'linear' | 'cosine';
    minLrRatio?: number;
    /** examples per micro-batch; default 16 */
    batch?: number;
    /** micro-batches per optimizer step; default 1 */
    gradAccum?: number;
    weightDecay?: number;
    optimizer?: 'adamw' | 'sgd';
    /** AdamW betas; default 0.9, 0.999 */
    beta1?: number;
    beta2?: number;
    seed: number;
    /** share of the examples held out for validation, 0..0.5; default 0 */
    validationShare?: number;
    /** stop when the validation loss has not improved for this many epochs */
    earlyStopping?: { patience: number; minDelta?: number };
    /** CPU threads; default: cores - 1 (at least 1) */
    threads?: number;
    gpu?: TrainGpu;
    /** where model/adapter, loss.csv, manifest.json and checkpoints go */
    outDir: string;
    /** write a checkpoint every N optimizer steps (and always after each epoch) */
    checkpointEvery?: number;
    /** resume from outDir/checkpoint when one is there */
    resume?: boolean;
    /**
     * How prompts are tokenized, to match inference: 'llama' (default): llama.cpp's tokenize with the SPM
     * space prefix, i.e. `[bos, ...model.tokenize(prompt)]`; 'completion': as node-llama-cpp's
     * LlamaCompletion.generateCompletion(prompt) (text after the BOS without the space prefix).
     */
    tokenization?: 'llama' | 'completion';
    /** how the answer follows the prompt in the training sequence; default ' ' (prompt + ' ' + answer) */
    separator?: string;
    /**
     * After every epoch, which training examples greedy decoding reproduces exactly (TrainResult.fit).
     * Costs one forward pass (no gradient) over the training examples per epoch, about a third of an
     * epoch's training compute; default false.
     */
    fitByEpoch?: boolean;
    /** stop after this many optimizer steps (tests, benchmarks); default unlimited */
    maxSteps?: number;
    /** name stored in general.name */
    name?: string;
}

export type TrainEvent =
    | { type: 'start'; totalSteps: number; epochs: number; examples: number; validationExamples: number; trainableParams: number; totalParams: number; device: string; resumedFromStep?: number }
    | { type: 'progress'; step: number; totalSteps: number; epoch: number; loss: number; lr: number; tokensPerSecond: number; etaSeconds: number; elapsedSeconds: number }
    | { type: 'epoch'; epoch: number; trainLoss: number; validationLoss?: number; step: number; /** examples fitted (job.fitByEpoch) */ fitted?: number }
    | { type: 'checkpoint'; step: number; path: string }
    | { type: 'log'; line: string }
    | { type: 'done'; result: TrainResult }
    | { type: 'error'; message: string; nativeOutput?: string[] };

/** One optimizer step: the mean loss of its micro-batches per answer token. */
export interface StepLoss {
    step: number;
    /** fractional epoch at the end of the step (2.5 = half-way through the third epoch) */
    epoch: number;
    loss: number;
    lr: number;
    elapsedSeconds: number;
}

/** One finished epoch: its mean micro-batch loss and the validation loss after it. */
export interface EpochLoss {
    /** 1-based */
    epoch: number;
    /** optimizer steps done at its end */
    step: number;
    trainLoss: number;
    validationLoss?: number;
    elapsedSeconds: number;
}

/**
 * Which training examples the model fits after each epoch: an example is fitted when, teacher-forced
 * on its training sequence, the arg-max of the next-token logits is the target token at every answer
 * position, the end token included. That is exactly when greedy decoding of its prompt yields its
 * answer and then stops (up to ties and the inference engine's own rounding, e.g. an F16 KV cache).
 */
export interface EpochFit {
    /** indices into job.examples of the examples trained on (all of them, less a validation split) */
    examples: number[];
    epochs: { epoch: number; step: number; /** indices into job.examples, ascending */ fitted: number[] }[];
}

export interface TrainResult {
    /** full GGUF (mode full) or adapter GGUF (mode lora) */
    modelPath: string;
    kind: 'model' | 'lora';
    /** the loss curve written for people (columns kind,step,epoch,...); `loss` holds the same numbers */
    lossCsv: string;
    /** loss per optimizer step and per epoch, separately */
    loss: { steps: StepLoss[]; epochs: EpochLoss[] };
    /** with job.fitByEpoch: the examples fitted after each epoch */
    fit?: EpochFit;
    manifestPath: string;
    steps: number;
    epochs: number;
    finalTrainLoss: number;
    finalValidationLoss?: number;
    stoppedEarly: boolean;
    trainSeconds: number;
    tokensPerSecond: number;
    trainableParams: number;
    totalParams: number;
    peakRssBytes: number;
    /** the ggml buffers by part, after the first step of this run */
    memory?: SessionMemory;
    device: string;
}

/** Bytes of each part of a training session's memory (ggml buffers only; the process adds its runtime). */
export interface SessionMemory {
    /** the model's weights (frozen base in its file types, trainable tensors in F32) */
    weights: number;
    /** ggml_opt's gradient accumulators and AdamW moments (0 before the first step) */
    optimizer: number;
    /** the scheduler's compute buffers: activations and gradients of one micro-batch (0 before the first step) */
    compute: number;
    /** the scratch frozen non-F32 matrices are widened into (LoRA on the CPU) */
    staging: number;
}

export class TrainError extends Error {
    constructor(
        message: string,
        readonly nativeOutput: string[] = [],
        readonly code: string = 'train',
    ) {
        super(message);
        this.name = 'TrainError';
    }
}

/** Parent -> child messages. */
export type ToChild = { type: 'train'; job: ResolvedJob } | { type: 'cancel' };
/** Child -> parent messages. */
export type FromChild = { type: 'event'; event: TrainEvent } | { type: 'fatal'; message: string };

/**
 * A job after the parent has checked it and tokenized the data (the child never tokenizes:
 * the parent uses node-llama-cpp's own tokenizer or ours, proven identical).
 */
export interface ResolvedJob {
    job: TrainJob;
    config: LlamaConfig;
    tokenizer: TokenizerData | null;
    /** token sequences: [BOS] prompt answer [EOS], and the index of the first answer token */
    train: { tokens: number[]; answerStart: number }[];
    /** index into job.examples of each `train` sequence */
    trainIndex: number[];
    validation: { tokens: number[]; answerStart: number }[];
    /** longest sequence, the training graph's length */
    seqLen: number;
    versions: Record<string, string>;
}
