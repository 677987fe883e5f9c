/**
 * The Plan: a validated spec as a DAG of typed steps (see plan-types.ts), each with its source range
 * and a content key. Defaults live here (and in properties.ts). The key of a step is the sha256 of
 * its kind, its parameters in canonical JSON and the keys of its inputs; names, ranges and
 * formatting are not in it, so renaming or moving a step keeps every key, and changing a parameter
 * changes that step's key and its dependants'.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { GrammarUtils, type AstNode, type LangiumCoreServices, type LangiumDocument, type LangiumDocuments } from 'langium';
import {
    isDataset,
    isDecoding,
    isEvaluate,
    isFinetune,
    isFlag,
    isHypothesis,
    isKnowledge,
    isLabel,
    isMix,
    isModel,
    isShuffle,
    isSplit,
    isWorld,
    type DataRef,
    type Declaration,
    type Decoding as DecodingNode,
    type MismatchFile,
} from './generated/ast.js';
import { dependenciesOf, finetuneChain, hypothesisEvaluation, labelOrigin, resolveSpecPath, visibleDeclarations } from './experiment.js';
import type * as P from './plan-types.js';
import { DEFAULT_ABSTENTIONS, parseNumber, propertiesOf, readProperty, unquote, type BlockKind } from './properties.js';
import { allDeclarations } from './scope.js';
import { formatOf } from './validation/file-info.js';
import { REDRAW_STAGES, redrawOf } from './replicates.js';

export type { Plan, Step } from './plan-types.js';
export { REDRAW_STAGES, redrawOf, redrawnUpstream } from './replicates.js';

/** Split name used when a step reads a whole dataset (the engine's name for unsplit records). */
export const WHOLE_DATASET = 'all';

export const DEFAULTS = {
    seed: 1,
    seeds: 1,
    redraw: REDRAW_STAGES,
    alpha: 0.05,
    abstain: DEFAULT_ABSTENTIONS,
    decoding: { temperature: 0, maxTokens: 32, stop: ['\n'], template: 'raw', fewShot: 0 },
    loraAlpha: (rank: number) => 2 * rank,
    heads: (width: number) => (width % 4 === 0 ? 4 : 1),
} as const;

/** JSON with object keys sorted, so equal values hash equally whatever the order they were built in. */
export function canonicalJson(value: unknown): string {
    if (value === undefined) return 'null';
    if (value === null || typeof value !== 'object') return JSON.stringify(value);
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
    const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function sha256(text: string): string {
    return createHash('sha256').update(text).digest('hex');
}

function toRange(node: AstNode | undefined, file: string, cst = node?.$cstNode): P.SourceRange {
    const r = cst?.range ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    return { file, start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } };
}

function fileOf(node: AstNode): string {
    let root: AstNode = node;
    while (root.$container) root = root.$container;
    const doc = (root as AstNode & { $document?: LangiumDocument }).$document;
    if (!doc) return '';
    return doc.uri.scheme === 'file' ? doc.uri.fsPath : doc.uri.toString();
}

const KEYWORD: Record<string, string> = {
    World: 'world',
    Dataset: 'dataset',
    Model: 'model',
    Decoding: 'decoding',
    Label: 'label',
    Shuffle: 'label',
    Mix: 'label',
    Knowledge: 'knowledge',
    Finetune: 'finetune',
    Evaluate: 'evaluate',
    Hypothesis: 'hypothesis',
};

const KIND: Record<string, P.StepKind | undefined> = {
    World: 'world',
    Dataset: 'dataset',
    Model: 'model',
    Label: 'label',
    Shuffle: 'shuffle',
    Mix: 'mix',
    Knowledge: 'knowledge',
    Finetune: 'finetune',
    Evaluate: 'evaluate',
    Hypothesis: 'hypothesis',
};

/** A resolver gives the text that stands for a referenced step: its id in `params`, its key when hashing. */
type Ref = (d: Declaration | undefined) => string;

class PlanBuilder {
    readonly steps: P.Step[] = [];
    private readonly ids = new Map<Declaration, string>();
    private readonly keys = new Map<Declaration, string>();
    private readonly visiting = new Set<Declaration>();

    constructor(
        private readonly settings: { seed: number; seeds: number; alpha: number; redraw: ReadonlySet<P.RedrawStage> },
        private readonly visible: Declaration[],
    ) {}

