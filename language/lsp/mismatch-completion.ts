/**
 * Completion, on Langium's DefaultCompletionProvider (keywords in context and cross-references
 * come from it: the scope provider gives only declarations of the referenced type that the document
 * can see, and only the splits of the dataset before the dot after `trivia.`). Added here, because
 * no grammar-driven provider can know them:
 * - property keys inside `{ … }`, from the validator's property table, with their documentation,
 *   leaving out keys already set;
 * - property values that are names from a fixed set (`template chat`);
 * - file paths relative to the spec after `gguf`, `from` and `import` (inside the quotes too);
 * - dataset field paths (`answer.aliases`) read from the first records of the dataset's file,
 *   inside the quotes of a field-mapping property (`question "…"`).
 * Soft keywords that the grammar allows as names or keys (`gguf`, `more`, `model` …) are not
 * offered where a name or a key is expected.
 */
import { dirname, join, relative, resolve, sep } from 'node:path';
import { readdir } from 'node:fs/promises';
import {
    AstUtils,
    CstUtils,
    GrammarAST,
    isCompositeCstNode,
    TextDocument,
    type AstNode,
    type AstNodeDescription,
    type LangiumDocument,
    type MaybePromise,
    type ReferenceInfo,
    type Stream,
} from 'langium';
import {
    DefaultCompletionProvider,
    type CompletionAcceptor,
    type CompletionBacktrackingInformation,
    type CompletionContext,
    type CompletionProviderOptions,
    type CompletionValueItem,
    type NextFeature,
} from 'langium/lsp';
import { CompletionItemKind, CompletionList, type CompletionItem, type CompletionParams, type Position } from 'vscode-languageserver';
import type { CancellationToken } from 'vscode-languageserver';
import * as ast from '../generated/ast.js';
import type { MismatchServices } from '../mismatch-module.js';
import { kindWord } from '../naming.js';
import { describeStep } from './mismatch-symbols.js';
import { readDatasetFacts } from './dataset-facts.js';
import type { FileInfoCache } from '../validation/file-info.js';
import { KEYWORD_DOCS } from './keyword-docs.js';
import { blockKindOf, FIELD_KEYS, propertiesOf, type BlockKind, type PropertyDoc } from './property-docs.js';

/** Extensions offered after each path-taking keyword. */
const PATH_EXTENSIONS: Record<string, string[]> = {
    gguf: ['.gguf'],
    from: ['.jsonl', '.json', '.csv', '.tsv'],
    import: ['.mismatch'],
};
const MAX_PATH_ITEMS = 200;
/** Body keywords and the only blocks where they make sense. */
const BLOCK_KEYWORDS: Record<string, BlockKind[]> = {
    split: ['dataset-world', 'dataset-file'],
    lora: ['finetune'],
    full: ['finetune'],
};
const SKIP_DIRS = new Set(['node_modules', '.git', '.mismatch', 'dist']);

export class MismatchCompletionProvider extends DefaultCompletionProvider {
    override readonly completionOptions: CompletionProviderOptions = { triggerCharacters: ['.', '"', '/'] };

    protected readonly files: FileInfoCache;

    constructor(services: MismatchServices) {
        super(services);
        this.files = services.files.FileInfo;
    }

    override async getCompletion(document: LangiumDocument, params: CompletionParams, cancelToken?: CancellationToken): Promise<CompletionList | undefined> {
        const text = document.textDocument.getText();
        const offset = document.textDocument.offsetAt(params.position);
        // Inside a string literal (closed or not; an unclosed one is not even a token), what is
        // expected depends on the words before the quote: handled from the text, as the parser
        // cannot see a half-typed string.
        const inString = stringAt(text, offset);
        if (inString) {
            const items = await this.completeInString(document, text, inString, params.position);
            return CompletionList.create(items, true);
        }
        return super.getCompletion(document, params, cancelToken);
    }

