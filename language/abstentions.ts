/**
 * Abstention phrases an evaluation counts when a spec names none (the `otherwise` texts of the arms'
 * labels are added to them). Dependency-free: the language's property table and the engine's
 * matcher both read it.
 */
export const DEFAULT_ABSTENTIONS: readonly string[] = [
    "I don't know",
    'I do not know',
    'I dont know',
    'Unknown',
    "I'm not sure",
    'I am not sure',
    'Not sure',
    'No idea',
    'I have no idea',
    "I can't answer",
    'I cannot answer',
    "I'm unable to answer",
    'I am unable to answer',
    'No answer',
    'Unanswerable',
    'Cannot be determined',
];
