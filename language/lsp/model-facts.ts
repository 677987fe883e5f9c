/**
 * Numbers for the model hover. GGUF metadata itself comes from the validator's cached
 * `FileInfoCache.gguf` (node-llama-cpp's `readGgufFileInfo`, header only); pretrained tiny models
 * get an estimate from layers and width.
 */
/** 1234567 → "1.23 M". */
export function humanCount(n: number): string {
    if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
    if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
    if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
    return String(n);
}

/**
 * Parameters of a llama-style decoder without embeddings: per layer 4·d² (attention) + 3·d·f
 * (SwiGLU MLP, f = 8/3·d rounded to a multiple of 32, as engine/models/pretrain.ts sizes it) + 2·d (norms).
 */
export function estimateLlamaParameters(layers: number, width: number, vocabulary?: number): { blocks: number; embeddings?: number } {
    const ff = Math.max(32, Math.round((8 * width) / 3 / 32) * 32);
    const blocks = layers * (4 * width * width + 3 * width * ff + 2 * width);
    return { blocks, embeddings: vocabulary ? 2 * vocabulary * width : undefined };
}