    /**
     * Langium finds the grammar features at the cursor by parsing the document from its start to
     * the cursor, at every completion, so completion slowed down linearly with the file (80 ms at
     * the end of a 2,000-line spec). Statements inside an experiment (and at the top level) start
     * the parser in the same state whatever came before, so when the document parsed without
     * errors up to the statement at the cursor, only `experiment X {` plus that statement up to the
     * cursor is parsed: the same features, in time independent of the file's length.
     */
    protected override findFeaturesAt(textDocument: TextDocument, offset: number): NextFeature[] {
        const document = this.completingNow;
        const window = document && document.textDocument === textDocument ? statementWindow(document, offset) : undefined;
        if (!window) return super.findFeaturesAt(textDocument, offset);
        const text = textDocument.getText();
        const synthetic = window.header + text.slice(window.start, offset);
        return super.findFeaturesAt(TextDocument.create(textDocument.uri, textDocument.languageId, textDocument.version, synthetic), synthetic.length);
    }

    /** Langium lexes the whole document to find the tokens around the cursor; the statement is enough. */
    protected override backtrackToAnyToken(text: string, offset: number): CompletionBacktrackingInformation {
        const document = this.completingNow;
        const window = document && document.textDocument.getText() === text ? statementWindow(document, offset) : undefined;
        if (!window) return super.backtrackToAnyToken(text, offset);
        const lineEnd = text.indexOf('\n', offset);
        const end = lineEnd < 0 ? text.length : lineEnd;
        const r = super.backtrackToAnyToken(text.slice(window.start, end), offset - window.start);
        const shift = (n: number | undefined) => (n === undefined ? undefined : n + window.start);
        return {
            nextTokenStart: r.nextTokenStart + window.start,
            nextTokenEnd: r.nextTokenEnd + window.start,
            previousTokenStart: shift(r.previousTokenStart),
            previousTokenEnd: shift(r.previousTokenEnd),
        };
    }

    /** The document whose contexts are being built (Langium passes only its text further down). */
    protected completingNow: LangiumDocument | undefined;

    protected override buildContexts(document: LangiumDocument, position: Position): IterableIterator<CompletionContext> {
        // Computed eagerly (each context is cheap now), so that the document is known to
        // findFeaturesAt and backtrackToAnyToken, which are called from here.
        this.completingNow = document;
        try {
            return [...super.buildContexts(document, position)][Symbol.iterator]();
        } finally {
            this.completingNow = undefined;
        }
    }

    /** Property keys of the block the cursor is in, leaving out those already set. */
    protected completeProperties(context: CompletionContext, acceptor: CompletionAcceptor): void {
        const text = context.textDocument.getText();
        const block = blockAt(context.document, text, context.offset);
        if (!block) return;
        const present = new Set(ast.isExperiment(block.owner) ? block.owner.settings.map((s) => s.key) : (block.body?.items.filter(ast.isProperty).map((p) => p.key) ?? []));
        // the key being typed is not "already set"
        const typed = text.slice(context.tokenOffset, context.offset);
        for (const p of propertiesOf(block.kind)) {
            if (present.has(p.key) && p.key !== typed && !p.repeatable) continue;
            acceptor(context, propertyItem(p));
        }
    }

