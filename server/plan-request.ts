// The `mismatch/plan` request (language/protocol.ts): the Plan of an open document as the server
// has it (unsaved edits included), built once the document is validated by the language's
// PlanService, the same that builds the CLI's plans (language/load.ts). The
// extension uses it for CodeLens, annotations and runs, so it never parses the spec itself.
import { DocumentState, URI, type LangiumSharedCoreServices } from 'langium';
import type { Connection } from 'vscode-languageserver';
import type { MismatchServices } from '../language/mismatch-module.js';
import { PlanRequest, type PlanResponse } from '../language/protocol.js';

export function registerPlanRequest(connection: Connection, shared: LangiumSharedCoreServices): void {
    connection.onRequest(PlanRequest, async (params, token): Promise<PlanResponse> => {
        const uri = URI.parse(params.uri);
        const documents = shared.workspace.LangiumDocuments;
        // Wait for the current build of this document (the editor's latest edit) to be validated.
        await shared.workspace.DocumentBuilder.waitUntil(DocumentState.Validated, uri, token).catch(() => undefined);
        const doc = documents.hasDocument(uri) ? documents.getDocument(uri) : await documents.getOrCreateDocument(uri).catch(() => undefined);
        if (!doc) return { errors: 0 };
        if (doc.state < DocumentState.Validated) {
            await shared.workspace.DocumentBuilder.build([doc], { validation: true }, token);
        }
        const errors = (doc.diagnostics ?? []).filter((d) => d.severity === 1).length;
        if (errors > 0) return { errors, version: doc.textDocument.version };
        try {
            const services = shared.ServiceRegistry.getServices(doc.uri) as MismatchServices;
            return { plan: services.plan.PlanService.buildPlan(doc), errors: 0, version: doc.textDocument.version };
        } catch (e) {
            connection.console.error(`mismatch/plan ${uri.fsPath}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
            return { errors: 0, version: doc.textDocument.version };
        }
    });
}
