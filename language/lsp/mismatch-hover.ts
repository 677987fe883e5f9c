/**
 * Hover, on Langium's MultilineCommentHoverProvider (which gives a declaration's `/** … *\/`
 * comment). Added here:
 * - keywords: their documentation (`keyword-docs.ts`);
 * - property keys: type, range, default and documentation from the validator's table;
 * - a declaration or a reference to one: what it is, then facts read from disk or computed:
 *   GGUF models (architecture, parameters, quantization, context length, from the file header),
 *   pretrained models (layers, width, estimated parameters), datasets (rows, fields, split sizes;
 *   file rows counted by streaming, cached by mtime), worlds (facts = entities × relations).
 */
import { splitSizes } from '../split-sizes.js';
import { describeTrainModes } from '../validation/train-modes.js';
import { resolve, dirname } from 'node:path';
import { AstUtils, CstUtils, GrammarAST, type AstNode, type CstNode, type LangiumDocument } from 'langium';
import { MultilineCommentHoverProvider } from 'langium/lsp';
import type { Hover, HoverParams } from 'vscode-languageserver';
import * as ast from '../generated/ast.js';
import type { MismatchServices } from '../mismatch-module.js';
import { kindWord } from '../naming.js';
import { readProperty, parseNumber, propertiesOf as bodyProperties, type BlockKind } from '../properties.js';
import { splitsOf } from '../scope.js';
import { countRows, describeProblem, readDatasetFacts } from './dataset-facts.js';
import { KEYWORD_DOCS } from './keyword-docs.js';
import { estimateLlamaParameters, humanCount } from './model-facts.js';
import type { FileInfoCache } from '../validation/file-info.js';
import { blockKindOf, propertyDoc } from './property-docs.js';
import { describeStep } from './mismatch-symbols.js';
import { specBoundProblem } from '../spec-bounds.js';

/** How long a hover waits for a row count before showing the rest without it. */
const COUNT_WAIT_MS = 400;

export class MismatchHoverProvider extends MultilineCommentHoverProvider {
    protected readonly files: FileInfoCache;

    constructor(services: MismatchServices) {
        super(services);
        this.files = services.files.FileInfo;
    }

    override async getHoverContent(document: LangiumDocument, params: HoverParams): Promise<Hover | undefined> {
        const root = document.parseResult?.value?.$cstNode;
        if (!root) return undefined;
        const offset = document.textDocument.offsetAt(params.position);
        const leaf = CstUtils.findLeafNodeAtOffset(root, offset);
        if (!leaf || leaf.hidden) return undefined;
        const markdown = await this.hoverFor(document, leaf);
        return markdown ? { contents: { kind: 'markdown', value: markdown }, range: leaf.range } : undefined;
    }

    protected async hoverFor(document: LangiumDocument, leaf: CstNode): Promise<string | undefined> {
        const node = leaf.astNode;
        // Property keys (and experiment settings).
        if ((ast.isProperty(node) || ast.isSetting(node)) && isKeyLeaf(node, leaf)) {
            const owner = ast.isSetting(node) ? node.$container : node.$container.$container;
            const kind = blockKindOf(owner);
            const doc = kind ? propertyDoc(kind, node.key) : undefined;
            return doc ? doc.doc : `\`${node.key}\` is not a property of ${owner ? kindWord(owner) : 'this block'}.`;
        }
        if (ast.isFlag(node)) return KEYWORD_DOCS[node.flag];
        // Names and references.
        const declaration = this.declarationAt(leaf);
        if (declaration) return this.describe(document, declaration);
        if (GrammarAST.isKeyword(leaf.grammarSource)) {
            const doc = KEYWORD_DOCS[leaf.text];
            return doc ? `**${leaf.text}**: ${doc}` : undefined;
        }
        return undefined;
    }

    /** The declaration a leaf names or refers to. */
    protected declarationAt(leaf: CstNode): AstNode | undefined {
        const targets = this.references.findDeclarations(leaf);
        if (targets.length > 0) return targets[0];
        const node = leaf.astNode;
        if ('name' in node && node.name === leaf.text && (ast.isDeclaration(node) || ast.isSplit(node) || ast.isExperiment(node))) {
            return node;
        }
        return undefined;
    }

