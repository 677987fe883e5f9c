/**
 * Questions about a spec that the checks, the Plan and the IDE services all ask: what a step reads,
 * which model is at the root of a fine-tune chain, what data a model was fine-tuned on, where a
 * file path points. Pure functions over the AST (cycle-safe).
 */
import * as path from 'node:path';
import { AstUtils, type AstNode, type LangiumDocument, type LangiumDocuments, type Reference } from 'langium';
import {
    isDataset,
    isDecoding,
    isEvaluate,
    isFinetune,
    isHypothesis,
    isKnowledge,
    isLabel,
    isMix,
    isModel,
    isShuffle,
    isWorld,
    type DataRef,
    type Dataset,
    type Declaration,
    type Evaluate,
    type Experiment,
    type Finetune,
    type LabelSet,
    type MismatchFile,
    type Model,
    type ModelLike,
} from './generated/ast.js';
import { allDeclarations } from './scope.js';
import { importClosure } from './workspace.js';

/** The declarations a document can see: its own and those of its imports, its own first. */
export function visibleDeclarations(doc: LangiumDocument, documents: LangiumDocuments): Declaration[] {
    const out: Declaration[] = [];
    for (const uri of importClosure(doc, documents)) {
        const d = uri === doc.uri.toString() ? doc : documents.all.find((x) => x.uri.toString() === uri);
        const root = d?.parseResult?.value as MismatchFile | undefined;
        if (root) out.push(...allDeclarations(root));
    }
    return out;
}

export function experimentOf(node: AstNode): Experiment | undefined {
    const root = AstUtils.findRootNode(node) as MismatchFile;
    return root.experiments?.[0];
}

function refs(...r: Array<Reference<AstNode> | undefined>): Declaration[] {
    return r.map((x) => x?.ref).filter((x): x is Declaration => x !== undefined) as Declaration[];
}

/** The steps a declaration reads directly. */
export function dependenciesOf(decl: Declaration): Declaration[] {
    if (isDataset(decl)) return refs(decl.world);
    if (isModel(decl)) return refs(decl.world);
    if (isLabel(decl) || isKnowledge(decl)) return refs(decl.model, decl.data?.dataset, decl.decoding);
    if (isShuffle(decl)) return refs(decl.source);
    if (isMix(decl)) return refs(decl.knowledge);
    if (isFinetune(decl)) return refs(decl.model, decl.labels);
    if (isEvaluate(decl)) return refs(...(decl.arms ?? []).map((a) => a.model), decl.data?.dataset, decl.decoding, ...decl.knowledge);
    if (isHypothesis(decl)) return refs(decl.a, decl.b, decl.evaluation);
    return [];
}

/** The base model under a chain of fine-tunes (undefined when a link is missing or cyclic). */
export function rootModel(m: ModelLike | undefined): Model | undefined {
    const seen = new Set<AstNode>();
    let cur: ModelLike | undefined = m;
    while (cur && !seen.has(cur)) {
        seen.add(cur);
        if (isModel(cur)) return cur;
        cur = cur.model?.ref;
    }
    return undefined;
}

/** The finetunes between `m` and its root model, outermost first. */
export function finetuneChain(m: ModelLike | undefined): Finetune[] {
    const out: Finetune[] = [];
    const seen = new Set<AstNode>();
    let cur: ModelLike | undefined = m;
    while (cur && isFinetune(cur) && !seen.has(cur)) {
        seen.add(cur);
        out.push(cur);
        cur = cur.model?.ref;
    }
    return out;
}

export interface TrainingData {
    dataset: Dataset;
    /** Undefined when the whole dataset was used. */
    split?: string;
    /** The label step (or knowledge step of a mix) that read it. */
    via: Declaration;
    /** The fine-tune that trained on it. */
    finetune: Finetune;
}

/** The step at the bottom of a chain of shuffles: a `label … = answers of` or a `mix`. */
export function labelOrigin(set: LabelSet | undefined): LabelSet | undefined {
    const seen = new Set<AstNode>();
    let cur: LabelSet | undefined = set;
    while (cur && isShuffle(cur) && !seen.has(cur)) {
        seen.add(cur);
        cur = cur.source?.ref;
    }
    return cur && !isShuffle(cur) ? cur : undefined;
}

function dataOf(ref: DataRef | undefined): { dataset: Dataset; split?: string } | undefined {
    const dataset = ref?.dataset?.ref;
    if (!dataset) return undefined;
    return { dataset, split: ref?.split?.$refText || undefined };
}

/** Every dataset (and split) a model was fine-tuned on, through all its fine-tunes. */
export function trainingDataOf(m: ModelLike | undefined): TrainingData[] {
    const out: TrainingData[] = [];
    for (const ft of finetuneChain(m)) {
        const origin = labelOrigin(ft.labels?.ref);
        if (isLabel(origin)) {
            const d = dataOf(origin.data);
            if (d) out.push({ ...d, via: origin, finetune: ft });
        } else if (isMix(origin)) {
            const k = origin.knowledge?.ref;
            const d = dataOf(k?.data);
            if (d && k) out.push({ ...d, via: k, finetune: ft });
        }
    }
    return out;
}

/** The teacher (model that answered) behind a label set, if it is a `label … = answers of`. */
export function teacherOf(set: LabelSet | undefined): ModelLike | undefined {
    const origin = labelOrigin(set);
    return isLabel(origin) ? origin.model?.ref : undefined;
}

/** The evaluate steps among `decls` that list `m` as an arm. */
export function evaluationsOf(m: ModelLike, decls: Declaration[]): Evaluate[] {
    return evaluationsByArm(decls).get(m) ?? [];
}

/** Absolute path of a file named in a spec (relative to the spec's folder). */
export function resolveSpecPath(doc: LangiumDocument, file: string): string {
    const base = doc.uri.scheme === 'file' ? path.dirname(doc.uri.fsPath) : process.cwd();
    return path.resolve(base, file);
}

export function documentOf(node: AstNode): LangiumDocument {
    return AstUtils.getDocument(node);
}

export const isDeclarationWithName = (d: Declaration): boolean => typeof d.name === 'string' && d.name.length > 0;
export { isWorld, isDecoding };

const evaluationIndex = new WeakMap<Declaration[], Map<AstNode, Evaluate[]>>();

/** Evaluations by arm, computed once per list of declarations (hypotheses look them up often). */
function evaluationsByArm(decls: Declaration[]): Map<AstNode, Evaluate[]> {
    let index = evaluationIndex.get(decls);
    if (!index) {
        index = new Map();
        for (const e of decls) {
            if (!isEvaluate(e)) continue;
            for (const arm of e.arms ?? []) {
                const m = arm.model?.ref;
                if (!m) continue;
                const list = index.get(m) ?? [];
                if (!list.includes(e)) list.push(e);
                index.set(m, list);
            }
        }
        evaluationIndex.set(decls, index);
    }
    return index;
}

/** The evaluation a hypothesis reads: its `in E`, else the first evaluation listing both arms. */
export function hypothesisEvaluation(h: import('./generated/ast.js').Hypothesis, decls: Declaration[]): Evaluate | undefined {
    if (h.evaluation?.ref) return h.evaluation.ref;
    const a = h.a?.ref;
    const b = h.b?.ref;
    if (!a || !b) return undefined;
    const index = evaluationsByArm(decls);
    const withB = new Set(index.get(b) ?? []);
    return (index.get(a) ?? []).find((e) => withB.has(e));
}
