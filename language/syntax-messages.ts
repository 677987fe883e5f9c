/**
 * Syntax errors in words a researcher reads: what was expected, in the language's terms, and what
 * was found ("the end of the file" rather than `<EOF>`), instead of Chevrotain's token-path lists.
 */
import { LangiumParserErrorMessageProvider } from 'langium';
import type { IToken, TokenType } from 'chevrotain';

const SOFT_KEYWORDS = new Set(['gguf', 'server', 'pretrain', 'matched', 'coverage', 'more', 'less']);

function tokenWord(t: TokenType): string {
    const name = t.name;
    if (name === 'NUMBER') return 'a number (e.g. `8`, `60%`, `1e-3`)';
    if (name === 'STRING') return 'a "quoted string"';
    if (name === 'ID') return 'a name';
    if (name === 'EOF') return 'the end of the file';
    const kw = name.endsWith(':KW') ? name.slice(0, -3) : name;
    return `\`${kw}\``;
}

function found(actual: IToken | undefined): string {
    if (!actual || actual.tokenType?.name === 'EOF' || actual.image === '') return 'the file ends here';
    return `found \`${actual.image}\``;
}

function describeFirstTokens(types: TokenType[]): string {
    const names = new Set(types.map((t) => t.name));
    // Soft keywords are names too: list "a name" once instead of every keyword a name may be.
    const words = [...new Map(types.filter((t) => !(names.has('ID') && SOFT_KEYWORDS.has(t.name.replace(/:KW$/, '')))).map((t) => [t.name, tokenWord(t)])).values()];
    if (words.length === 1) return words[0];
    return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** Langium appends a zero-width space to the names of its Chevrotain rules. */
function hintFor(ruleName: string | undefined): string {
    const hint = RULE_HINTS[(ruleName ?? '').replace(/[\u200B]/g, '')];
    return hint ? ` ${hint}` : '';
}

const RULE_HINTS: Record<string, string> = {
    Model: 'A model is `gguf "file.gguf"`, `server "http://…/v1"` or `pretrain on <world>`.',
    Property: 'A property is a key and a value, e.g. `epochs 3`, `name "x"`, `knows 75%`.',
    Setting: 'A setting is a key and a value, e.g. `seed 7`.',
    Split: 'A split is `split <name> <size>`, e.g. `split test 40%` or `split test 500`.',
    Dataset: 'A dataset is `dataset <name> from <world>` or `dataset <name> from "file.jsonl"`.',
    DataRef: 'Name a dataset, optionally with a split: `trivia.test`.',
    Hypothesis: 'A hypothesis reads `hypothesis A hallucinates more than B [at matched coverage]`.',
    Evaluate: 'An evaluation reads `evaluate A, B on <dataset>.<split> [using <decoding>]`.',
    Label: 'A label step reads `label <name> = answers of <model> on <dataset>.<split> [using <decoding>]`, `= shuffle <labels>` or `= mix <knowledge>`.',
    Finetune: 'A fine-tune reads `finetune <name> = <model> on <labels> { lora rank 8  epochs 3 }`.',
    Knowledge: 'A knowledge step reads `knowledge <name> = <model> on <dataset>.<split> { samples 10 }`.',
};

/** Keywords a user may write for a replicate's stages (`redraw world, split`), and the stage names. */
const REDRAW_KEYWORDS: Record<string, string> = { world: 'facts', split: 'splits', finetune: 'finetuning', label: 'labels' };

function redrawHint(previous: string | undefined, actual: string | undefined): string | undefined {
    if (!actual || !(actual in REDRAW_KEYWORDS) || (previous !== 'redraw' && previous !== ',')) return undefined;
    return ` \`${actual}\` is a keyword; as a stage that a replicate redraws write \`${REDRAW_KEYWORDS[actual]}\` (stages: all, facts, splits, pretraining, labels, finetuning, sampling).`;
}

export class MismatchParserErrorMessageProvider extends LangiumParserErrorMessageProvider {
    override buildMismatchTokenMessage(options: { expected: TokenType; actual: IToken; previous: IToken; ruleName: string }): string {
        const { expected, actual, previous } = options;
        if (expected.name === '}' && (!actual || actual.tokenType?.name === 'EOF')) {
            return 'Missing `}`: a block opened with `{` is not closed before the end of the file.';
        }
        // After error recovery `previous` can lie beyond the token found; name it only when it precedes.
        const after = previous?.image && (!actual || previous.startOffset < actual.startOffset) ? ` after \`${previous.image}\`` : '';
        const hint = hintFor(options.ruleName);
        return `Expected ${tokenWord(expected)}${after}, but ${found(actual)}.${hint}`;
    }

    override buildNoViableAltMessage(options: { expectedPathsPerAlt: TokenType[][][]; actual: IToken[]; previous: IToken; customUserDescription?: string; ruleName: string }): string {
        const first = options.expectedPathsPerAlt.flatMap((alt) => alt.map((path) => path[0]).filter((t): t is TokenType => !!t));
        const after = options.previous?.image ? ` after \`${options.previous.image}\`` : '';
        const hint = redrawHint(options.previous?.image, options.actual[0]?.image) ?? hintFor(options.ruleName);
        return `Expected ${describeFirstTokens(first)}${after}, but ${found(options.actual[0])}.${hint}`;
    }

    override buildEarlyExitMessage(options: { expectedIterationPaths: TokenType[][]; actual: IToken[]; previous: IToken; customUserDescription?: string; ruleName: string }): string {
        const first = options.expectedIterationPaths.map((p) => p[0]).filter((t): t is TokenType => !!t);
        const after = options.previous?.image ? ` after \`${options.previous.image}\`` : '';
        return `Expected ${describeFirstTokens(first)}${after}, but ${found(options.actual[0])}.`;
    }

    override buildNotAllInputParsedMessage(options: { firstRedundant: IToken; ruleName: string }): string {
        return `Unexpected \`${options.firstRedundant.image}\`: a file holds \`import\` lines, then declarations and one \`experiment { … }\` block.`;
    }
}
