// Types of scripts/llama-cpp.mjs (plain JavaScript so that CI's shell can run it before anything is built).
export declare const LLAMA_CPP_CMAKE_FLAGS: string[];
/** The same at -O3 (`optimize`: benchmarks). */
export declare const LLAMA_CPP_CMAKE_FLAGS_OPTIMIZED: string[];
export declare function llamaCppBundle(root?: string): string;
export declare function llamaCppCommit(root?: string): string;
export declare function llamaCppCacheDir(root?: string): string;
export declare function missingBuildTools(): string | undefined;
export declare function builtLlamaCpp(target: string, root?: string, optimize?: boolean): string | undefined;
export interface LlamaCppBuildRecord {
    target: string;
    commit: string;
    flags: string[];
    jobs: number;
    configureSeconds: number;
    buildSeconds: number;
    totalSeconds: number;
    date: string;
}
export declare function llamaCppBuildRecord(target: string, root?: string, optimize?: boolean): LlamaCppBuildRecord | undefined;
export declare function buildLlamaCpp<T extends string>(
    targets: T[],
    options?: { root?: string; log?: (line: string) => void; waitSeconds?: number; jobs?: number; optimize?: boolean },
): Promise<Record<T, string>>;