    idOf(d: Declaration | undefined): string {
        if (!d) return '';
        let id = this.ids.get(d);
        if (!id) {
            id = d.name || `${d.$type.toLowerCase()}@${(d.$cstNode?.range.start.line ?? 0) + 1}`;
            // Unnamed steps on the same line of different files: make the id unique.
            const taken = new Set(this.ids.values());
            let unique = id;
            for (let i = 2; taken.has(unique); i++) unique = `${id}#${i}`;
            this.ids.set(d, unique);
            id = unique;
        }
        return id;
    }

    private seedOf(kind: BlockKind, d: { body?: import('./generated/ast.js').Body }): number {
        const s = readProperty(kind, propertiesOf(d.body), 'seed');
        return typeof s === 'number' ? s : this.settings.seed;
    }

    private decoding(node: DecodingNode | undefined, forKey: boolean): P.Decoding {
        const props = propertiesOf(node?.body);
        const num = (k: string) => readProperty('decoding', props, k) as number | undefined;
        const temperature = num('temperature') ?? DEFAULTS.decoding.temperature;
        const given = props.some((p) => p.key === 'seed');
        const d: P.Decoding = {
            name: forKey ? undefined : node?.name,
            temperature,
            topP: num('topP'),
            topK: num('topK'),
            seed: temperature > 0 ? (given ? num('seed') : this.settings.seed) : undefined,
            maxTokens: num('maxTokens') ?? DEFAULTS.decoding.maxTokens,
            stop: (readProperty('decoding', props, 'stop') as string[] | undefined) ?? [...DEFAULTS.decoding.stop],
            template: (readProperty('decoding', props, 'template') as string | undefined) ?? DEFAULTS.decoding.template,
            fewShot: num('fewShot') ?? DEFAULTS.decoding.fewShot,
        };
        if (forKey) delete d.name;
        return d;
    }

    private split(ref: DataRef | undefined): string {
        return ref?.split?.$refText || WHOLE_DATASET;
    }

