// The one custom request between the extension and the language server: the Plan of an open
// document as the server sees it (unsaved edits included), so the client never parses the spec.
// Pure types and names: imported by both sides (server/plan-request.ts and the client).
import type { Plan } from '../language/plan-types.js';

export const PLAN_REQUEST = 'mismatch/plan';

export interface PlanParams {
    uri: string;
}

export interface PlanResponse {
    /** Absent when the document has errors (or is not a spec). */
    plan?: Plan;
    /** Number of error diagnostics in the document (and its imports). */
    errors: number;
    /** Version of the document the plan was built from. */
    version?: number;
}
