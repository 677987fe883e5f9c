/**
 * What the hover shows about a model. GGUF: architecture, parameter count, quantization, context
 * length, read from the file's header with node-llama-cpp's `readGgufFileInfo` (never the weights;
 * node-llama-cpp is imported lazily so that a server that never hovers a GGUF never loads it).
 * Pretrained tiny models: an estimate from layers and width.
 */
import { stat } from 'node:fs/promises';

export interface GgufFacts {
    architecture?: string;
    name?: string;
    parameters?: number;
    quantization?: string;
    contextLength?: number;
    layers?: number;
    width?: number;
    error?: string;
}

const cache = new Map<string, { key: string; facts: Promise<GgufFacts> }>();

export async function readGgufFacts(file: string): Promise<GgufFacts> {
    let key: string;
    try {
        const s = await stat(file);
        if (!s.isFile()) return { error: `${file} is not a file` };
        key = `${s.size}:${s.mtimeMs}`;
    } catch (e) {
        return { error: (e as Error).message };
    }
    const cached = cache.get(file);
    if (cached && cached.key === key) return cached.facts;
    const facts = readUncached(file);
    cache.set(file, { key, facts });
    return facts;
}

async function readUncached(file: string): Promise<GgufFacts> {
    try {
        const { readGgufFileInfo, GgufFileType } = await import('node-llama-cpp');
        const info = await readGgufFileInfo(file, {
            readTensorInfo: true,
            logWarnings: false,
            sourceType: 'filesystem',
            // The vocabulary is the bulk of the metadata and is not shown.
            ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'],
        });
        const general = info.metadata?.general as Record<string, unknown> | undefined;
        const arch = info.architectureMetadata as Record<string, unknown> | undefined;
        let parameters = 0;
        for (const t of info.fullTensorInfo ?? info.tensorInfo ?? []) {
            parameters += t.dimensions.reduce<number>((a, d) => a * Number(d), 1);
        }
        const fileType = general?.file_type;
        return {
            architecture: typeof general?.architecture === 'string' ? general.architecture : undefined,
            name: typeof general?.name === 'string' ? general.name : undefined,
            parameters: parameters || undefined,
            quantization: typeof fileType === 'number' ? (GgufFileType[fileType] ?? `type ${fileType}`) : undefined,
            contextLength: typeof arch?.context_length === 'number' ? arch.context_length : undefined,
            layers: typeof arch?.block_count === 'number' ? arch.block_count : undefined,
            width: typeof arch?.embedding_length === 'number' ? arch.embedding_length : undefined,
        };
    } catch (e) {
        return { error: `not a readable GGUF file: ${(e as Error).message}` };
    }
}

/** 1234567 → "1.23 M". */
export function humanCount(n: number): string {
    if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
    if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
    if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
    return String(n);
}

/**
 * Parameters of a llama-style decoder without embeddings: per layer 4·d² (attention) + 3·d·f
 * (SwiGLU MLP, f ≈ 8/3·d rounded up to a multiple of 32) + 2·d (norms).
 */
export function estimateLlamaParameters(layers: number, width: number, vocabulary?: number): { blocks: number; embeddings?: number } {
    const ff = Math.ceil((8 * width) / 3 / 32) * 32;
    const blocks = layers * (4 * width * width + 3 * width * ff + 2 * width);
    return { blocks, embeddings: vocabulary ? 2 * vocabulary * width : undefined };
}
