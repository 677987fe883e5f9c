/** Messages between the engine and its inference child process (engine/models/worker.ts). */
import type { Decoding } from '../../language/plan-types.js';
import type { FewShotExample, GenerationItem, GenerationResult } from './types.js';

export type GpuChoice = 'auto' | 'cuda' | 'vulkan' | 'metal' | false;

export interface WorkerInit {
    modelPath: string;
    gpu: GpuChoice;
    threads: number;
    /** Parallel sequences in the context (batched generation); 'auto': the backend's default (engine/models/sequences.ts). */
    sequences: number | 'auto';
    /** Tokens per sequence. */
    contextSize: number;
    lora?: string[];
}

/** A job's decode batches, and how many of them held another number of sequences than its lockstep step. */
export interface BatchStats {
    batches: number;
    outOfStep: number;
}

export type ToWorker =
    | ({ type: 'init' } & WorkerInit)
    | { type: 'lora'; lora: string[] }
    | {
          type: 'generate';
          job: number;
          /** The work: items × samples in question-id order, cut into groups of `sequences` decoded together. */
          items: GenerationItem[];
          decoding: Decoding;
          samples: number;
          fewShot: FewShotExample[];
          /** Per item, whether to answer it (absent: all); the others only complete their groups. */
          report?: boolean[];
      }
    | { type: 'cancel'; job: number }
    | { type: 'exit' };

export type FromWorker =
    | { type: 'ready'; info: { gpu: string | false; trainContextSize: number; contextSize: number; sequences: number; chatTemplate: boolean; llamaCpp: string; gpuDevices?: string[] } }
    | { type: 'lora-ready' }
    | { type: 'result'; job: number; result: GenerationResult }
    | { type: 'done'; job: number; stats?: BatchStats }
    | { type: 'error'; job?: number; message: string; stack?: string };
