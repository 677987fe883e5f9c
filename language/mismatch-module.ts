/**
 * Dependency injection for the Mismatch language (the layout of Langium's domainmodel example):
 * the generated services, plus our scoping, linking messages, validation and the services that
 * language-ide adds in `language/lsp/` (completion, hover, formatter, ...).
 */
import { inject, type Module } from 'langium';
import { createDefaultModule, createDefaultSharedModule, type DefaultSharedModuleContext, type LangiumServices, type LangiumSharedServices, type PartialLangiumServices } from 'langium/lsp';
import { MismatchGeneratedModule, MismatchGeneratedSharedModule } from './generated/module.js';
import { MismatchScopeComputation, MismatchScopeProvider } from './scope.js';
import { MismatchLinker } from './linking.js';
import { MismatchDocumentValidator } from './validation/document-validator.js';
import { MismatchValidationRegistry } from './validation/registry.js';
import { registerValidationChecks, MismatchValidator } from './validation/index.js';
import { FileInfoCache } from './validation/file-info.js';
import { registerImportLoader } from './workspace.js';
import { MismatchParserErrorMessageProvider } from './syntax-messages.js';
import { PlanService } from './plan.js';
import { MismatchIdeModule, MismatchIdeSharedModule } from './lsp/index.js';

/** Services added to Langium's: shared by the validator, the plan builder and the IDE services. */
export type MismatchAddedServices = {
    validation: {
        MismatchValidator: MismatchValidator;
    };
    files: {
        /** Cached (by mtime) reads of dataset heads and GGUF metadata. */
        FileInfo: FileInfoCache;
    };
    plan: {
        /** Builds the Plan of a document: the language server's plan request and `loadPlan` both call it. */
        PlanService: PlanService;
    };
};

export type MismatchServices = LangiumServices & MismatchAddedServices;

export const MismatchModule: Module<MismatchServices, PartialLangiumServices & MismatchAddedServices> = {
    parser: {
        ParserErrorMessageProvider: () => new MismatchParserErrorMessageProvider(),
    },
    references: {
        ScopeComputation: (services) => new MismatchScopeComputation(services),
        ScopeProvider: (services) => new MismatchScopeProvider(services),
        Linker: (services) => new MismatchLinker(services),
    },
    validation: {
        MismatchValidator: (services) => new MismatchValidator(services),
        DocumentValidator: (services) => new MismatchDocumentValidator(services),
        ValidationRegistry: (services) => new MismatchValidationRegistry(services),
    },
    files: {
        FileInfo: () => new FileInfoCache(),
    },
    plan: {
        PlanService: (services) => new PlanService(services),
    },
};

export function createMismatchServices(context: DefaultSharedModuleContext): {
    shared: LangiumSharedServices;
    Mismatch: MismatchServices;
} {
    const shared = inject(createDefaultSharedModule(context), MismatchGeneratedSharedModule, MismatchIdeSharedModule);
    const Mismatch = inject(createDefaultModule({ shared }), MismatchGeneratedModule, MismatchModule, MismatchIdeModule);
    shared.ServiceRegistry.register(Mismatch);
    registerValidationChecks(Mismatch);
    registerImportLoader(Mismatch);
    if (!context.connection) {
        // Without a language server the configuration never arrives: mark it ready so that the
        // document builder does not wait for it (as Langium's domainmodel example does).
        void shared.workspace.ConfigurationProvider.initialized({});
    }
    return { shared, Mismatch };
}
