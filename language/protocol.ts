// The custom messages between the extension and the language server: the Plan of an open document
// as the server sees it (unsaved edits included), so the client never parses the spec, and the
// workspace becoming trusted. Typed RequestType/NotificationType beside the language, imported by
// both sides (server/, client/): params and result types travel with the method name, no casts.
import { NotificationType, RequestType } from 'vscode-languageserver-protocol';
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

export interface TrustParams {
    /** Whether the workspace is trusted now: paths leaving it are errors while it is not. */
    trusted: boolean;
}

/** The client tells the server the workspace was trusted after start (initializationOptions carry the state at start). */
export const TrustNotification = new NotificationType<TrustParams>('mismatch/trust');
