/**
 * Stable diagnostic codes (`data.code` of every diagnostic; printed by `mismatch check`). Quick
 * fixes key on them; never rename one. The data a fix needs travels beside the code:
 * `suggestion` (a name to use instead), `replacement` (text for the flagged value), `insert` (a
 * property to add to the block, e.g. `seed 1`).
 */
export const Codes = {
    // syntax (Langium's own): 'lexing-error', 'parsing-error'
    unknownReference: 'unknown-reference',
    wrongReferenceType: 'wrong-reference-type',
    duplicateName: 'duplicate-name',
    multipleExperiments: 'multiple-experiments',
    cycle: 'cycle',
    unresolvedImport: 'unresolved-import',
    unknownProperty: 'unknown-property',
    duplicateProperty: 'duplicate-property',
    invalidValue: 'invalid-value',
    missingUnit: 'missing-unit',
    outOfRange: 'out-of-range',
    misplaced: 'misplaced-item',
    conflictingMode: 'conflicting-mode',
    ignoredProperty: 'ignored-property',
    datasetFileMissing: 'dataset-file-missing',
    datasetFileUnreadable: 'dataset-file-unreadable',
    datasetFileInvalid: 'dataset-file-invalid',
    datasetFieldMissing: 'dataset-field-missing',
    datasetFormatUnknown: 'dataset-format-unknown',
    ggufMissing: 'gguf-missing',
    ggufUnreadable: 'gguf-unreadable',
    ggufInvalid: 'gguf-invalid',
    quantizedFinetune: 'quantized-finetune',
    remoteFinetune: 'remote-finetune',
    teacherNotLarger: 'teacher-not-larger',
    splitsOver100: 'splits-over-100',
    leakage: 'train-test-leakage',
    possibleLeakage: 'possible-leakage',
    unseededSampling: 'unseeded-sampling',
    hypothesisNotEvaluated: 'arm-not-evaluated',
    hypothesisDifferentData: 'arms-different-data',
    hypothesisDifferentDecoding: 'arms-different-decoding',
    hypothesisSameArm: 'same-arm',
    noLogprobs: 'no-logprobs',
    finetuneNotEvaluated: 'finetune-not-evaluated',
    knowledgeOtherData: 'knowledge-other-data',
    mixOtherModel: 'mix-other-model',
    duplicateArm: 'duplicate-arm',
    // document level: 'too-many-errors' (syntax errors past MAX_SYNTAX_ERRORS); from loadSpecs: 'spec-file'
} as const;

export type Code = (typeof Codes)[keyof typeof Codes];
