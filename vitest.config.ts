import { defineConfig } from 'vitest/config';

// Native work (ggml training, node-llama-cpp inference) is CPU-bound on a 2-core machine: test files
// run in at most two forked workers, and each native test passes an explicit thread count.
export default defineConfig({
    test: {
        include: ['test/**/*.test.ts', 'language/**/*.test.ts', 'engine/**/*.test.ts', 'cli/**/*.test.ts', 'client/**/*.test.ts'],
        exclude: ['node_modules', 'dist', 'bench/.cache', 'test/e2e/**/fixtures/**'],
        pool: 'forks',
        maxWorkers: 2,
        testTimeout: 120_000,
        hookTimeout: 300_000,
    },
});
