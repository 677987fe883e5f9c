// Messages between the results view (extension host, client/results-view.ts) and its webview
// (client/webview/main.ts). Plain JSON.
import type { Step } from '../../language/plan-types.js';
import type { HypothesisMetrics, QuestionRecord, StepResult } from '../../engine/results-types.js';

export interface PlotEntry {
    id: string;
    title: string;
    /** A complete Vega-Lite 5 spec with inline data (from engine/report/plots.ts). */
    spec: Record<string, unknown>;
}

export interface RecordSet {
    /** Evaluate step id and seed index: one set per evaluate instance. */
    evaluation: string;
    seedIndex?: number;
    arms: string[];
    /** Rows of answers.jsonl (one per question and arm). */
    rows: (QuestionRecord & { arm: string })[];
    /** Rows left out to keep the view responsive. */
    truncated: number;
}

export interface StepRow {
    step: string;
    /** The name people read (unnamed steps by their text); `step` is the id. */
    title?: string;
    kind: Step['kind'];
    line: number;
    status: string;
    seconds: number;
    /** The same text as the after-line annotation (annotate()). */
    summary: string;
    stale: boolean;
    instances: number;
}

export interface ViewData {
    experiment: string;
    file: string;
    storeDir: string;
    steps: StepRow[];
    hypotheses: (HypothesisMetrics & { step: string; title?: string; stale: boolean })[];
    plots: PlotEntry[];
    plotError?: string;
    records: RecordSet[];
    /** Why there is nothing to show, if there is nothing. */
    empty?: string;
}

export type ToWebview = { type: 'data'; data: ViewData };
export type FromWebview = { type: 'ready' } | { type: 'reveal'; step: string } | { type: 'rendered'; plots: number; errors: string[] };
export type { StepResult };
