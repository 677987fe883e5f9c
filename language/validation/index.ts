/**
 * Registers the validation checks (one concern per file in this folder). Every diagnostic carries
 * `data.code` (a stable code, see `codes.ts`) and, where a quick fix is obvious, the data it needs.
 * Checks that look across steps see the spec's own declarations and those of its imports.
 */
import type { LangiumDocuments, ValidationAcceptor, ValidationChecks } from 'langium';
import type { Declaration, MismatchAstType, MismatchFile } from '../generated/ast.js';
import { documentOf, visibleDeclarations } from '../experiment.js';
import type { MismatchServices } from '../mismatch-module.js';
import { checkCycles } from './cycles.js';
import { checkDatasetFile, checkModelFile, checkServerUrl } from './files.js';
import { checkEvaluateArms, checkHypothesis, checkUnevaluated, checkUnused } from './hypotheses.js';
import { checkImport } from './imports.js';
import { checkLeakage, checkSplits } from './leakage.js';
import { checkFinetune } from './models.js';
import { checkNames, checkSplitNames } from './names.js';
import { checkBody, checkSettings } from './properties.js';
import { checkDecodingSeed, checkKnowledgeSeed } from './sampling.js';
import { checkFewShot } from './fewshot.js';
import { checkTrainer } from './trainer.js';

export { Codes, type Code } from './codes.js';

export class MismatchValidator {
    private readonly documents: LangiumDocuments;
    readonly services: MismatchServices;
    /** Declarations visible from the document being validated (computed once per validation). */
    private visibleCache = new WeakMap<MismatchFile, Declaration[]>();

    constructor(services: MismatchServices) {
        this.services = services;
        this.documents = services.shared.workspace.LangiumDocuments;
    }

    visible(file: MismatchFile): Declaration[] {
        let v = this.visibleCache.get(file);
        if (!v) {
            v = visibleDeclarations(documentOf(file), this.documents);
            this.visibleCache.set(file, v);
        }
        return v;
    }

    checkFile(file: MismatchFile, accept: ValidationAcceptor): void {
        this.visibleCache = new WeakMap(); // imports may have changed since the last validation
        const visible = this.visible(file);
        checkNames(file, visible, accept);
        checkCycles(file, visible, accept);
        checkUnevaluated(file, visible, accept);
        checkUnused(file, visible, accept);
    }
}

export function registerValidationChecks(services: MismatchServices): void {
    const registry = services.validation.ValidationRegistry;
    const v = services.validation.MismatchValidator;
    const files = services.files.FileInfo;
    const checks: ValidationChecks<MismatchAstType> = {
        MismatchFile: (f: MismatchFile, a: ValidationAcceptor) => v.checkFile(f, a),
        Import: checkImport,
        Experiment: checkSettings,
        Body: checkBody,
        Dataset: [checkSplitNames, checkSplits, (d, a) => checkDatasetFile(d, files, a)],
        Model: [(m, a) => checkModelFile(m, files, a), checkServerUrl],
        Decoding: checkDecodingSeed,
        Knowledge: [checkKnowledgeSeed, checkFewShot],
        Label: checkFewShot,
        Finetune: [(f, a) => checkFinetune(f, files, a), checkTrainer],
        Evaluate: [checkLeakage, checkEvaluateArms, checkFewShot],
        Hypothesis: (h, a) => checkHypothesis(h, v.visible(documentOf(h).parseResult.value as MismatchFile), a),
    };
    registry.register(checks, v);
}
