// The one custom request between the extension and the language server: the Plan of an open
// document as the server sees it (unsaved edits included), so the client never parses the spec.
// A typed RequestType beside the language, imported by both sides (server/plan-request.ts and
// client/specs.ts): params and result types travel with the method name, no casts on either side.
import { RequestType } from 'vscode-languageserver-protocol';
import type { Plan } from './plan-types.js';

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

export const PlanRequest = new RequestType<PlanParams, PlanResponse, void>('mismatch/plan');
