/**
 * The IDE services of the Mismatch language server, one file per service (as in Langium's
 * domainmodel example), injected by `createMismatchServices` in `../mismatch-module.ts`.
 */
import type { Module } from 'langium';
import type { LangiumSharedServices, PartialLangiumServices, PartialLangiumSharedServices } from 'langium/lsp';
import type { MismatchServices } from '../mismatch-module.js';
import { MismatchFormatter } from './mismatch-formatter.js';
import { MismatchSemanticTokenProvider } from './mismatch-semantic-tokens.js';
import { MismatchDocumentSymbolProvider, MismatchNodeKindProvider } from './mismatch-symbols.js';
import { MismatchCompletionProvider } from './mismatch-completion.js';
import { MismatchHoverProvider } from './mismatch-hover.js';
import { MismatchCodeActionProvider } from './mismatch-code-actions.js';
import { createSafeCompletionParser, createSafeParser } from './safe-parser.js';

export const MismatchIdeModule: Module<MismatchServices, PartialLangiumServices> = {
    parser: {
        // Langium's parser, surviving inputs that overflow chevrotain's error recovery (fuzz finding).
        LangiumParser: (services) => createSafeParser(services),
        CompletionParser: (services) => createSafeCompletionParser(services),
    },
    lsp: {
        CompletionProvider: (services) => new MismatchCompletionProvider(services as MismatchServices),
        HoverProvider: (services) => new MismatchHoverProvider(services as MismatchServices),
        Formatter: () => new MismatchFormatter(),
        DocumentSymbolProvider: (services) => new MismatchDocumentSymbolProvider(services),
        SemanticTokenProvider: (services) => new MismatchSemanticTokenProvider(services),
        CodeActionProvider: (services) => new MismatchCodeActionProvider(services as MismatchServices),
    },
};

export const MismatchIdeSharedModule: Module<LangiumSharedServices, PartialLangiumSharedServices> = {
    lsp: {
        NodeKindProvider: () => new MismatchNodeKindProvider(),
    },
};
