/** Messages between the engine and its inference child process (engine/models/worker.ts). */
import type { Decoding } from '../../language/plan-types.js';
import type { FewShotExample, GenerationItem, GenerationResult } from './types.js';

export type GpuChoice = 'auto' | 'cuda' | 'vulkan' | 'metal' | false;

export interface WorkerInit {
    modelPath: string;
    gpu: GpuChoice;
    threads: number;
    /** Parallel sequences in the context (batched generation). */
    sequences: number;
    /** Tokens per sequence. */
    contextSize: number;
    lora?: string[];
}

export type ToWorker =
    | ({ type: 'init' } & WorkerInit)
    | { type: 'lora'; lora: string[] }
    | { type: 'generate'; job: number; items: GenerationItem[]; decoding: Decoding; samples: number; fewShot: FewShotExample[] }
    | { type: 'cancel'; job: number }
    | { type: 'exit' };

export type FromWorker =
    | { type: 'ready'; info: { gpu: string | false; trainContextSize: number; contextSize: number; sequences: number; chatTemplate: boolean; llamaCpp: string; gpuDevices?: string[] } }
    | { type: 'lora-ready' }
    | { type: 'result'; job: number; result: GenerationResult }
    | { type: 'done'; job: number }
    | { type: 'error'; job?: number; message: string; stack?: string };
