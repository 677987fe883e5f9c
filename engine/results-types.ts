/**
 * What the engine writes to the run store and hands to the CLI and the extension. The contract
 * between `engine/` (producer) and `cli/` and `client/` (consumers).
 * Pure data, JSON-serialisable: extend it, do not fork it.
 */
import type { StepKind } from '../language/plan-types.js';

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Outcomes {
    correct: number;
    wrong: number;
    abstained: number;
    /** Empty or unparseable answers: an outcome of their own, neither wrong nor abstained (absent in
     * results written before it existed). */
    empty?: number;
    total: number;
}

/** One question answered by one arm. */
export interface QuestionRecord {
    id: string;
    question: string;
    gold: string[];
    prediction: string;
    outcome: 'correct' | 'wrong' | 'abstained' | 'empty';
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
    /** correct / all questions. */
    accuracy?: number;
    /** correct / (correct + wrong): SimpleQA's accuracy given attempted (null when nothing was attempted). */
    accuracyGivenAttempted?: number | null;
    /** SimpleQA F-score: harmonic mean of accuracy and accuracy given attempted. */
    fScore?: number;
    /** Expected calibration error (10 equal-width bins of the answer's sequence probability, attempted
     * answers only); null without log-probabilities. */
    ece?: number | null;
    /** Outcomes per cell of the teacher x student knowledge grid, where both knowledges are known. */
    grid?: KnowledgeGrid;
}

/** Which of two models knows each question, and one arm's outcomes per cell. */
export interface KnowledgeGrid {
    teacher: string;
    student: string;
    /** 'taught': ground truth of the embedded world; 'slick': SliCK categories (known = not Unknown). */
    source: 'taught' | 'slick';
    cells: Record<'both' | 'teacherOnly' | 'studentOnly' | 'neither', Outcomes>;
    /** Questions left out because one of the two knowledges does not cover them. */
    uncategorised: number;
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
    /** Loss per optimizer step (`epoch` fractional), from the embedded trainer; absent in older results and for external trainers. */
    stepCurve?: { step: number; epoch: number; train: number }[];
    /** How well the fine-tune fitted its own training examples (absent in results made before it existed). */
    fit?: TrainingFit;
    /** How fast it fitted them: the training accuracy after every epoch (embedded trainer only; absent in
     * results made before it existed and for external trainers, which report no such measurement). */
    fitByEpoch?: EpochFitCurve;
}

/**
 * Training accuracy after each epoch (Gekhman et al. 2024, Fig. 1's x-axis): an example counts as fitted
 * when greedy decoding of its training prompt gives its training answer and then stops, measured by the
 * trainer teacher-forced on the training sequence (arg-max of the logits equals the target at every answer
 * token and the end token). Examples held out for validation are not counted.
 */
export interface EpochFitCurve {
    /** Format of this record; readers skip versions they do not know. */
    version: 1;
    /** Training examples measured per epoch (all fitted + not fitted). */
    examples: number;
    epochs: EpochFitPoint[];
}

export interface EpochFitPoint {
    epoch: number;
    /** optimizer steps done at the end of the epoch */
    step: number;
    all: EpochFitCounts;
    /** Examples whose SliCK category is not Unknown (when the labels come from a mix). */
    known?: EpochFitCounts;
    unknown?: EpochFitCounts;
}

export interface EpochFitCounts {
    total: number;
    fitted: number;
}

/** Greedy answers of the base and the fine-tuned model to the fine-tune's training questions, matched
 * against the taught label; split by the examples' SliCK category where the labels come from a mix. */
export interface TrainingFit {
    /** Examples checked (all of them, or a seeded sample of at most 256). */
    checked: number;
    examples: number;
    all: FitCounts;
    /** Examples whose category is not Unknown (HighlyKnown, MaybeKnown, WeaklyKnown). */
    known?: FitCounts;
    unknown?: FitCounts;
    /** Share of Unknown examples in the whole training set (mixes only). */
    unknownShare?: number;
}

