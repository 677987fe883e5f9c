/**
 * What the validation tests share: a spec with every kind of step (`spec`, `arms`), a temporary
 * folder per test file for the files a spec reads, tiny GGUF headers, and diagnostics by code.
 */
import { afterEach, beforeAll, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URI } from 'langium';
import { clearDocuments, validationHelper, type ValidationResult } from 'langium/test';
import type { Declaration, MismatchFile } from '../../../language/generated/ast.js';
import { writeGguf, gv } from '../../../engine/train/gguf.js';
import { diagnose, services, type Diag } from '../helpers.js';

export { codes, diagnose, type Diag } from '../helpers.js';

export const withCode = (d: Diag[], code: string) => d.filter((x) => x.code === code);

export const spec = (body: string, header = '  seed 1') => `experiment T {
${header}
  world atlas { entities 100 }
  dataset d from atlas { split train 60%  split test 40% }
  model large = pretrain on atlas { layers 4  width 128  knows 90% }
  model small = pretrain on atlas { layers 2  width 128  knows 40% }
  decoding greedy { temperature 0 }
${body}
}`;

export const arms = `  label byLarge = answers of large on d.train using greedy
  finetune f = small on byLarge
  evaluate f, small on d.test using greedy
  hypothesis f hallucinates more than small`;

export type Result = ValidationResult<MismatchFile>;

/** Our checks put their code in `data.code` (Langium's convention for `expectError(..., { data })`). */
export const code = (c: string) => ({ code: c });

/** The declaration named `name` in the spec's experiment (the node a check reports on). */
export const declarationNamed = (r: Result, name: string): Declaration => {
    const d = r.document.parseResult.value.experiments[0]!.declarations.find((x: Declaration) => x.name === name);
    if (!d) throw new Error(`no declaration '${name}'`);
    return d;
};

/** The diagnostics of one code, in document order (where a test pins the whole list). */
export const withCodeOf = (r: Result, c: string) => r.diagnostics.filter((d) => (d.data as { code?: string } | undefined)?.code === c);

/** No diagnostic other than hints (unused steps have their own test). */
export function expectNoProblems(r: Result): void {
    expect(r.diagnostics.filter((d) => d.severity !== 4).map((d) => `${(d.data as { code?: string } | undefined)?.code}: ${d.message}`)).toEqual([]);
}

const validateHelper = validationHelper<MismatchFile>(services);

/** A temporary folder (made before the file's tests) where specs are validated, so relative paths resolve. */
export function validationFolder(prefix: string) {
    let dir = '';
    let n = 0;
    const opened: Result[] = [];
    beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), prefix));
    });
    // Node 20 has no Symbol.asyncDispose: documents are cleared by hand after each test.
    afterEach(async () => {
        if (opened.length)
            await clearDocuments(
                services,
                opened.splice(0).map((r) => r.document),
            );
    });
    const file = () => join(dir, `spec-${++n}.mismatch`);
    return {
        /** Langium's validationHelper on a file in the folder, for `expectError`/`expectWarning`. */
        validate: async (text: string): Promise<Result> => {
            const r = await validateHelper(text, { documentUri: URI.file(file()).toString() });
            opened.push(r);
            return r;
        },
        get dir() {
            return dir;
        },
        /** Diagnostics without hints (unused steps are covered by their own test). */
        check: async (text: string) => (await diagnose(text, file())).filter((d) => d.severity !== 4),
        checkWithHints: (text: string) => diagnose(text, file()),
        /** A GGUF header with `layers` F32 attention matrices of `width`² (the data is never read). */
        gguf(name: string, opts: { fileType?: number; width?: number; layers?: number; type?: string } = {}): string {
            const width = opts.width ?? 8;
            const layers = opts.layers ?? 1;
            const path = join(dir, name);
            const meta: [string, ReturnType<typeof gv.u32>][] = [
                ['general.architecture', gv.str('llama')],
                ['general.type', gv.str(opts.type ?? 'model')],
                ['general.file_type', gv.u32(opts.fileType ?? 0)],
                ['llama.context_length', gv.u32(256)],
                ['llama.embedding_length', gv.u32(width)],
                ['llama.block_count', gv.u32(layers)],
            ];
            const tensors = Array.from({ length: layers }, (_, i) => ({ name: `blk.${i}.attn_q.weight`, shape: [width, width], data: new Float32Array(width * width) }));
            writeGguf(path, meta, tensors);
            return path;
        },
    };
}
