// The `mismatch/plan` request (language/protocol.ts): the Plan of an open document as the server
// has it (unsaved edits included), built once the document is validated by the language's
// PlanService, the same that builds the CLI's plans (language/load.ts). The
// extension uses it for CodeLens, annotations and runs, so it never parses the spec itself.
import { DocumentState, URI, type LangiumDocument, type LangiumSharedCoreServices } from 'langium';
import type { Connection } from 'vscode-languageserver';
import type { MismatchServices } from '../language/mismatch-module.js';
import { PlanRequest, type PlanResponse } from '../language/protocol.js';

export function registerPlanRequest(connection: Connection, shared: LangiumSharedCoreServices): void {
    const { WorkspaceManager, WorkspaceLock, LangiumDocuments: documents, DocumentBuilder } = shared.workspace;
    connection.onRequest(PlanRequest, async (params, token): Promise<PlanResponse> => {
        const uri = URI.parse(params.uri);
        // Documents are created and built only by the workspace's own writers (its start-up, then each
        // edit's update), or here under the read lock, which runs once every queued edit is built.
        // Creating the document here while the workspace loaded the same file made one of the two fail
        // ("a document with the URI … is already present"); when it was the workspace's start-up, its
        // `ready` never resolved, and no edit reached the server again.
        await WorkspaceManager.ready;
        const doc: LangiumDocument | undefined = await WorkspaceLock.read(async () => {
            // a spec the workspace does not hold (outside its folders): read from disk, built here
            const d = documents.getDocument(uri) ?? (await documents.getOrCreateDocument(uri).catch(() => undefined));
            if (d && d.state < DocumentState.Validated) await DocumentBuilder.build([d], { validation: true }, token);
            return d;
        });
        // undefined: the file cannot be read, or the request was cancelled during the build
        if (!doc || doc.state < DocumentState.Validated) return { errors: 0 };
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