    /** The parameters of a step. `ref` names inputs; `forKey` leaves out what must not change a key. */
    params(d: Declaration, ref: Ref, forKey: boolean): { kind: P.StepKind; params: unknown; stage?: P.RedrawStage; files: string[] } | undefined {
        const props = propertiesOf(d.body);
        if (isWorld(d)) {
            return {
                kind: 'world',
                stage: 'facts',
                files: [],
                params: {
                    entities: readProperty('world', props, 'entities') as number,
                    relations: readProperty('world', props, 'relations') as string[],
                    seed: this.seedOf('world', d),
                },
            };
        }
        if (isDataset(d)) {
            const kind: BlockKind = d.path !== undefined ? 'dataset-file' : 'dataset-world';
            const splits: P.SplitSpec[] = (d.body?.items ?? []).filter(isSplit).map((s) => {
                const n = parseNumber(s.size ?? '');
                return n?.unit === '%' ? { name: s.name, share: n.value / 100 } : { name: s.name, count: n?.value ?? 0 };
            });
            let source: P.DatasetSource;
            const files: string[] = [];
            if (d.path !== undefined) {
                const written = unquote(d.path);
                const abs = resolveSpecPath(fileDoc(d), written);
                files.push(abs);
                const fmt = formatOf(abs, readProperty(kind, props, 'format') as string | undefined) ?? 'jsonl';
                const id = readProperty(kind, props, 'id') as string | undefined;
                source = {
                    kind: 'file',
                    // In the key, the path as written (relative to the spec), so that moving the
                    // project keeps the keys; the engine adds the file's content hash.
                    path: forKey ? path.normalize(written) : abs,
                    format: fmt,
                    fields: { question: readProperty(kind, props, 'question') as string, answers: readProperty(kind, props, 'answers') as string, ...(id ? { id } : {}) },
                };
            } else {
                source = { kind: 'world', world: ref(d.world?.ref) };
            }
            // Only a split draws at random: a dataset without splits is the same in every replicate.
            return {
                kind: 'dataset',
                ...(splits.length ? { stage: 'splits' as const } : {}),
                files,
                params: { source, splits, seed: this.seedOf(kind, d), dedupe: readProperty(kind, props, 'dedupe') as boolean },
            };
        }
        if (isModel(d)) {
            if (d.source === 'gguf') {
                const written = unquote(d.path ?? '');
                const abs = resolveSpecPath(fileDoc(d), written);
                const template = readProperty('model-gguf', props, 'template') as string | undefined;
                return { kind: 'model', files: [abs], params: { source: { kind: 'gguf', path: forKey ? path.normalize(written) : abs }, ...(template ? { template } : {}) } };
            }
            if (d.source === 'server') {
                const r = (k: string) => readProperty('model-server', props, k);
                const urls = d.urls.map(unquote);
                const source: P.ModelSource = {
                    kind: 'server',
                    url: urls[0] ?? '',
                    ...(urls.length > 1 ? { urls } : {}),
                    name: (r('name') as string | undefined) ?? '',
                    apiKeyEnv: r('apiKeyEnv') as string | undefined,
                    api: r('api') as 'completions' | 'chat',
                    logprobs: r('logprobs') as boolean,
                    concurrency: r('concurrency') as number,
                    timeoutMs: r('timeoutMs') as number,
                    ...(props.some((p) => p.key === 'rateLimit') ? { rateLimit: r('rateLimit') as number, ratePer: r('ratePer') as 'second' | 'minute' } : {}),
                };
                if (forKey) {
                    // Throughput settings do not change what the model answers. The servers do: a
                    // model name is only what a server calls the weights it serves, so two servers
                    // (or a written URL and the editor's default one) never share results. The
                    // order the servers are named in changes nothing; a single server keeps the key
                    // form it always had.
                    const s = source as Partial<typeof source> & { urls?: string[]; rateLimit?: number; ratePer?: string };
                    delete s.concurrency;
                    delete s.timeoutMs;
                    delete s.apiKeyEnv;
                    delete s.rateLimit;
                    delete s.ratePer;
                    if (s.urls) {
                        s.urls = [...s.urls].sort();
                        s.url = s.urls[0];
                    }
                }
                const template = r('template') as string | undefined;
                return { kind: 'model', files: [], params: { source, ...(template ? { template } : {}) } };
            }
            const r = (k: string) => readProperty('model-pretrain', props, k) as number | undefined;
            const width = r('width') ?? 128;
            const source: P.ModelSource = {
                kind: 'pretrain',
                world: ref(d.world?.ref),
                layers: r('layers') ?? 2,
                width,
                heads: props.some((p) => p.key === 'heads') ? (r('heads') as number) : DEFAULTS.heads(width),
                knows: r('knows') ?? 1,
                epochs: props.some((p) => p.key === 'epochs') ? r('epochs') : undefined,
                learningRate: props.some((p) => p.key === 'learningRate') ? r('learningRate') : undefined,
                seed: this.seedOf('model-pretrain', d),
                // Absent unless written, so specs without it keep their keys.
                factsSeed: props.some((p) => p.key === 'factsSeed') ? r('factsSeed') : undefined,
            };
            // Its seed draws which facts it is taught (unless `factsSeed` draws them) and its initial weights.
            return { kind: 'model', stage: 'pretraining', files: [], params: { source } };
        }
        if (isLabel(d)) {
            const decoding = this.decoding(d.decoding?.ref, forKey);
            return {
                kind: 'label',
                ...(decoding.temperature > 0 || decoding.fewShot > 0 ? { stage: 'sampling' as const } : {}),
                files: [],
                params: {
                    model: ref(d.model?.ref),
                    dataset: ref(d.data?.dataset?.ref),
                    split: this.split(d.data),
                    decoding,
                    otherwise: readProperty('label', props, 'otherwise') as string,
                    match: readProperty('label', props, 'match') as P.MatchMode,
                },
            };
        }
        if (isShuffle(d)) {
            return { kind: 'shuffle', stage: 'labels', files: [], params: { source: ref(d.source?.ref), seed: this.seedOf('shuffle', d) } };
        }
        if (isMix(d)) {
            const size = props.some((p) => p.key === 'size') ? (readProperty('mix', props, 'size') as number) : undefined;
            return {
                kind: 'mix',
                stage: 'labels',
                files: [],
                params: { knowledge: ref(d.knowledge?.ref), unknown: readProperty('mix', props, 'unknown') as number, ...(size !== undefined ? { size } : {}), seed: this.seedOf('mix', d) },
            };
        }
        if (isKnowledge(d)) {
            const decoding = this.decoding(d.decoding?.ref, forKey);
            // SliCK prompts with few-shot exemplars: the knowledge block's `fewShot`, else the
            // decoding's when it sets one, else the table's default (4).
            if (props.some((p) => p.key === 'fewShot') || !propertiesOf(d.decoding?.ref?.body).some((p) => p.key === 'fewShot')) {
                decoding.fewShot = readProperty('knowledge', props, 'fewShot') as number;
            }
            const own = props.some((p) => p.key === 'seed');
            const seed = own ? this.seedOf('knowledge', d) : (decoding.seed ?? this.settings.seed);
            return {
                kind: 'knowledge',
                stage: 'sampling',
                files: [],
                params: {
                    model: ref(d.model?.ref),
                    dataset: ref(d.data?.dataset?.ref),
                    split: this.split(d.data),
                    prompts: readProperty('knowledge', props, 'prompts') as number,
                    samples: readProperty('knowledge', props, 'samples') as number,
                    temperature: readProperty('knowledge', props, 'temperature') as number,
                    seed,
                    decoding,
                    match: readProperty('knowledge', props, 'match') as P.MatchMode,
                },
            };
        }
        if (isFinetune(d)) {
            const r = (k: string) => readProperty('finetune', props, k);
            const mode: 'lora' | 'full' = (d.body?.items ?? []).some((i) => isFlag(i) && i.flag === 'full') ? 'full' : 'lora';
            const rank = r('rank') as number;
            const lora: P.LoraSettings | undefined =
                mode === 'lora' ? { rank, alpha: props.some((p) => p.key === 'alpha') ? (r('alpha') as number) : DEFAULTS.loraAlpha(rank), targets: r('targets') as string[] } : undefined;
            return {
                kind: 'finetune',
                stage: 'finetuning',
                files: [],
                params: {
                    model: ref(d.model?.ref),
                    labels: ref(d.labels?.ref),
                    mode,
                    ...(lora ? { lora } : {}),
                    epochs: r('epochs') as number,
                    learningRate: r('learningRate') as number,
                    batchSize: r('batch') as number,
                    gradientAccumulation: r('gradientAccumulation') as number,
                    warmup: r('warmup') as number,
                    schedule: r('schedule') as 'constant' | 'linear' | 'cosine',
                    weightDecay: r('weightDecay') as number,
                    optimizer: r('optimizer') as 'adamw' | 'sgd',
                    seed: this.seedOf('finetune', d),
                    validation: r('validation') as number,
                    earlyStopping: r('earlyStopping') as boolean,
                    ...(r('trainer') === 'trl' || r('trainer') === 'axolotl'
                        ? { external: { engine: r('trainer') as 'trl' | 'axolotl', hfModel: (r('hfModel') as string | undefined) ?? '', dropout: (r('dropout') as number | undefined) ?? 0 } }
                        : {}),
                },
            };
        }
        if (isEvaluate(d)) {
            const decoding = this.decoding(d.decoding?.ref, forKey);
            const written = props.some((p) => p.key === 'abstain');
            return {
                kind: 'evaluate',
                ...(decoding.temperature > 0 || decoding.fewShot > 0 ? { stage: 'sampling' as const } : {}),
                files: [],
                params: {
                    arms: (d.arms ?? []).map((a) => ({ model: ref(a.model?.ref) })),
                    dataset: ref(d.data?.dataset?.ref),
                    split: this.split(d.data),
                    decoding,
                    abstain: written ? (readProperty('evaluate', props, 'abstain') as string[]) : this.defaultAbstain(d),
                    match: readProperty('evaluate', props, 'match') as P.MatchMode,
                    ...(d.knowledge[0]?.ref ? { knowledge: ref(d.knowledge[0].ref) } : {}),
                    ...(d.knowledge.length > 1 ? { knowledgeAlso: d.knowledge.slice(1).map((k) => ref(k.ref)) } : {}),
                },
            };
        }
        if (isHypothesis(d)) {
            const alpha = props.some((p) => p.key === 'alpha') ? (readProperty('hypothesis', props, 'alpha') as number) : this.settings.alpha;
            return {
                kind: 'hypothesis',
                files: [],
                params: {
                    a: ref(d.a?.ref),
                    b: ref(d.b?.ref),
                    direction: d.direction === 'less' ? 'less' : 'more',
                    matchedCoverage: !!d.matchedCoverage,
                    evaluation: ref(hypothesisEvaluation(d, this.visible)),
                    alpha,
                },
            };
        }
        return undefined; // decodings are inlined into the steps that use them
    }