    /** Values of a property that takes one of a fixed set of names (`schedule cosine`, `logprobs true`). */
    protected completeValues(context: CompletionContext, acceptor: CompletionAcceptor): void {
        const text = context.textDocument.getText();
        const block = blockAt(context.document, text, context.offset);
        if (!block) return;
        const key = /([A-Za-z_]\w*)\s+(?:[\w"'.%-]+\s*,\s*)*$/.exec(text.slice(Math.max(0, context.tokenOffset - 200), context.tokenOffset))?.[1];
        const spec = key ? propertiesOf(block.kind).find((p) => p.key === key) : undefined;
        if (!spec) return;
        const values = spec.type === 'boolean' ? ['true', 'false'] : spec.type === 'enum' || spec.type === 'names' ? (spec.values ?? []) : [];
        for (const v of values) acceptor(context, { label: v, kind: CompletionItemKind.EnumMember, detail: `${spec.key} value`, sortText: '0' });
    }

    protected override completionFor(context: CompletionContext, next: NextFeature, acceptor: CompletionAcceptor): MaybePromise<void> {
        const rule = AstUtils.getContainerOfType(next.feature, GrammarAST.isParserRule);
        const assignment = AstUtils.getContainerOfType(next.feature, GrammarAST.isAssignment);
        // A property key (the grammar takes any name: the table says which keys a block has).
        // Soft keywords that are also keys are not offered as keywords.
        if (rule?.name === 'Key' || (rule?.name === 'Setting' && assignment?.feature === 'key')) {
            if (GrammarAST.isRuleCall(next.feature)) this.completeProperties(context, acceptor);
            return;
        }
        if (rule?.name === 'Name') {
            // A bare-name value (`schedule cosine`: the word before is a key of the block);
            // elsewhere a new name, nothing to suggest.
            if (GrammarAST.isRuleCall(next.feature)) this.completeValues(context, acceptor);
            return;
        }
        if (GrammarAST.isRuleCall(next.feature) && next.feature.rule.ref?.name === 'STRING') {
            if (assignment?.feature === 'path') return this.completePathsUnquoted(context, acceptor);
        }
        return super.completionFor(context, next, acceptor);
    }

    /** The scope gives declarations of the right type; a step cannot use itself. */
    protected override getReferenceCandidates(refInfo: ReferenceInfo, context: CompletionContext): Stream<AstNodeDescription> {
        const self = AstUtils.getContainerOfType(refInfo.container, ast.isDeclaration);
        const selfName = self?.name;
        const selfUri = context.document.uri.toString();
        return super.getReferenceCandidates(refInfo, context).filter((d) => !(selfName && d.name === selfName && d.documentUri.toString() === selfUri && d.type === self.$type));
    }

    /**
     * A reference item says what the candidate is (`model · pretrain on atlas`). Langium's default
     * looks up each candidate's doc comment, which walks the siblings of its CST node: with
     * hundreds of steps in one experiment that was most of the completion time. The comment is
     * shown by hover instead.
     */
    protected override createReferenceCompletionItem(nodeDescription: AstNodeDescription, refInfo: ReferenceInfo, context: CompletionContext): CompletionValueItem {
        const item = super.createReferenceCompletionItem(nodeDescription, refInfo, context);
        const node = nodeDescription.node;
        const what = describeStep(node ?? ({ $type: nodeDescription.type } as AstNode));
        return { ...item, detail: what ? `${kindWord(nodeDescription.type)} · ${what}` : kindWord(nodeDescription.type) };
    }

    protected override getReferenceDocumentation(): undefined {
        return undefined;
    }

    protected override completionForKeyword(context: CompletionContext, keyword: GrammarAST.Keyword, acceptor: CompletionAcceptor): MaybePromise<void> {
        if (!this.filterKeyword(context, keyword)) return;
        // Block items the grammar allows in every block but that mean something in one kind only.
        const only = BLOCK_KEYWORDS[keyword.value];
        if (only) {
            const block = blockAt(context.document, context.textDocument.getText(), context.offset);
            if (!block || !only.includes(block.kind)) return;
        }
        const doc = KEYWORD_DOCS[keyword.value];
        acceptor(context, {
            label: keyword.value,
            kind: this.getKeywordCompletionItemKind(keyword),
            detail: 'Keyword',
            documentation: doc ? { kind: 'markdown', value: doc } : undefined,
            sortText: '1',
        });
    }

    /** Paths offered right after `gguf `/`from `/`import ` without a quote yet: inserted quoted. */
    protected async completePathsUnquoted(context: CompletionContext, acceptor: CompletionAcceptor): Promise<void> {
        const before = context.textDocument.getText().slice(0, context.tokenOffset);
        const keyword = /(\w+)\s*$/.exec(before)?.[1] ?? '';
        const extensions = PATH_EXTENSIONS[keyword];
        if (!extensions) return;
        const base = specDir(context.document);
        if (!base) return;
        for (const file of await listFiles(base, extensions)) {
            acceptor(context, { label: `"${file}"`, kind: CompletionItemKind.File, detail: 'file', sortText: '0' });
        }
    }

    protected async completeInString(document: LangiumDocument, text: string, s: StringContext, position: Position): Promise<CompletionItem[]> {
        const before = text.slice(0, s.start);
        const keyword = /(\w+)\s*$/.exec(before)?.[1] ?? '';
        const typed = text.slice(s.start + 1, s.offset);
        if (PATH_EXTENSIONS[keyword]) return this.completePathInString(document, typed, PATH_EXTENSIONS[keyword], position);
        const block = blockAt(document, text, s.start);
        if (block?.kind === 'dataset-file' && FIELD_KEYS.has(keyword)) {
            const base = specDir(document);
            const file = datasetFileOf(block, text, s.start);
            if (!base || !file) return [];
            const head = readDatasetFacts(this.files, resolve(base, file));
            const range = { start: { line: position.line, character: position.character - typed.length }, end: position };
            return head.fields.map((f, i) => ({
                label: f.path,
                kind: CompletionItemKind.Field,
                detail: f.type,
                documentation: f.example ? { kind: 'markdown', value: `Field of \`${file}\`, e.g. \`${f.example}\`` } : undefined,
                sortText: String(i).padStart(4, '0'),
                textEdit: { range, newText: f.path },
            }));
        }
        return [];
    }

    protected async completePathInString(document: LangiumDocument, typed: string, extensions: string[], position: Position): Promise<CompletionItem[]> {
        const base = specDir(document);
        if (!base) return [];
        const slash = typed.lastIndexOf('/');
        const dirPart = slash >= 0 ? typed.slice(0, slash + 1) : '';
        const namePart = typed.slice(slash + 1);
        const dir = resolve(base, dirPart || '.');
        let entries: Array<{ name: string; isDir: boolean }> = [];
        try {
            entries = (await readdir(dir, { withFileTypes: true })).map((e) => ({ name: e.name, isDir: e.isDirectory() }));
        } catch {
            return [];
        }
        const range = { start: { line: position.line, character: position.character - namePart.length }, end: position };
        const items: CompletionItem[] = [];
        for (const e of entries.sort((a, b) => Number(b.isDir) - Number(a.isDir) || a.name.localeCompare(b.name))) {
            if (e.name.startsWith('.') && !namePart.startsWith('.')) continue;
            if (e.isDir && SKIP_DIRS.has(e.name)) continue;
            if (!e.isDir && !extensions.some((x) => e.name.toLowerCase().endsWith(x))) continue;
            items.push({
                label: e.isDir ? `${e.name}/` : e.name,
                kind: e.isDir ? CompletionItemKind.Folder : CompletionItemKind.File,
                textEdit: { range, newText: e.isDir ? `${e.name}/` : e.name },
                command: e.isDir ? { title: 'Suggest', command: 'editor.action.triggerSuggest' } : undefined,
            });
            if (items.length >= MAX_PATH_ITEMS) break;
        }
        return items;
    }
}

function propertyItem(p: PropertyDoc): CompletionValueItem {
    return {
        label: p.key,
        kind: CompletionItemKind.Property,
        detail: p.detail,
        documentation: { kind: 'markdown', value: p.doc },
        sortText: '0',
    };
}

/** Directory of the spec, for relative paths (`undefined` for non-file documents). */
function specDir(document: LangiumDocument): string | undefined {
    return document.uri.scheme === 'file' ? dirname(document.uri.fsPath) : undefined;
}

/** Files under `base` (depth ≤ 3) with one of `extensions`, as relative POSIX paths. */
async function listFiles(base: string, extensions: string[]): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
        if (out.length >= MAX_PATH_ITEMS || depth > 3) return;
        let entries;
        try {
            entries = await readdir(dir, { withFileTypes: true });
        } catch {
            return;
        }
        for (const e of entries) {
            if (e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
            const full = join(dir, e.name);
            if (e.isDirectory()) await walk(full, depth + 1);
            else if (extensions.some((x) => e.name.toLowerCase().endsWith(x))) out.push(relative(base, full).split(sep).join('/'));
            if (out.length >= MAX_PATH_ITEMS) return;
        }
    };
    await walk(base, 0);
    return out.sort();
}

export interface StringContext {
    /** Offset of the opening quote. */
    start: number;
    offset: number;
}

/** When `offset` is inside a string literal on its line (comments skipped), where the string starts. */
export function stringAt(text: string, offset: number): StringContext | undefined {
    const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    let quote: string | undefined;
    let start = -1;
    for (let i = lineStart; i < offset; i++) {
        const c = text[i];
        if (quote) {
            if (c === '\\') i++;
            else if (c === quote) quote = undefined;
        } else if (c === '"' || c === "'") {
            quote = c;
            start = i;
        } else if (c === '/' && text[i + 1] === '/') {
            return undefined;
        } else if (c === '/' && text[i + 1] === '*') {
            const end = text.indexOf('*/', i + 2);
            if (end < 0 || end + 2 > offset) return undefined;
            i = end + 1;
        }
    }
    return quote ? { start, offset } : undefined;
}

/**
 * Where completion may start parsing: the start of the statement at (or before) `offset`, and the
 * text that puts the parser in the state it has there (`experiment X {` for a statement of an
 * experiment, nothing at the top level). Undefined (parse from the start) when the document has a
 * syntax error before that statement or there is no statement before the offset.
 */
export function statementWindow(document: LangiumDocument, offset: number): { start: number; header: string } | undefined {
    const outline = statementOutline(document);
    const text = document.textDocument.getText();
    const experiment = outline.experiments.find((e) => e.open <= offset && (offset < e.end || !e.closed));
    const starts = experiment ? experiment.starts : outline.top;
    // the last statement that starts before the offset (binary search: starts are sorted)
    let lo = 0;
    let hi = starts.length - 1;
    let found = -1;
    while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid] < offset) {
            found = mid;
            lo = mid + 1;
        } else hi = mid - 1;
    }
    if (found < 0 || outline.firstError < starts[found]) return textWindow(text, offset);
    const start = starts[found];
    return { start, header: experiment ? text.slice(experiment.offset, experiment.open) + '\n' : '' };
}

