/**
 * Langium's parsers, made safe against pathological input (found by the fuzz test of bad
 * input). Chevrotain's in-repetition error recovery (`attemptInRepetitionRecovery`) recurses once
 * per recovery inside one repetition, so a file with thousands of consecutive errors (e.g.
 * `world w { world w { …` repeated, or binary junk) took seconds and then overflowed the stack; in
 * the language server the RangeError escaped the document build and killed the process.
 *
 * 1. Recovery is bounded: past MAX_NESTED_RECOVERIES nested attempts in-repetition recovery is not
 *    tried (chevrotain's own no-op; rule-level re-sync takes over), and after MAX_RECOVERED_ERRORS
 *    syntax errors recovery stops, so the parse ends there (each recovery scans ahead, so thousands
 *    of them took tens of seconds). Ordinary files never come near either bound and parse exactly
 *    as before.
 * 2. Should a RangeError still escape, the document is parsed again with error recovery off, which
 *    stops at the first error and so still reports a located syntax error (its message says why
 *    the rest was not checked); the parser's state is reset so that the next parse starts clean.
 * Both are done on Langium's parser objects (no fork), for the main and the completion parser.
 */
import { createCompletionParser, createLangiumParser, type LangiumCompletionParser, type LangiumCoreServices, type LangiumParser, type ParseResult } from 'langium';

export const MAX_NESTED_RECOVERIES = 64;
/**
 * Past this many syntax errors the parser stops recovering: the rest of the file is not checked
 * (each recovery costs milliseconds; a file this broken needs its first errors fixed anyway).
 * The completion parser needs to reach the cursor, not to report errors: a lower bound.
 */
export const MAX_RECOVERED_ERRORS = 20;
export const MAX_RECOVERED_ERRORS_COMPLETION = 10;

type Fn = (this: unknown, ...args: unknown[]) => unknown;
interface Wrapper {
    attemptInRepetitionRecovery: Fn;
    SAVE_ERROR: Fn;
    recoveryEnabled: boolean;
    _errors: unknown[];
}

/**
 * Bounds chevrotain's error recovery on one parser: nested in-repetition recoveries are capped, and
 * after MAX_RECOVERED_ERRORS errors recovery is switched off for the rest of that parse (chevrotain
 * reads `recoveryEnabled` at each error; the entry rule then ends the parse with what it has).
 * Returns a function that re-arms recovery before each parse.
 */
function boundRecovery(parser: LangiumParser | LangiumCompletionParser, maxErrors: number): () => void {
    const wrapper = (parser as unknown as { wrapper: Wrapper }).wrapper;
    const initiallyEnabled = wrapper.recoveryEnabled;
    const attempt = wrapper.attemptInRepetitionRecovery;
    const saveError = wrapper.SAVE_ERROR;
    let depth = 0;
    wrapper.attemptInRepetitionRecovery = function (this: unknown, ...args: unknown[]) {
        if (depth >= MAX_NESTED_RECOVERIES || !wrapper.recoveryEnabled) return;
        depth++;
        try {
            return attempt.apply(this, args);
        } finally {
            depth--;
        }
    };
    wrapper.SAVE_ERROR = function (this: unknown, ...args: unknown[]) {
        const saved = saveError.apply(this, args);
        if (wrapper.recoveryEnabled && wrapper._errors.length >= maxErrors) {
            wrapper.recoveryEnabled = false;
            const error = args[0] as { message?: string } | undefined;
            if (error && typeof error.message === 'string') error.message += ` (${maxErrors} syntax errors: the rest of the file is not checked until these are fixed)`;
        }
        return saved;
    };
    return () => {
        depth = 0;
        wrapper.recoveryEnabled = initiallyEnabled;
    };
}

export function createSafeCompletionParser(services: LangiumCoreServices): LangiumCompletionParser {
    const parser = createCompletionParser(services);
    const rearm = boundRecovery(parser, MAX_RECOVERED_ERRORS_COMPLETION);
    const parse = parser.parse.bind(parser);
    parser.parse = (input: string) => {
        rearm();
        return parse(input);
    };
    return parser;
}

interface ParserInternals {
    stack: unknown[];
    unorderedGroups: Map<string, boolean[]>;
    lexerResult?: unknown;
}

function reset(parser: LangiumParser): void {
    const p = parser as unknown as ParserInternals;
    p.stack.length = 0;
    p.unorderedGroups.clear();
    p.lexerResult = undefined;
}

/** A services view whose parser config has error recovery off (the DI container is read-only). */
function withoutRecovery(services: LangiumCoreServices): LangiumCoreServices {
    const parser = Object.create(services.parser, {
        ParserConfig: { value: { ...(services.parser.ParserConfig ?? {}), recoveryEnabled: false } },
    });
    return Object.create(services, { parser: { value: parser } }) as LangiumCoreServices;
}

export const TOO_BROKEN = 'This file has too many syntax errors in a row to check the rest: fix this one first.';

/**
 * Langium's CST builder adds a run of hidden tokens (comments) with `push(...nodes)` /
 * `unshift(...nodes)`: one call argument per comment, so a file of ~100k comment lines overflowed
 * the stack ("Maximum call stack size exceeded"). Long runs are handed over in slices.
 */
const HIDDEN_SLICE = 4096;
function sliceHiddenNodes(parser: LangiumParser): void {
    const builder = (parser as unknown as { nodeBuilder?: { addHiddenNodes(tokens: unknown[]): void } }).nodeBuilder;
    if (!builder || typeof builder.addHiddenNodes !== 'function') return;
    const add = builder.addHiddenNodes.bind(builder);
    builder.addHiddenNodes = (tokens: unknown[]) => {
        if (tokens.length <= HIDDEN_SLICE) return add(tokens);
        const slices: unknown[][] = [];
        for (let i = 0; i < tokens.length; i += HIDDEN_SLICE) slices.push(tokens.slice(i, i + HIDDEN_SLICE));
        // After the first slice the builder's position is right after it (push, or splice before
        // the node that follows), so slices in order keep file order (the test checks the leaves).
        for (const slice of slices) add(slice);
    };
}

export function createSafeParser(services: LangiumCoreServices): LangiumParser {
    const parser = createLangiumParser(services);
    sliceHiddenNodes(parser);
    const rearm = boundRecovery(parser, MAX_RECOVERED_ERRORS);
    let strict: LangiumParser | undefined;
    const parse = parser.parse.bind(parser);
    parser.parse = (<T>(input: string, options?: Parameters<LangiumParser['parse']>[1]): ParseResult<T> => {
        rearm();
        try {
            return parse(input, options) as ParseResult<T>;
        } catch (e) {
            if (!(e instanceof RangeError)) throw e;
            reset(parser);
            if (!strict) {
                strict = createLangiumParser(withoutRecovery(services));
                sliceHiddenNodes(strict);
            }
            try {
                const result = strict.parse(input, options) as ParseResult<T>;
                const first = result.parserErrors[0];
                if (first) first.message = `${first.message} ${TOO_BROKEN}`;
                return result;
            } catch (e2) {
                reset(strict);
                throw e2;
            }
        }
    }) as LangiumParser['parse'];
    return parser;
}