    /** Abstention phrases by default: the common phrases and the `otherwise` texts of the labels the arms were trained on. */
    private defaultAbstain(e: import('./generated/ast.js').Evaluate): string[] {
        const out = new Set<string>();
        for (const arm of e.arms ?? []) {
            for (const ft of finetuneChain(arm.model?.ref)) {
                const origin = labelOrigin(ft.labels?.ref);
                if (isLabel(origin)) out.add(readProperty('label', propertiesOf(origin.body), 'otherwise') as string);
            }
        }
        return [...new Set([...DEFAULTS.abstain, ...out])];
    }

    /** Adds `d` (after its inputs) and returns its key. */
    visit(d: Declaration): string | undefined {
        if (this.keys.has(d)) return this.keys.get(d);
        if (isDecoding(d) || this.visiting.has(d)) return undefined;
        this.visiting.add(d);
        const inputs: Declaration[] = [];
        for (const dep of dependenciesOf(d)) {
            if (isDecoding(dep)) continue;
            if (this.visit(dep) !== undefined && !inputs.includes(dep)) inputs.push(dep);
        }
        if (isHypothesis(d)) {
            const e = hypothesisEvaluation(d, this.visible);
            if (e && this.visit(e) !== undefined && !inputs.includes(e)) inputs.push(e);
        }
        this.visiting.delete(d);
        const forKey = this.params(d, (x) => (x ? (this.keys.get(x) ?? '') : ''), true);
        const shown = this.params(d, (x) => this.idOf(x), false);
        if (!forKey || !shown) return undefined;
        const key = sha256(canonicalJson({ kind: forKey.kind, params: forKey.params, inputs: inputs.map((i) => this.keys.get(i)) }));
        this.keys.set(d, key);
        const file = fileOf(d);
        const nameCst = d.name ? GrammarUtils.findNodeForProperty(d.$cstNode, 'name') : GrammarUtils.findNodeForKeyword(d.$cstNode, KEYWORD[d.$type]);
        this.steps.push({
            kind: KIND[d.$type]!,
            id: this.idOf(d),
            range: toRange(d, file),
            nameRange: toRange(d, file, nameCst ?? d.$cstNode),
            inputs: inputs.map((i) => this.idOf(i)),
            key,
            // Redrawn per replicate when its stage is in the experiment's `redraw` (not in the key:
            // the engine keys each replicate by its seed index and its inputs' keys).
            stochastic: !!shown.stage && this.settings.redraw.has(shown.stage),
            ...(shown.stage ? { redraw: shown.stage } : {}),
            files: shown.files,
            params: shown.params,
        } as P.Step);
        return key;
    }
}