    protected async describe(document: LangiumDocument, node: AstNode): Promise<string> {
        const name = (node as { name?: string }).name;
        const lines = [`**${kindWord(node)}** \`${name ?? ''}\`${describeStep(node) ? ` = ${describeStep(node)}` : ''}`];
        const comment = this.documentationProvider.getDocumentation(node);
        if (comment) lines.push('', comment);
        // No dataset or model reads for a spec over the bounds: it is not checked either.
        const tooLarge = specBoundProblem(document) ?? specBoundProblem(AstUtils.getDocument(node));
        if (tooLarge) lines.push('', `_${tooLarge.message}_`);
        else
            try {
                const facts = await this.facts(node);
                if (facts.length) lines.push('', ...facts);
            } catch (e) {
                lines.push('', `_${(e as Error).message}_`);
            }
        const home = AstUtils.getDocument(node);
        if (home.uri.toString() !== document.uri.toString()) lines.push('', `_from ${home.uri.path.split('/').pop()}_`);
        return lines.join('\n');
    }

    protected async facts(node: AstNode): Promise<string[]> {
        if (ast.isModel(node)) return this.modelFacts(node);
        if (ast.isDataset(node)) return this.datasetFacts(node);
        if (ast.isSplit(node) && ast.isDataset(node.$container?.$container)) {
            const dataset = node.$container.$container;
            const sizes = await this.splitSizes(dataset);
            const size = sizes?.find((s) => s.name === node.name);
            return size ? [`${size.rows} rows of ${sizes!.total} in \`${dataset.name}\``] : [];
        }
        if (ast.isWorld(node)) {
            const facts = worldFacts(node);
            return [`${facts.entities} entities × ${facts.relations.length} relations (${facts.relations.join(', ')}) = **${facts.entities * facts.relations.length} facts**`];
        }
        return [];
    }

    protected async modelFacts(model: ast.Model): Promise<string[]> {
        const props = bodyProperties(model.body);
        if (model.source === 'gguf' && model.path !== undefined) {
            const file = resolveFrom(model, model.path);
            if (!file) return [];
            const r = await this.files.gguf(file);
            if (!r.ok) return [`_${describeProblem(r.problem)}_`];
            const g = r.value;
            const rows = [
                ['architecture', g.architecture],
                ['name', g.name],
                ['parameters', g.parameters ? humanCount(g.parameters) : undefined],
                ['quantization', g.fileType],
                ['fine-tuning', describeTrainModes(g.training)],
                ['context length', g.contextLength?.toLocaleString('en-US')],
                ['layers', g.layers],
                ['width', g.embeddingLength],
            ].filter(([, v]) => v !== undefined);
            return table(rows as Array<[string, string | number]>);
        }
        if (model.source === 'pretrain') {
            const layers = Number(readProperty('model-pretrain', props, 'layers'));
            const width = Number(readProperty('model-pretrain', props, 'width'));
            const heads = Number(readProperty('model-pretrain', props, 'heads'));
            const knows = Number(readProperty('model-pretrain', props, 'knows'));
            const est = estimateLlamaParameters(layers, width);
            const rows: Array<[string, string | number]> = [
                ['layers', layers],
                ['width', width],
                ['heads', heads],
                ['knows', `${Math.round(knows * 100)}% of the facts`],
                ['parameters (blocks)', `≈ ${humanCount(est.blocks)} (+ vocabulary × width for the embeddings)`],
            ];
            const world = model.world?.ref;
            if (world) {
                const w = worldFacts(world);
                const facts = w.entities * w.relations.length;
                rows.push(['taught', `≈ ${Math.round(facts * knows)} of ${facts} facts of \`${world.name}\``]);
            }
            return table(rows);
        }
        if (model.source === 'server') {
            const rows: Array<[string, string | number]> = model.urls.map((u, i) => [model.urls.length > 1 ? `server ${i + 1}` : 'url', u] as [string, string]);
            for (const key of ['name', 'api', 'logprobs']) {
                const v = readProperty('model-server', props, key);
                if (v !== undefined) rows.push([key, String(v)]);
            }
            return table(rows);
        }
        return [];
    }

