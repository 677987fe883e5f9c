#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and this project installed (`npm install`): nothing
# in the build or the tests needs a GPU, so this is run by hand wherever one is at hand.
#   1. the deep, quantized LoRA cases of test/train/depth-quant.test.ts (32 layers, Q8_0 / Q4_K
#      bases held in their own type), trained on CUDA instead of the CPU;
#   2. LoRA (rank 8, all 7 matrices) on a Llama-3.2-1B-shaped GGUF (16 × 2048, 128,256-token BPE
#      vocabulary) in F16, Q8_0 and Q4_K: tokens/s and peak RSS on the CPU and on CUDA, side by side
#      in one run.
#   bash bench/gpu.sh [threads=every core but one, at most 8] [layers=16] [width=2048]
# CUDA's OUT_PROD takes F32 only: on a GPU the trainer widens the frozen matrices to F32 at load, so
# the GPU rows use more device memory than the file's size (the printed JSON says which device ran).
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=${MISMATCH_GPU:-cuda}
THREADS=${1:-$(node -e 'console.log(Math.max(1, Math.min(8, require("os").cpus().length - 1)))')}
LAYERS=${2:-16}
WIDTH=${3:-2048}

if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
else
    echo "no nvidia-smi: this check needs an NVIDIA GPU (MISMATCH_GPU=vulkan for Vulkan)" >&2
    [ "$GPU" = vulkan ] || exit 1
fi

echo "== 1. deep quantized LoRA tests on $GPU"
MISMATCH_TEST_GPU=$GPU npx vitest run test/train/depth-quant.test.ts

echo "== 2. LoRA on a Llama-3.2-1B shape ($LAYERS × $WIDTH), CPU ($THREADS threads) vs $GPU"
out=node_modules/.cache/mismatch-lab/bench-gpu
mkdir -p "$out"
# the trainer's child next to the bundle, where the parent looks for it
for entry in engine/train/child.ts:train-child test/train/measure-memory.ts:measure-memory; do
npx esbuild "${entry%%:*}" --bundle --platform=node --target=node20 --format=esm \
    --external:node-llama-cpp --external:'@node-llama-cpp/*' --external:koffi --external:esbuild \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
    --outfile="$out/${entry##*:}.js" --log-level=warning
done
for type in f16 q8_0 q4_k; do
    for dev in off "$GPU"; do
        MISMATCH_GPU=$dev node "$out/measure-memory.js" "$type" lora "$LAYERS" "$WIDTH" "$THREADS" 8 | tail -1 | tee -a "$out/results.jsonl"
    done
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").slice(-6).map((l) => JSON.parse(l));
for (let i = 0; i < rows.length; i += 2) {
  const [cpu, gpu] = [rows[i], rows[i + 1]];
  console.log(`${cpu.type}: CPU ${cpu.tokensPerSecond} tokens/s, peak RSS ${cpu.peakRss}; ${gpu.device}: ${gpu.tokensPerSecond} tokens/s (${(gpu.tokensPerSecond / cpu.tokensPerSecond).toFixed(1)}x), peak RSS ${gpu.peakRss}`);
}' "$out/results.jsonl"

echo "== 3. batched generation on $GPU: the default sequence count, and answers/s with 1, 4 and 8 sequences"
# The engine picks 8 sequences on a GPU backend (engine/models/sequences.ts): the batching tests with
# the GPU branch of the default check, then the speed-up on a Llama-3.2-1B-shaped F16 GGUF (random
# weights, written once under node_modules/.cache), side by side in one run, with its repeat check.
MISMATCH_TEST_GPU=$GPU npx vitest run test/engine/batching.test.ts
node bench/embedded/run-ts.mjs bench/generate/sequences.ts model=1b gpu="$GPU" threads="$THREADS" questions=128 maxTokens=32 rounds=2 sequences=1,4,8,16