function fileDoc(node: AstNode): LangiumDocument {
    let root: AstNode = node;
    while (root.$container) root = root.$container;
    return (root as AstNode & { $document: LangiumDocument }).$document;
}

/**
 * The one way to build a Plan (`services.plan.PlanService`), used alike by the language server's
 * plan request and by `loadPlan` (CLI, engine tests): the declarations visible from a document are
 * computed here, its own and those of every file it imports, transitively, as the validator sees
 * them; so a hypothesis finds its evaluation in an imported file in the editor as on the CLI.
 */
export class PlanService {
    private readonly documents: LangiumDocuments;

    constructor(services: LangiumCoreServices) {
        this.documents = services.shared.workspace.LangiumDocuments;
    }

    /**
     * Builds the Plan of a linked (and validated) document. Steps come in source order, each after
     * its inputs; declarations from imported files appear where they are first needed. Call it on a
     * document without errors: missing references become empty ids.
     */
    buildPlan(document: LangiumDocument): P.Plan {
        return planOf(document as LangiumDocument<MismatchFile>, visibleDeclarations(document, this.documents));
    }
}

function planOf(doc: LangiumDocument<MismatchFile>, visible: Declaration[]): P.Plan {
    const root = doc.parseResult.value;
    const experiment = root.experiments?.[0];
    const settings = experiment?.settings ?? [];
    const read = (k: string, dflt: number) => {
        const v = readProperty('experiment', settings, k);
        return typeof v === 'number' ? v : dflt;
    };
    const file = doc.uri.scheme === 'file' ? doc.uri.fsPath : doc.uri.toString();
    const own = allDeclarations(root);
    const redraw = redrawOf(readProperty('experiment', settings, 'redraw'));
    const builder = new PlanBuilder({ seed: read('seed', DEFAULTS.seed), seeds: read('seeds', DEFAULTS.seeds), alpha: read('alpha', DEFAULTS.alpha), redraw: new Set(redraw) }, visible);
    // Reserve the names of the spec's own steps first, so imported unnamed steps never take them.
    for (const d of own) if (d.name) builder.idOf(d);
    for (const d of own) builder.visit(d);
    return {
        experiment: experiment?.name ?? path.basename(file).replace(/\.mismatch$/, ''),
        file,
        seed: read('seed', DEFAULTS.seed),
        seeds: read('seeds', DEFAULTS.seeds),
        alpha: read('alpha', DEFAULTS.alpha),
        redraw,
        steps: builder.steps,
    };
}
