/**
 * The TextMate grammar (for editors without semantic tokens) colours the categories the language
 * has: every keyword of the Langium grammar, every property key of the validator's table, declared
 * names, numbers and their units. Its patterns are checked with JavaScript regular expressions
 * (the ones used here mean the same in Oniguruma).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmptyFileSystem, GrammarAST, AstUtils } from 'langium';
import { createMismatchServices } from '../../language/mismatch-module.js';
import { PROPERTY_TABLE } from '../../language/properties.js';
import { repoRoot } from './lsp-client.js';

interface Pattern {
    match?: string;
    name?: string;
    patterns?: Pattern[];
    include?: string;
    captures?: Record<string, { name: string }>;
}
const grammar = JSON.parse(readFileSync(join(repoRoot, 'syntaxes/mismatch.tmLanguage.json'), 'utf8')) as { scopeName: string; repository: Record<string, Pattern>; patterns: Pattern[] };
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));

function matches(p: Pattern): RegExp[] {
    return [...(p.match ? [new RegExp(p.match, 'g')] : []), ...(p.patterns ?? []).flatMap(matches)];
}

/** Scope names given to `word` in `line` by the first repository pattern (in the grammar's order) that matches there. */
function scopesAt(line: string, word: string): string[] {
    const at = line.indexOf(word);
    const out: string[] = [];
    for (const { include } of grammar.patterns) {
        const rule = grammar.repository[include!.slice(1)];
        const rules = rule.patterns ?? [rule];
        for (const r of rules) {
            if (!r.match) continue;
            for (const m of line.matchAll(new RegExp(r.match, 'gd'))) {
                const groups = (m as RegExpMatchArray & { indices: Array<[number, number] | undefined> }).indices;
                groups.forEach((span, i) => {
                    if (!span || span[0] !== at || span[1] !== at + word.length) return;
                    const name = i === 0 ? r.name : r.captures?.[String(i)]?.name;
                    // TextMate substitutes captures into names (`storage.type.$1`)
                    if (name) out.push(name.replace(/\$(\d)/g, (_, g: string) => m[Number(g)] ?? ''));
                });
            }
        }
        if (out.length) return out;
    }
    return out;
}

describe('TextMate grammar', () => {
    it('is the one package.json contributes, with its scope', () => {
        expect(manifest.contributes.grammars[0].path).toBe('./syntaxes/mismatch.tmLanguage.json');
        expect(grammar.scopeName).toBe(manifest.contributes.grammars[0].scopeName);
        for (const r of Object.values(grammar.repository)) matches(r); // every pattern compiles
    });

    it('colours every keyword of the Langium grammar', () => {
        const services = createMismatchServices(EmptyFileSystem).Mismatch;
        const keywords = new Set(
            AstUtils.streamAllContents(services.Grammar)
                .filter(GrammarAST.isKeyword)
                .map((k) => k.value)
                .filter((v) => /^\w+$/.test(v)),
        );
        const keywordRules = [grammar.repository.keywords, grammar.repository.declarations, grammar.repository.hypothesis].flatMap(matches);
        const missing = [...keywords].filter((k) => !keywordRules.some((re) => new RegExp(re.source).test(` ${k} `)));
        expect(missing).toEqual([]);
    });

    it("colours every property key of the validator's table", () => {
        const keys = new Set(Object.values(PROPERTY_TABLE).flatMap((specs) => specs.map((s) => s.key)));
        const re = new RegExp(grammar.repository.properties.match!);
        const missing = [...keys].filter((k) => !re.test(`{ ${k} 1 }`));
        expect(missing).toEqual([]);
    });

    it('tells declarations, references, properties, numbers and units apart', () => {
        expect(scopesAt('  model large = pretrain on atlas { layers 4  knows 75% }', 'large')).toContain('entity.name.type.model.mismatch');
        expect(scopesAt('  model large = pretrain on atlas { layers 4  knows 75% }', 'layers')).toContain('variable.other.property.mismatch');
        expect(scopesAt('  model large = pretrain on atlas { layers 4  knows 75% }', '75')).toContain('constant.numeric.mismatch');
        expect(scopesAt('  model large = pretrain on atlas { layers 4  knows 75% }', '%')).toContain('keyword.other.unit.mismatch');
        expect(scopesAt('  knowledge small on trivia.train { samples 10 }', 'small')).toEqual(['variable.other.mismatch']);
        expect(scopesAt('  label byLarge = answers of large on trivia.train', 'answers')).toEqual(['keyword.control.mismatch']);
        expect(scopesAt('  dataset d from "x.jsonl" { answers "answer.aliases" }', 'answers')).toEqual(['variable.other.property.mismatch']);
        expect(scopesAt('  finetune f = s on l { lora rank 8  learningRate 1e-3 }', '1e-3')).toContain('constant.numeric.mismatch');
        expect(scopesAt('  world atlas { entities 10k }', 'k')).toContain('keyword.other.unit.mismatch');
        expect(scopesAt('  hypothesis a hallucinates more than b at matched coverage', 'hallucinates')).toContain('keyword.operator.word.mismatch');
    });
});