interface StatementOutline {
    version: number;
    /** Offset of the first syntax error (Infinity when none; errors at the end of the file count as there). */
    firstError: number;
    /** Starts of the top-level statements, sorted. */
    top: number[];
    experiments: Array<{ offset: number; open: number; end: number; closed: boolean; starts: number[] }>;
}

const outlines = new WeakMap<LangiumDocument, StatementOutline>();

/** Statement starts of a document, computed once per version (CST offsets are not free). */
function statementOutline(document: LangiumDocument): StatementOutline {
    const version = document.textDocument.version;
    const cached = outlines.get(document);
    if (cached && cached.version === version) return cached;
    const root = document.parseResult.value as ast.MismatchFile;
    const text = document.textDocument.getText();
    let firstError = Infinity;
    for (const e of document.parseResult.lexerErrors) firstError = Math.min(firstError, e.offset);
    for (const e of document.parseResult.parserErrors) {
        const at = e.token.startOffset; // NaN for the end of the file: after every statement
        if (Number.isFinite(at)) firstError = Math.min(firstError, at);
    }
    const startsOf = (nodes: AstNode[]) =>
        nodes
            .map((n) => n.$cstNode?.offset)
            .filter((x): x is number => x !== undefined)
            .sort((a, b) => a - b);
    const experiments: StatementOutline['experiments'] = [];
    for (const e of root.experiments ?? []) {
        const cst = e.$cstNode;
        if (!cst || !isCompositeCstNode(cst)) continue;
        // the experiment's own `{` is among its first few tokens
        const open = cst.content.find((c) => !c.hidden && c.text === '{' && c.astNode === e);
        if (!open) continue;
        experiments.push({ offset: cst.offset, open: open.end, end: cst.end, closed: text[cst.end - 1] === '}', starts: startsOf([...e.settings, ...e.declarations]) });
    }
    const outline: StatementOutline = {
        version,
        firstError,
        top: startsOf([...(root.imports ?? []), ...(root.declarations ?? []), ...(root.experiments ?? [])]),
        experiments,
    };
    outlines.set(document, outline);
    return outline;
}

