/**
 * The IDE services in process, with Langium's test helpers: completion, hover, formatting,
 * outline, go to definition / references / rename across an import, semantic tokens, quick fixes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument, URI, type LangiumDocument } from 'langium';
import { NodeFileSystem } from 'langium/node';
import { clearDocuments, expectCompletion, expectFormatting, expectHover, expectSemanticToken, expectSymbols, highlightHelper, parseHelper, testCodeAction, validationHelper } from 'langium/test';
import { SemanticTokenTypes, type CodeAction, type CompletionList, type DocumentSymbol } from 'vscode-languageserver';
import { createMismatchServices } from '../../language/mismatch-module.js';
import { writeGguf } from '../../engine/train/api.js';
import { repoRoot } from './lsp-client.js';

const services = createMismatchServices(NodeFileSystem).Mismatch;
const complete = expectCompletion(services);
const hover = expectHover(services);
const format = expectFormatting(services);
const symbols = expectSymbols(services);
const parse = parseHelper(services);

let dir: string;
let specUri: string;
// DESIGN.md's sketch (the quickstart's first version): the example's sizes are tuned for the CPU by
// the embedded-default work, and these tests pin hovers on the sketch's numbers.
const quickstart = readFileSync(join(repoRoot, 'test/language/fixtures/sketch.mismatch'), 'utf8');

beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mismatch-ide-'));
    mkdirSync(join(dir, 'data'));
    mkdirSync(join(dir, 'models'));
    writeFileSync(
        join(dir, 'data/trivia.jsonl'),
        Array.from({ length: 50 }, (_, i) => JSON.stringify({ question: `Q${i}?`, answer: { value: `A${i}`, aliases: [`A${i}`, `a${i}`] }, meta: { source: 'test' } })).join('\n') + '\n',
    );
    writeFileSync(join(dir, 'data/qa.csv'), 'query,gold\n"Capital of Zanth?",Orv\nQ2,B\nQ3,C\n');
    writeFileSync(join(dir, 'models/notes.txt'), 'not a model');
    writeFileSync(join(dir, 'models/fake.gguf'), 'this is not a gguf file at all');
    // A real (tiny) GGUF header through the trainer's writer: hover reads only the metadata.
    writeGguf(
        join(dir, 'models/tiny.gguf'),
        [
            ['general.architecture', { type: 'string', value: 'llama' }],
            ['general.name', { type: 'string', value: 'tiny-test' }],
            ['general.file_type', { type: 'u32', value: 1 }],
            ['llama.context_length', { type: 'u32', value: 256 }],
            ['llama.block_count', { type: 'u32', value: 2 }],
            ['llama.embedding_length', { type: 'u32', value: 16 }],
        ],
        [
            { name: 'token_embd.weight', shape: [16, 32], data: new Float32Array(16 * 32) },
            { name: 'output.weight', shape: [16, 32], data: new Float32Array(16 * 32) },
        ],
    );
    specUri = pathToFileURL(join(dir, 'spec.mismatch')).toString();
});

afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
});

const labels = (list: CompletionList): string[] => list.items.map((i) => i.label);
const inDir = () => ({ documentUri: specUri });

describe('completion', () => {
    it('offers the statement keywords at the top of an experiment, not block items', async () => {
        await complete({
            text: 'experiment E {\n  seed 7\n  <|>\n}',
            index: 0,
            disposeAfterCheck: true,
            assert: (list) => {
                expect(labels(list)).toEqual(expect.arrayContaining(['world', 'dataset', 'model', 'decoding', 'label', 'knowledge', 'finetune', 'evaluate', 'hypothesis']));
                expect(labels(list)).not.toContain('lora');
                expect(labels(list)).not.toContain('split');
                // settings of the experiment, with documentation
                const seeds = list.items.find((i) => i.label === 'seeds');
                expect(JSON.stringify(seeds?.documentation)).toMatch(/seeds/);
                // `seed` is already set
                expect(labels(list)).not.toContain('seed');
            },
        });
    });

    it('offers the keywords that can come next in a statement', async () => {
        const base = quickstart.replace('  decoding greedy', '  model extra = <|>\n  hypothesis small hallucinates <|>\n  decoding greedy');
        await complete({ text: base, index: 0, disposeAfterCheck: true, assert: (l) => expect(labels(l).sort()).toEqual(['gguf', 'pretrain', 'server']) });
        await complete({ text: base, index: 1, disposeAfterCheck: true, assert: (l) => expect(labels(l).sort()).toEqual(['less', 'more']) });
        await complete({
            text: quickstart.replace('hypothesis smallOnLarge hallucinates more than smallOnSmall at matched coverage', 'hypothesis smallOnLarge hallucinates more than smallOnSmall <|>'),
            index: 0,
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l)).toEqual(expect.arrayContaining(['at', 'in', 'alpha'])),
        });
    });

    it('offers only references of the expected type', async () => {
        const text = quickstart
            .replace('finetune smallOnShuffled = small on shuffled', 'finetune smallOnShuffled = <|>small on <|>shuffled')
            .replace('label byLarge = answers of large on trivia.train', 'label byLarge = answers of <|>large on <|>trivia.train');
        // (markers in text order) a model after `answers of`: models and fine-tuned models only
        await complete({
            text,
            index: 0,
            disposeAfterCheck: true,
            assert: (l) => {
                expect(labels(l)).toEqual(expect.arrayContaining(['large', 'small', 'smallOnLarge', 'smallOnSmall', 'smallOnShuffled']));
                expect(labels(l)).not.toContain('atlas');
                expect(labels(l)).not.toContain('trivia');
                expect(labels(l)).not.toContain('byLarge');
            },
        });
        // a dataset after `on` in a label
        await complete({ text, index: 1, disposeAfterCheck: true, assert: (l) => expect(labels(l)).toEqual(['trivia']) });
        // the model of a finetune: never the finetune itself
        await complete({
            text,
            index: 2,
            disposeAfterCheck: true,
            assert: (l) => {
                expect(labels(l)).toEqual(expect.arrayContaining(['large', 'small', 'smallOnLarge', 'smallOnSmall']));
                expect(labels(l)).not.toContain('smallOnShuffled');
            },
        });
        // a label set after `on` in a finetune
        await complete({ text, index: 3, disposeAfterCheck: true, assert: (l) => expect(labels(l).sort()).toEqual(['byLarge', 'bySmall', 'shuffled']) });
    });

    it('offers the splits of the dataset after the dot', async () => {
        await complete({
            text: quickstart.replace('evaluate smallOnLarge, smallOnSmall, smallOnShuffled, small on trivia.test', 'evaluate smallOnLarge, smallOnSmall, smallOnShuffled, small on trivia.<|>test'),
            index: 0,
            disposeAfterCheck: true,
            expectedItems: ['test', 'train'].sort(),
            itemToString: (i) => i.label,
        }).catch(async () => {
            // order-insensitive fallback with a precise message
            await complete({
                text: quickstart.replace('small on trivia.test', 'small on trivia.<|>test'),
                index: 0,
                disposeAfterCheck: true,
                assert: (l) => expect(labels(l).sort()).toEqual(['test', 'train']),
            });
        });
    });

    it('offers the properties of the block, with documentation, leaving out those already set', async () => {
        await complete({
            text: quickstart.replace(
                'finetune smallOnLarge = small on byLarge { lora rank 8  epochs 3  learningRate 1e-3 }',
                'finetune smallOnLarge = small on byLarge { lora rank 8  epochs 3  <|> }',
            ),
            index: 0,
            disposeAfterCheck: true,
            assert: (l) => {
                expect(labels(l)).toEqual(expect.arrayContaining(['learningRate', 'batch', 'validation', 'seed']));
                expect(labels(l)).not.toContain('epochs');
                expect(labels(l)).not.toContain('temperature');
                expect(labels(l)).not.toContain('split');
                const lr = l.items.find((i) => i.label === 'learningRate')!;
                expect(lr.detail).toMatch(/number/);
                expect(JSON.stringify(lr.documentation)).toMatch(/learning rate/i);
            },
        });
        await complete({
            text: 'experiment E {\n  world w\n  dataset d from w { <|> }\n}',
            index: 0,
            disposeAfterCheck: true,
            assert: (l) => {
                expect(labels(l)).toContain('split');
                expect(labels(l)).toContain('seed');
                expect(labels(l)).not.toContain('question');
                expect(labels(l)).not.toContain('lora');
            },
        });
        // a half-typed block at the end of the file (does not parse): found from the text
        await complete({
            text: 'experiment E {\n  model m = pretrain on w { lay<|>',
            index: 0,
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l)).toContain('layers'),
        });
    });

    it('offers the values of a property that takes one of a set of names', async () => {
        await complete({
            text: 'experiment E {\n  finetune f = m on l { lora  schedule <|> }\n  model s = server "http://x/v1" { logprobs <|>\n}',
            index: 0,
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l)).toEqual(['constant', 'linear', 'cosine']),
        });
        await complete({
            text: 'experiment E {\n  model s = server "http://x/v1" { logprobs <|> }\n}',
            index: 0,
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l)).toEqual(['true', 'false']),
        });
    });

    it('completes file paths relative to the spec, by kind', async () => {
        await complete({
            text: 'experiment E {\n  model m = gguf "models/<|>"\n  dataset d from "<|>"\n  dataset e from "data/<|>"\n}',
            index: 0,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l).sort()).toEqual(['fake.gguf', 'tiny.gguf']),
        });
        await complete({
            text: 'experiment E {\n  dataset d from "<|>"\n}',
            index: 0,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l)).toEqual(['data/', 'models/']),
        });
        await complete({
            text: 'experiment E {\n  dataset d from "data/<|>"\n}',
            index: 0,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l)).toEqual(['qa.csv', 'trivia.jsonl']),
        });
        await complete({
            text: 'import "<|>"\nexperiment E {\n}',
            index: 0,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            // no other spec in the folder yet: only folders
            assert: (l) => expect(labels(l)).toEqual(['data/', 'models/']),
        });
        // without quotes yet: quoted paths, searched below the spec
        await complete({
            text: 'experiment E {\n  model m = gguf <|>\n}',
            index: 0,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l)).toEqual(expect.arrayContaining(['"models/tiny.gguf"'])),
        });
    });

    it('completes dataset field paths read from the file (JSONL nested, CSV header)', async () => {
        await complete({
            text: 'experiment E {\n  dataset d from "data/trivia.jsonl" { question "<|>"  answers "answer.<|>" }\n}',
            index: 1,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            assert: (l) => {
                expect(labels(l)).toEqual(['question', 'answer', 'answer.value', 'answer.aliases', 'meta', 'meta.source']);
                expect(l.items.find((i) => i.label === 'answer.aliases')?.detail).toBe('array of string');
            },
        });
        await complete({
            text: 'experiment E {\n  dataset d from "data/qa.csv" {\n    question "<|>"\n  }\n}',
            index: 0,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            assert: (l) => expect(labels(l)).toEqual(['query', 'gold']),
        });
    });
});

describe('hover', () => {
    it('documents keywords and property keys', async () => {
        await hover({
            text: quickstart.replace('hypothesis smallOnLarge hallucinates more than smallOnSmall at', '<|>hypothesis smallOnLarge hallucinates more than smallOnSmall at'),
            index: 0,
            hover: /McNemar/,
            disposeAfterCheck: true,
        });
        await hover({ text: quickstart.replace('learningRate', '<|>learningRate'), index: 0, hover: /Peak learning rate[\s\S]*Default: `0.001`/, disposeAfterCheck: true });
        await hover({ text: quickstart.replace('knows 75%', '<|>knows 75%'), index: 0, hover: /share/, disposeAfterCheck: true });
    });

    it("shows a pretrained model's size and a world dataset's rows and split sizes", async () => {
        await hover({
            text: quickstart.replace('label byLarge = answers of large', 'label byLarge = answers of <|>large'),
            index: 0,
            hover: /layers \| 4[\s\S]*width \| 128[\s\S]*≈ 675 of 900 facts/,
            disposeAfterCheck: true,
        });
        await hover({
            text: quickstart.replace('on trivia.train using greedy { otherwise', 'on <|>trivia.train using greedy { otherwise'),
            index: 0,
            hover: /900 rows[\s\S]*split train \| 540 rows[\s\S]*split test \| 360 rows/,
            disposeAfterCheck: true,
        });
        await hover({ text: quickstart.replace('world atlas', 'world <|>atlas'), index: 0, hover: /300 entities × 3 relations.*900 facts/, disposeAfterCheck: true });
    });

    it("shows a file dataset's fields and row count, and a GGUF model's metadata", async () => {
        await hover({
            text: 'experiment E {\n  dataset <|>d from "data/trivia.jsonl" { question "question"  answers "answer.aliases"  split train 80%  split test 20% }\n}',
            index: 0,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            hover: /`answer.aliases` \(array of string\)[\s\S]*50 rows[\s\S]*split train \| 40 rows[\s\S]*split test \| 10 rows/,
        });
        await hover({
            text: 'experiment E {\n  model <|>m = gguf "models/tiny.gguf"\n}',
            index: 0,
            parseOptions: inDir(),
            disposeAfterCheck: true,
            hover: /architecture \| llama[\s\S]*parameters \| 1.0 k[\s\S]*quantization \| F16[\s\S]*context length \| 256/,
        });
        await hover({ text: 'experiment E {\n  model <|>m = gguf "models/fake.gguf"\n}', index: 0, parseOptions: inDir(), disposeAfterCheck: true, hover: /not a GGUF file/ });
    });
});

describe('formatting', () => {
    it('indents blocks, puts one statement per line and normalises spacing', async () => {
        await format({
            before: 'experiment   E{\nseed 7\n      world atlas {entities 300   relations capital ,founder}\n  dataset trivia from atlas{ split train 60%  split test 40%}\nlabel l = answers of m on trivia . train using g\nmodel m = pretrain on atlas {\nlayers 2\n      width 64\n}\n   }',
            options: { tabSize: 2, insertSpaces: true },
            after: 'experiment E {\n  seed 7\n  world atlas { entities 300  relations capital, founder }\n  dataset trivia from atlas { split train 60%  split test 40% }\n  label l = answers of m on trivia.train using g\n  model m = pretrain on atlas {\n    layers 2\n    width 64\n  }\n}',
            disposeAfterCheck: true,
        });
    });

    it('leaves the examples as they are (they are formatted), comments included', async () => {
        await format({ before: quickstart, after: quickstart, options: { tabSize: 2, insertSpaces: true }, disposeAfterCheck: true });
    });
});

describe('formatting every example', () => {
    const examples = readdirSync(join(repoRoot, 'examples'), { withFileTypes: true })
        .filter((f) => f.isFile() && f.name.endsWith('.mismatch'))
        .map((f) => f.name);
    it.each(examples)('%s: changes only whitespace, and formatting twice changes nothing more', async (name) => {
        const text = readFileSync(join(repoRoot, 'examples', name), 'utf8');
        const options = { tabSize: 2, insertSpaces: true };
        const formatOnce = async (input: string) => {
            const doc = await parse(input);
            const edits = await services.lsp.Formatter!.formatDocument(doc, { textDocument: { uri: doc.uri.toString() }, options });
            const out = TextDocument.applyEdits(doc.textDocument, edits);
            await clearDocuments(services, [doc]);
            return out;
        };
        const once = await formatOnce(text);
        expect(once.replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
        expect(await formatOnce(once)).toBe(once);
    });
});

describe('outline', () => {
    it('lists every step, unnamed evaluations and hypotheses with a readable label', async () => {
        await symbols({
            text: quickstart,
            disposeAfterCheck: true,
            expectedSymbols: ['KnowledgeMismatch'],
        });
        const doc = await parse(quickstart);
        const list = (await services.lsp.DocumentSymbolProvider!.getSymbols(doc, { textDocument: { uri: doc.uri.toString() } })) as DocumentSymbol[];
        const names = list[0].children!.map((c) => c.name);
        expect(names).toEqual([
            'atlas',
            'trivia',
            'large',
            'small',
            'greedy',
            'byLarge',
            'bySmall',
            'shuffled',
            'smallOnLarge',
            'smallOnSmall',
            'smallOnShuffled',
            'evaluate smallOnLarge, smallOnSmall, smallOnShuffled, small on trivia.test',
            'hypothesis smallOnLarge hallucinates more than smallOnSmall',
            'hypothesis smallOnLarge hallucinates more than smallOnSmall at matched coverage',
            'hypothesis smallOnShuffled hallucinates more than smallOnSmall at matched coverage',
        ]);
        expect(list[0].children!.find((c) => c.name === 'trivia')!.children!.map((c) => c.name)).toEqual(['train', 'test']);
        expect(list[0].children!.find((c) => c.name === 'byLarge')!.detail).toBe('answers of large on trivia.train');
        await clearDocuments(services, [doc]);
    });
});

describe('definition, references and rename across an import', () => {
    let common: LangiumDocument;
    let main: LangiumDocument;
    const commonText = 'world atlas { entities 50  relations capital }\ndataset trivia from atlas { split train 50%  split test 50% }\n';
    const mainText =
        'import "common.mismatch"\nexperiment E {\n  model small = pretrain on atlas { layers 1  width 32 }\n  label l = answers of small on trivia.train\n  evaluate small on trivia.test\n}\n';

    beforeAll(async () => {
        common = await parse(commonText, { documentUri: pathToFileURL(join(dir, 'common.mismatch')).toString() });
        main = await parse(mainText, { documentUri: pathToFileURL(join(dir, 'main.mismatch')).toString() });
        await services.shared.workspace.DocumentBuilder.build([common, main], { validation: true });
    });
    afterAll(async () => {
        await clearDocuments(services, [common, main]);
    });

    it('goes to the definition in the imported file', async () => {
        const offset = mainText.indexOf('atlas');
        const links = await services.lsp.DefinitionProvider!.getDefinition(main, { textDocument: { uri: main.uri.toString() }, position: main.textDocument.positionAt(offset) });
        expect(links?.length).toBe(1);
        expect(links![0].targetUri).toBe(common.uri.toString());
        expect(links![0].targetSelectionRange.start).toEqual(common.textDocument.positionAt(commonText.indexOf('atlas')));
    });

    it('finds the references in both files', async () => {
        const refs = await services.lsp.ReferencesProvider!.findReferences(common, {
            textDocument: { uri: common.uri.toString() },
            position: common.textDocument.positionAt(commonText.indexOf('trivia')),
            context: { includeDeclaration: true },
        });
        const where = refs.map((r) => `${URI.parse(r.uri).path.split('/').pop()}:${r.range.start.line}`).sort();
        expect(where).toEqual(['common.mismatch:1', 'main.mismatch:3', 'main.mismatch:4']);
    });

    it('renames in both files', async () => {
        const edit = await services.lsp.RenameProvider!.rename(main, {
            textDocument: { uri: main.uri.toString() },
            position: main.textDocument.positionAt(mainText.indexOf('atlas')),
            newName: 'globe',
        });
        const changes = edit!.changes!;
        expect(changes[common.uri.toString()].map((e) => e.newText)).toEqual(['globe', 'globe']);
        expect(changes[main.uri.toString()].length).toBe(1);
        // a split renames through `trivia.train`
        const split = await services.lsp.RenameProvider!.rename(main, {
            textDocument: { uri: main.uri.toString() },
            position: main.textDocument.positionAt(mainText.indexOf('trivia.train') + 'trivia.'.length),
            newName: 'fit',
        });
        expect(Object.values(split!.changes!).flat().length).toBe(2);
    });
});

describe('semantic tokens', () => {
    it('colours names by what they are, properties, numbers and their units', async () => {
        const tokens = await highlightHelper(services)(
            'experiment E {\n  world <|atlas|> { <|entities|> <|300|>  relations capital }\n  dataset <|d|> from <|atlas|> { split train <|60|><|%|> }\n  model <|m|> = gguf <|"x.gguf"|>\n}',
        );
        expectSemanticToken(tokens, { rangeIndex: 0, tokenType: SemanticTokenTypes.namespace });
        expectSemanticToken(tokens, { rangeIndex: 1, tokenType: SemanticTokenTypes.property });
        expectSemanticToken(tokens, { rangeIndex: 2, tokenType: SemanticTokenTypes.number });
        expectSemanticToken(tokens, { rangeIndex: 3, tokenType: SemanticTokenTypes.struct });
        expectSemanticToken(tokens, { rangeIndex: 4, tokenType: SemanticTokenTypes.namespace });
        expectSemanticToken(tokens, { rangeIndex: 5, tokenType: SemanticTokenTypes.number });
        expectSemanticToken(tokens, { rangeIndex: 6, tokenType: SemanticTokenTypes.keyword });
        expectSemanticToken(tokens, { rangeIndex: 7, tokenType: SemanticTokenTypes.class });
        expectSemanticToken(tokens, { rangeIndex: 8, tokenType: SemanticTokenTypes.string });
    });
});

describe('quick fixes', () => {
    const fix = testCodeAction(services);
    const check = async (before: string, code: string, after: string, title: RegExp, options?: { documentUri: string }) => {
        const result = await fix(before, code, after, options);
        expect(result.action?.title).toMatch(title);
        await clearDocuments(services, [result.document]);
    };

    it('renames an unknown reference to the suggestion', async () => {
        await check(quickstart.replace('finetune smallOnSmall = small on bySmall', 'finetune smallOnSmall = smal on bySmall'), 'unknown-reference', quickstart, /Change to 'small'/);
    });

    it('renames an unknown property key to the suggestion', async () => {
        await check(
            quickstart.replace('lora rank 8  epochs 3  learningRate 1e-3 }\n  finetune smallOnSmall', 'lora rank 8  epoch 3  learningRate 1e-3 }\n  finetune smallOnSmall'),
            'unknown-property',
            quickstart,
            /epochs/,
        );
    });

    it('adds the missing unit', async () => {
        await check(quickstart.replace('knows 75%', 'knows 75'), 'missing-unit', quickstart, /75%/);
    });

    it('adds a seed to an unseeded sampling step', async () => {
        const base = 'experiment E {\n  decoding hot { temperature 0.7  maxTokens 8 }\n}\n';
        await check(base, 'unseeded-sampling', base.replace('maxTokens 8 }', 'maxTokens 8  seed 1 }'), /seed 1/);
        const multi = 'experiment E {\n  decoding hot {\n    temperature 0.7\n  }\n}\n';
        await check(multi, 'unseeded-sampling', multi.replace('temperature 0.7\n', 'temperature 0.7\n    seed 1\n'), /seed 1/);
    });

    it('maps a dataset field to the one the file has', async () => {
        // (testCodeAction re-parses under the same URI, so this one applies the fix by hand)
        const before = 'experiment E {\n  dataset d from "data/trivia.jsonl" { question "question"  answers "answer.alias" }\n}\n';
        const result = await validationHelper(services)(before, inDir());
        const diagnostic = result.diagnostics.find((d) => (d.data as { code?: string })?.code === 'dataset-field-missing');
        expect(diagnostic?.message).toMatch(/answer\.aliases/);
        const actions = (await services.lsp.CodeActionProvider!.getCodeActions(result.document, {
            textDocument: { uri: result.document.uri.toString() },
            range: diagnostic!.range,
            context: { diagnostics: [diagnostic!] },
        })) as CodeAction[];
        expect(actions.length).toBe(1);
        const after = TextDocument.applyEdits(result.document.textDocument, actions[0].edit!.changes![result.document.uri.toString()]);
        expect(after).toBe(before.replace('"answer.alias"', '"answer.aliases"'));
        await clearDocuments(services, [result.document]);
    });
});
