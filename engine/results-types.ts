/**
 * What the engine writes to the run store and hands to the CLI and the extension. The contract
 * between `engine/` (producer) and `cli/`, `client/` and `language/annotate.ts` (consumers).
 * Pure data, JSON-serialisable. The engine owns this file; extend it, do not fork it.
 */
import type { StepKind } from '../language/plan-types.js';

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Outcomes {
    correct: number;
    wrong: number;
    abstained: number;
    total: number;
}

/** One question answered by one arm. */
export interface QuestionRecord {
    id: string;
    question: string;
    gold: string[];
    prediction: string;
    outcome: 'correct' | 'wrong' | 'abstained';
    /** Sum of the answer tokens' log-probabilities (null when the model cannot give them). */
    logprob: number | null;
    /** Mean token log-probability; the confidence used for risk-coverage. */
    confidence: number | null;
    /** Knowledge category of the question for the evaluated model, where known. */
    knowledge?: string;
}

export interface RiskCoveragePoint {
    coverage: number;
    risk: number;
}

export interface ArmMetrics extends Outcomes {
    arm: string;
    wrongRate: number;
    wrongAnsweredRate: number;
    /** Area under the risk-coverage curve (null without confidences). */
    aurc: number | null;
    riskCoverage: RiskCoveragePoint[];
    /** outcome x knowledge category. */
    byKnowledge: Record<string, Outcomes>;
}

export interface EvaluateMetrics {
    arms: ArmMetrics[];
}

export interface FinetuneMetrics {
    lossStart: number;
    lossEnd: number;
    epochs: number;
    steps: number;
    trainSeconds: number;
    tokensPerSecond: number;
    /** Per-epoch train (and validation) loss. */
    curve: { epoch: number; step: number; train: number; validation?: number }[];
}

export interface LabelMetrics {
    total: number;
    kept: number;
    replaced: number;
}

export interface KnowledgeCheck {
    /** Share of the facts it was taught that it answers correctly (greedy). */
    taughtAccuracy: number;
    /** Share of the facts it was not taught that it answers correctly. */
    untaughtAccuracy: number;
    /** Chance level of a guess. */
    chance: number;
    /** Mean top-answer probability on taught vs untaught facts. */
    confidenceTaught: number;
    confidenceUntaught: number;
    taught: number;
    untaught: number;
    warnings: string[];
}

export interface HypothesisSeedResult {
    /** Seed index (0-based). */
    seed: number;
    holds: boolean;
    verdict: Verdict;
    test: 'mcnemar';
    p: number;
    /** b: a wrong & b not wrong; c: a not wrong & b wrong. */
    discordant: { b: number; c: number };
    /** null for a raw comparison; the matched share of questions answered otherwise. */
    coverage: number | null;
    wrongRateA: number;
    wrongRateB: number;
    /** Bootstrap 95% CI of wrongRateA - wrongRateB. */
    ci95: [number, number];
}

export type Verdict = 'holds' | 'does not hold' | 'inconclusive';

export interface HypothesisMetrics {
    name: string;
    holds: boolean;
    verdict: Verdict;
    test: string;
    p: number;
    discordant: { b: number; c: number };
    coverage: number | null;
    alpha: number;
    perSeed: HypothesisSeedResult[];
    /** Across seeds (seeds > 1): paired test on per-seed differences. */
    acrossSeeds?: { test: 'paired-t' | 'wilcoxon'; p: number; meanDifference: number; n: number };
}

export interface StepResult {
    step: string;
    kind: StepKind;
    key: string;
    status: StepStatus;
    cached: boolean;
    seconds: number;
    /** Seed index for per-seed instances (0-based), absent for seed-independent steps. */
    seedIndex?: number;
    metrics?: EvaluateMetrics | FinetuneMetrics | LabelMetrics | KnowledgeCheck | HypothesisMetrics | Record<string, unknown>;
    error?: { message: string; detail?: string };
    /** ISO time the result was computed. */
    finishedAt?: string;
    /** Set by `readResults` when this is the latest result of the step but the spec (or a file it
     * reads) changed since: the step's current key differs. */
    stale?: boolean;
    /** Store directory of the entry (absolute), when it is in the store. */
    dir?: string;
    /** Output files in `dir` (e.g. answers.jsonl, adapter.gguf, loss.csv). */
    outputs?: string[];
    /** Warnings raised while computing (duplicates dropped, knowledge check below target...). */
    warnings?: string[];
}

/** Outcome counts of one arm in one evaluate step (per seed with `seeds N`). */
export interface EvaluationSummary extends Outcomes {
    arm: string;
    evaluation: string;
    seedIndex?: number;
}

/** What `runExperiment` returns (and `mismatch run --json` prints, in a reduced shape). */
export interface RunSummary {
    experiment: string;
    file: string;
    storeDir: string;
    status: 'done' | 'failed' | 'cancelled';
    seconds: number;
    /** Every step instance that was part of the run, in execution order. */
    steps: StepResult[];
    evaluations: EvaluationSummary[];
    hypotheses: (HypothesisMetrics & { step: string })[];
    error?: { message: string; detail?: string };
}