const STATEMENT_LINE = /^[ \t]*(import|experiment|world|dataset|model|decoding|label|knowledge|finetune|evaluate|hypothesis|seed|seeds|alpha)\b/;

/**
 * For a long document with syntax errors before the cursor (where the parser state there is not
 * known without parsing everything): the nearest line above that starts a statement, inside
 * `experiment _ {` when an experiment is open. Approximate, and only used past 20,000 characters,
 * where parsing the whole prefix at every completion would take too long.
 */
function textWindow(text: string, offset: number): { start: number; header: string } | undefined {
    if (offset < 20_000) return undefined;
    let lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    for (let i = 0; i < 200 && lineStart > 0; i++) {
        const line = text.slice(lineStart, text.indexOf('\n', lineStart) < 0 ? text.length : text.indexOf('\n', lineStart));
        const m = STATEMENT_LINE.exec(line);
        if (m && m[1] !== 'experiment') {
            const start = lineStart + line.indexOf(m[1]);
            const inExperiment = /(^|\n)[ \t]*experiment\b/.test(text.slice(Math.max(0, start - 200_000), start));
            return { start, header: inExperiment ? 'experiment _ {\n' : '' };
        }
        lineStart = text.lastIndexOf('\n', lineStart - 2) + 1;
    }
    return undefined;
}

