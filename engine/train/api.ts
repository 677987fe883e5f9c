// Public API of the trainer. Others import from here only.
//
//   buildTokenizer(texts | {texts, words}) -> Tokenizer (encode/decode identical to node-llama-cpp)
//   writeLlamaGguf(path, {config, tokenizer, tensors}) / readLlamaGguf(path) / initLlamaWeights(config, seed)
//   trainModel(job, {signal, onEvent}) -> Promise<TrainResult>   (runs ggml in a child process)
export type { LlamaConfig, LlamaTensor, LlamaTensors, LlamaGgufInfo, LoraWeights, WriteLlamaOptions } from './llama.js';
export {
    writeLlamaGguf, readLlamaGguf, readLlamaGgufInfo, initLlamaWeights, countParameters, llamaTensorShapes,
    validateConfig, writeLoraGguf, readLoraGguf, quantizedTensors, Rng, DEFAULT_ROPE_THETA, DEFAULT_RMS_EPS,
} from './llama.js';
export type { Tokenizer, TokenizerData, BuildTokenizerOptions } from './tokenizer.js';
export { buildTokenizer, tokenizerFromData } from './tokenizer.js';
export { readGguf, writeGguf, type GgufFile, type GgufValue } from './gguf.js';
export type { TrainJob, TrainExample, TrainEvent, TrainResult, LoraSpec, InitSpec, TrainGpu } from './types.js';
export { TrainError } from './types.js';
export { trainModel, checkJob, type TrainOptions } from './parent.js';
