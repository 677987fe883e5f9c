// Public API of the trainer. Others import from here only.
//
//   buildTokenizer(texts | {texts, words}) -> Tokenizer (encode/decode identical to node-llama-cpp)
//   writeLlamaGguf(path, {config, tokenizer, tensors}) / readLlamaGguf(path) / initLlamaWeights(config, seed)
//   trainModel(job, {signal, onEvent}) -> Promise<TrainResult>   (runs ggml in a child process)
//
// Contract details:
// - A training sequence is [BOS] + tokenize(prompt + separator + answer) + [EOS]; the loss is on the
//   answer tokens and the EOS only. With job.tokenization 'llama' (default) prompts must be evaluated as
//   [bos, ...model.tokenize(prompt)] (engine/models/worker.ts does); 'completion' matches
//   LlamaCompletion.generateCompletion(prompt), which drops the SPM space prefix after the BOS.
// - The result carries the loss per optimizer step and per epoch (result.loss) and, with
//   job.fitByEpoch, which examples greedy decoding reproduces after each epoch (result.fit,
//   teacher-forced: one extra forward pass over the training set per epoch).
// - Outputs in job.outDir: model.gguf (full) or adapter.gguf (LoRA), loss.csv, manifest.json;
//   checkpoint/ while running (removed at the end). node-llama-cpp caches LoRA adapters by file path:
//   load a retrained adapter from a new path.
// - Defaults: batch 16, threads = cores - 1, AdamW (0.9, 0.999, eps 1e-8), constant lr, no warmup;
//   init for {init}: N(0, 1/fan_in) matrices, norms 1. Errors are TrainError (code 'precondition',
//   'cancelled', 'crash' with nativeOutput, 'native').
// - Bases: llama (Llama 2/3.x with rope_freqs, TinyLlama, Mistral) and qwen2 GGUFs of any depth. LoRA
//   trains against the base in its file type (F32, F16, BF16, Q4_0/1, Q5_0/1, Q8_0, Q2_K..Q6_K; gguf.ts
//   LORA_BASE_TYPES), so its memory is about the file's size plus activations; full fine-tuning needs
//   F32, F16 or BF16 weights and holds 16 bytes per parameter (value, gradient, AdamW m and v).
export type { LlamaConfig, LlamaTensor, LlamaTensors, LlamaGgufInfo, LoraWeights, WriteLlamaOptions } from './llama.js';
export {
    writeLlamaGguf,
    readLlamaGguf,
    readLlamaGgufInfo,
    initLlamaWeights,
    countParameters,
    llamaTensorShapes,
    validateConfig,
    writeLoraGguf,
    readLoraGguf,
    quantizedTensors,
    Rng,
    DEFAULT_ROPE_THETA,
    DEFAULT_RMS_EPS,
} from './llama.js';
export type { Tokenizer, TokenizerData, BuildTokenizerOptions } from './tokenizer.js';
export { buildTokenizer, tokenizerFromData } from './tokenizer.js';
export { readGguf, writeGguf, type GgufFile, type GgufValue } from './gguf.js';
export type { TrainJob, TrainExample, TrainEvent, TrainResult, LoraSpec, InitSpec, TrainGpu, StepLoss, EpochLoss, EpochFit } from './types.js';
export { TrainError } from './types.js';
export { trainModel, checkJob, type TrainOptions } from './parent.js';