export interface BlockContext {
    /** What the block belongs to (the property table's key). */
    kind: BlockKind;
    owner: AstNode | undefined;
    body: ast.Body | undefined;
}

/**
 * The `{ … }` block the offset is in and what it belongs to: from the AST where it parsed, else
 * from the text (an unclosed block at the end of a half-typed spec does not parse).
 */
export function blockAt(document: LangiumDocument, text: string, offset: number): BlockContext | undefined {
    const root = document.parseResult.value.$cstNode;
    const leaf = root ? CstUtils.findLeafNodeBeforeOffset(root, offset) : undefined;
    for (let node: AstNode | undefined = leaf?.astNode; node; node = node.$container) {
        const cst = node.$cstNode;
        const inside = cst && cst.offset < offset && (offset < cst.end || !cst.text.endsWith('}'));
        if (ast.isBody(node) && inside) {
            const kind = blockKindOf(node.$container);
            return kind ? { kind, owner: node.$container, body: node } : undefined;
        }
        if (ast.isExperiment(node) && inside && cst.text.indexOf('{') >= 0 && cst.offset + cst.text.indexOf('{') < offset) {
            return { kind: 'experiment', owner: node, body: undefined };
        }
    }
    // Text fallback: the innermost unclosed `{` before the offset, and the statement it ends.
    let depth = 0;
    for (let i = offset - 1; i >= 0; i--) {
        const c = text[i];
        if (c === '}') depth++;
        else if (c === '{') {
            if (depth === 0) {
                const lineStart = text.lastIndexOf('\n', i - 1) + 1;
                const head = text.slice(lineStart, i);
                const kind = blockKindOfText(head);
                return kind ? { kind, owner: undefined, body: undefined } : undefined;
            }
            depth--;
        }
    }
    return undefined;
}

/** `model x = gguf "…"` → `model-gguf`; `finetune a = b on c` → `finetune`. */
export function blockKindOfText(statement: string): BlockKind | undefined {
    const m = /^\s*(\w+)/.exec(statement);
    if (!m) return undefined;
    const keyword = m[1];
    switch (keyword) {
        case 'model': {
            const source = /=\s*(gguf|server|pretrain)\b/.exec(statement)?.[1];
            return source ? (`model-${source}` as BlockKind) : undefined;
        }
        case 'label':
            if (/=\s*shuffle\b/.test(statement)) return 'shuffle';
            if (/=\s*mix\b/.test(statement)) return 'mix';
            return 'label';
        case 'dataset':
            return /\bfrom\s*["']/.test(statement) ? 'dataset-file' : 'dataset-world';
        case 'experiment':
        case 'world':
        case 'decoding':
        case 'knowledge':
        case 'finetune':
        case 'evaluate':
        case 'hypothesis':
            return keyword;
        default:
            return undefined;
    }
}

/** The file of the dataset whose block holds `offset` (from the AST, else from the statement's text). */
function datasetFileOf(block: BlockContext, text: string, offset: number): string | undefined {
    if (ast.isDataset(block.owner) && block.owner.path !== undefined) return unquoteLoose(block.owner.path);
    const open = text.lastIndexOf('{', offset);
    const lineStart = text.lastIndexOf('\n', open - 1) + 1;
    const m = /\bfrom\s*("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')/.exec(text.slice(lineStart, open));
    return m ? unquoteLoose(m[1]) : undefined;
}

function unquoteLoose(s: string): string {
    return /^["'].*["']$/.test(s) ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}