export interface FitCounts {
    total: number;
    /** Fine-tuned model answers the taught label. */
    fitted: number;
    /** Base model answers it (before fine-tuning). */
    base: number;
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
    /** This replicate's own one-sided p (not adjusted for the family; the hypothesis' verdict does not
     * come from it when there are several replicates). */
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

/** The effect a hypothesis is about, shown before any p-value. */
export interface HypothesisEffect {
    /** Wrong-answer rate of A minus that of B (a share of the questions; at matched coverage when asked). */
    difference: number;
    /** 95% interval of `difference` (NaN bounds when there is nothing to vary). */
    ci95: [number, number];
    /** How the interval was made, e.g. "t interval over 5 replicates". */
    interval: string;
}

/** What a hypothesis' test saw: what was replicated, which test, how many independent units. */
export interface HypothesisDesign {
    /** Replicates of the comparison that were read (evaluation instances). */
    replicates: number;
    /** Replicates that could be compared (matched coverage can fail on one). */
    compared: number;
    /** Seeded stages a replicate redraws upstream of this comparison (world, split, pretrain, labels,
     * finetune, sampling); empty when nothing is redrawn. */
    redrawn: string[];
    /** Whether every compared replicate answered the same test questions. */
    sharedQuestions: boolean;
    /** The independent unit of the test: questions (a question-level test) or replicates. */
    unit: 'questions' | 'replicates';
    /** How many of those units the test saw. */
    units: number;
    /** Units whose difference is not zero (the only ones a sign test can use). */
    informative?: number;
    /** The test, in words: "exact McNemar", "exact sign-flip over questions", "paired t over replicates"... */
    test: string;
}

/** Holm's correction across the hypotheses of one experiment. */
export interface HypothesisFamily {
    method: 'holm';
    /** Hypotheses in the experiment (members not computed yet count with p = 1). */
    size: number;
    /** Members that have no p yet. */
    missing: number;
    pAdjusted: number;
    /** The verdict before the correction. */
    verdictUnadjusted: Verdict;
    /** Set when the family is too large for any verdict to reach α. */
    note?: string;
}

export interface HypothesisMetrics {
    name: string;
    /** From the family-adjusted p once `adjustFamily` ran (run summaries, CLI, editor, report);
     * from the raw p in a single step's stored result. */
    holds: boolean;
    verdict: Verdict;
    /** 'mcnemar' | 'sign-flip' | 'paired-t' (see `design.test` for the words). */
    test: string;
    /** Raw one-sided p of the test (NaN when there is none; `notes` says why). */
    p: number;
    discordant: { b: number; c: number };
    coverage: number | null;
    alpha: number;
    perSeed: HypothesisSeedResult[];
    /** Across replicates (independent draws): test on per-replicate differences. */
    acrossSeeds?: { test: 'paired-t' | 'sign-flip'; p: number; meanDifference: number; n: number; signFlipP?: number };
    effect?: HypothesisEffect;
    design?: HypothesisDesign;
    /** Smallest p the test could have given with these units. */
    minAchievableP?: number;
    /** Plain statements the verdict must carry (too few units, replicates that could not be compared,
     * arms that did not answer the same questions, a family no verdict can survive...). */
    notes?: string[];
    family?: HypothesisFamily;
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
    /** Where it was computed (backend, GPU, threads, library versions), from the entry's manifest. */
    provenance?: Provenance;
}

/** Where a result was computed: enough to tell results of different machines or libraries apart. */
export interface Provenance {
    /** The compute the step used: cpu, cuda, vulkan, metal; `none` for steps that run no model. */
    backend: string;
    /** GPU or device name(s), when a GPU was used. */
    gpu?: string;
    threads: number;
    /**
     * Parallel sequences the local models decoded in lockstep (the largest, when several models ran):
     * a batch rounds differently from one sequence, so results made with another count may differ
     * slightly. Absent when no local model generated.
     */
    sequences?: number;
    nodeLlamaCpp: string;
    engineFormat: number;
    node: string;
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
