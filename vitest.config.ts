import { defineConfig } from 'vitest/config';

// Native work (ggml training, node-llama-cpp inference) is CPU-bound on a 2-core machine, and some
// suites bound their waits (no extension-host task over 50 ms, the real editor within its waits).
// Files therefore run one at a time: a training test in a parallel worker would take a core from a
// timed one. Each native test passes an explicit thread count. Speed goals live in bench/.
export default defineConfig({
    test: {
        include: ['test/**/*.test.ts', 'language/**/*.test.ts', 'engine/**/*.test.ts', 'cli/**/*.test.ts', 'client/**/*.test.ts'],
        exclude: ['node_modules', 'dist', 'bench/.cache', 'test/e2e/**/fixtures/**'],
        pool: 'forks',
        fileParallelism: false,
        testTimeout: 120_000,
        hookTimeout: 300_000,
    },
});
