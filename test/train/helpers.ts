// Shared helpers for the trainer tests: a small world of QA facts, a tokenizer for it, node-llama-cpp.
import { getLlama, type Llama } from 'node-llama-cpp';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let llamaPromise: Promise<Llama> | undefined;
export function cpuLlama(): Promise<Llama> {
    llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
    return llamaPromise;
}

export function tempDir(prefix = 'mm-train-'): string {
    return mkdtempSync(join(tmpdir(), prefix));
}

const SYL = ['ka', 'lo', 'mi', 'ra', 'ten', 'vu', 'zor', 'pel', 'dan', 'shi', 'qua', 'bre', 'nox', 'fi', 'gal', 'hu', 'jor', 'wex'];
function name(i: number, salt: number): string {
    let x = (i * 7919 + salt * 104729 + 13) >>> 0;
    const n = 2 + (x % 2);
    let s = '';
    for (let k = 0; k < n; k++) { s += SYL[x % SYL.length]; x = Math.floor(x / SYL.length) + k * 31 + 7; }
    return s[0].toUpperCase() + s.slice(1);
}

export interface Fact { prompt: string; answer: string }

/**
 * n facts about fictional entities with multi-token answers: "Q: What is the capital of Kalomi? A:" ->
 * "Rateno Vu" style answers (2–3 words). Deterministic in (n, salt).
 */
export function makeFacts(n: number, salt = 1): Fact[] {
    const rels = [
        ['What is the capital of', 'capital'],
        ['Who founded', 'founder'],
        ['Which river flows through', 'river'],
    ];
    const facts: Fact[] = [];
    const used = new Set<string>();
    for (let i = 0; facts.length < n; i++) {
        const ent = name(i, salt) + (i % 3 === 0 ? '' : ` ${name(i + 1000, salt)}`);
        const [q] = rels[i % rels.length];
        const key = `${q}|${ent}`;
        if (used.has(key)) continue;
        used.add(key);
        const answer = `${name(i + 5000, salt)} ${name(i + 9000, salt)}${i % 2 ? '' : ` ${name(i + 13000, salt)}`}`;
        facts.push({ prompt: `Q: ${q} ${ent}? A:`, answer });
    }
    return facts;
}