    protected async datasetFacts(dataset: ast.Dataset): Promise<string[]> {
        const out: string[] = [];
        if (dataset.path !== undefined) {
            const file = resolveFrom(dataset, dataset.path);
            if (!file) return out;
            const facts = readDatasetFacts(this.files, file, declaredFormat(dataset));
            if (facts.problem) return [`_${facts.problem}_`];
            out.push(`**fields**: ${facts.fields.map((f) => `\`${f.path}\` (${f.type})`).join(', ') || 'none found'}`);
        }
        const sizes = await this.splitSizes(dataset);
        if (sizes) {
            out.push('', `**${sizes.estimated ? '≈ ' : ''}${sizes.total.toLocaleString('en-US')} rows**`);
            if (sizes.length) out.push('', ...table(sizes.map((s) => [`split ${s.name}`, `${s.rows.toLocaleString('en-US')} rows`] as [string, string])));
        }
        return out;
    }

    /** Rows of the dataset and of each split, as the engine cuts them. */
    protected async splitSizes(dataset: ast.Dataset): Promise<(Array<{ name: string; rows: number }> & { total: number; estimated?: boolean }) | undefined> {
        let total: number | undefined;
        let estimated = false;
        if (dataset.path !== undefined) {
            const file = resolveFrom(dataset, dataset.path);
            if (!file) return undefined;
            const head = readDatasetFacts(this.files, file, declaredFormat(dataset)).head;
            if (!head) return undefined;
            if (head.exactRows || head.format === 'triviaqa') {
                total = head.estimatedRows;
                estimated = !head.exactRows;
            } else {
                // Count the rows exactly; a file too long to count now shows the estimate.
                const counting = countRows(file, head.format);
                const timeout = new Promise<undefined>((ok) => setTimeout(() => ok(undefined), COUNT_WAIT_MS));
                total = await Promise.race([counting, timeout]).catch(() => undefined);
                if (total === undefined) {
                    total = head.estimatedRows;
                    estimated = true;
                }
            }
        } else {
            const world = dataset.world?.ref;
            if (world) {
                const w = worldFacts(world);
                total = w.entities * w.relations.length;
            }
        }
        if (total === undefined) return undefined;
        // The engine's sizes (language/split-sizes.ts: the last of shares adding up to 100% takes the remainder).
        const parsed = splitsOf(dataset).map((s) => ({ name: s.name, n: parseNumber(s.size) }));
        const sizes = splitSizes(
            parsed.map(({ n }) => (!n ? { count: 0 } : n.unit === '%' ? { share: n.value / 100 } : { count: Math.round(n.value) })),
            total,
        );
        const splits = parsed.map((s, i) => ({ name: s.name, rows: Math.min(total!, sizes[i]) }));
        return Object.assign(splits, { total, estimated });
    }
}

function declaredFormat(dataset: ast.Dataset): string | undefined {
    const f = readProperty('dataset-file', bodyProperties(dataset.body), 'format');
    return typeof f === 'string' ? f : undefined;
}

function isKeyLeaf(node: ast.Property | ast.Setting, leaf: CstNode): boolean {
    return leaf.text === node.key && node.$cstNode !== undefined && leaf.offset === node.$cstNode.offset;
}

function table(rows: Array<[string, string | number]>): string[] {
    return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${String(v).replace(/\|/g, '\\|')} |`)];
}

function resolveFrom(node: AstNode, path: string): string | undefined {
    const doc = AstUtils.getDocument(node);
    return doc.uri.scheme === 'file' ? resolve(dirname(doc.uri.fsPath), path) : undefined;
}

function worldFacts(world: ast.World): { entities: number; relations: string[] } {
    const props = bodyProperties(world.body);
    const kind: BlockKind = 'world';
    const entities = Number(readProperty(kind, props, 'entities'));
    const relations = readProperty(kind, props, 'relations');
    return { entities, relations: Array.isArray(relations) ? relations : [] };
}
