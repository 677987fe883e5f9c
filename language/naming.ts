/** Words for messages: what a declaration is, what a reference expects, "did you mean". */
import type { AstNode } from 'langium';

const KIND_WORDS: Record<string, string> = {
    World: 'world',
    Dataset: 'dataset',
    Split: 'split',
    Model: 'model',
    Decoding: 'decoding',
    Label: 'label set',
    Shuffle: 'shuffled label set',
    Mix: 'mixed label set',
    Knowledge: 'knowledge step',
    Finetune: 'fine-tuned model',
    Evaluate: 'evaluation',
    Hypothesis: 'hypothesis',
    Experiment: 'experiment',
};

const EXPECTED_WORDS: Record<string, string> = {
    ModelLike: 'a model or fine-tuned model',
    LabelSet: 'a label set',
    World: 'a world',
    Dataset: 'a dataset',
    Split: 'a split',
    Decoding: 'a decoding',
    Knowledge: 'a knowledge step',
    Evaluate: 'an evaluation',
};

export function kindWord(nodeOrType: AstNode | string): string {
    const type = typeof nodeOrType === 'string' ? nodeOrType : nodeOrType.$type;
    return KIND_WORDS[type] ?? type.toLowerCase();
}

export function expectedWord(referenceType: string): string {
    return EXPECTED_WORDS[referenceType] ?? `a ${referenceType.toLowerCase()}`;
}

/** Optimal string alignment distance (Levenshtein with transpositions), case-insensitive. */
export function editDistance(a: string, b: string): number {
    a = a.toLowerCase();
    b = b.toLowerCase();
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}

/** The closest candidate within a distance that still looks like a typo, if any. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3) + 1));
    for (const c of candidates) {
        if (c === word) continue;
        const dist = editDistance(word, c);
        if (dist < bestDistance || (dist === bestDistance && best !== undefined && c < best)) {
            best = c;
            bestDistance = dist;
        }
    }
    if (best === undefined) return undefined;
    // Replacing most of the word is not a typo ('a' → 'f').
    if (bestDistance * 2 > Math.max(word.length, best.length)) return undefined;
    if (bestDistance <= limit || best.toLowerCase() === word.toLowerCase() || best.toLowerCase().startsWith(word.toLowerCase())) return best;
    return undefined;
}

const DECLARE: Record<string, (name: string) => string> = {
    ModelLike: (n) => `model ${n} = pretrain on <world> { knows 50% }`,
    LabelSet: (n) => `label ${n} = answers of <model> on <dataset>.train`,
    World: (n) => `world ${n} { entities 300 }`,
    Dataset: (n) => `dataset ${n} from <world> { split train 60%  split test 40% }`,
    Decoding: (n) => `decoding ${n} { temperature 0 }`,
    Knowledge: (n) => `knowledge ${n} = <model> on <dataset>.train`,
    Evaluate: (n) => `evaluate ${n} = <models> on <dataset>.test`,
};

/** A declaration of the expected kind with the given name, to show how to define a missing one. */
export function declarationExample(referenceType: string, name: string): string | undefined {
    return DECLARE[referenceType]?.(name);
}
