import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The llama-server test waits for llama.cpp's build, which CI starts in the background after npm
// install (.ci/run): it runs last, so that the build overlaps the rest of the suite.
class BuildWaitersLast extends BaseSequencer {
    override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
        const sorted = await super.sort(files);
        const last = (f: TestSpecification) => f.moduleId.replaceAll('\\', '/').endsWith('test/scaleout/llama-server.test.ts');
        return [...sorted.filter((f) => !last(f)), ...sorted.filter(last)];
    }
}

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
        sequence: { sequencer: BuildWaitersLast },
    },
});
