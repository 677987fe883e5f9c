/**
 * Which fine-tuning modes the trainer (engine/train) supports for a GGUF, from its header only: the
 * architecture and each tensor's type. LoRA keeps the base frozen in its own type, so a quantized
 * file (Q4_K_M, Q8_0…) trains with LoRA; full fine-tuning updates every weight in F32 and starts
 * from F32, F16 or BF16 only. The tensor types are the truth, not `general.file_type` (a Q4_K_M
 * file holds Q4_K, Q6_K and F32 tensors; a file may also carry no file type at all).
 */
import { SUPPORTED_ARCHITECTURES } from '../../engine/train/llama.js';
import { FULL_TRAIN_TYPES, LORA_BASE_TYPES, ggmlTypeName } from '../../engine/train/gguf.js';

export interface TrainModes {
    lora: boolean;
    full: boolean;
    /** why LoRA is not possible (when `lora` is false) */
    loraWhy?: string;
    /** why full fine-tuning is not possible (when `full` is false) */
    fullWhy?: string;
    /** the architecture when the trainer does not implement it */
    unsupportedArchitecture?: string;
}

/** Families the trainer's two architectures cover, for messages. */
export const ARCHITECTURE_FAMILIES = 'llama (Llama 2, Llama 3.x, TinyLlama, Mistral) and qwen2 (Qwen2, Qwen2.5)';

export function trainModes(architecture: string | undefined, generalType: string | undefined, tensors: readonly { name: string; type: number }[]): TrainModes {
    if (generalType === 'adapter') {
        const why = 'it is a LoRA adapter, not a model';
        return { lora: false, full: false, loraWhy: why, fullWhy: why };
    }
    if (!architecture || !(SUPPORTED_ARCHITECTURES as readonly string[]).includes(architecture)) {
        const why = `its architecture "${architecture ?? '(none)'}" is not one the trainer implements: ${ARCHITECTURE_FAMILIES}`;
        return { lora: false, full: false, loraWhy: why, fullWhy: why, unsupportedArchitecture: architecture ?? '(none)' };
    }
    const modes: TrainModes = { lora: true, full: true };
    const noLora = tensors.find((t) => !LORA_BASE_TYPES.has(t.type));
    if (noLora) {
        modes.lora = false;
        modes.loraWhy = `tensor ${noLora.name} is ${ggmlTypeName(noLora.type)}, a type LoRA training cannot run on (it can: ${[...LORA_BASE_TYPES].map(ggmlTypeName).join(', ')})`;
    }
    const noFull = tensors.find((t) => !FULL_TRAIN_TYPES.has(t.type));
    if (noFull) {
        modes.full = false;
        modes.fullWhy = `tensor ${noFull.name} is ${ggmlTypeName(noFull.type)}; full fine-tuning starts from F32, F16 or BF16 weights`;
    }
    return modes;
}

/** One line for a hover: which modes this file supports. */
export function describeTrainModes(m: TrainModes): string {
    if (m.lora && m.full) return 'LoRA and full';
    if (m.lora) return `LoRA only (full: ${m.fullWhy})`;
    if (m.full) return `full only (LoRA: ${m.loraWhy})`;
    return `not here: ${m.loraWhy}`;
}
