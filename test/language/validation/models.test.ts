/**
 * language/validation/models.ts: teacher and student sizes, what can be fine-tuned here, and the
 * model a mix measured its Unknown examples on. Langium's validationHelper, diagnostics matched
 * by code, severity and the node they sit on.
 */
import { describe, it } from 'vitest';
import { expectError, expectNoIssues, expectWarning } from 'langium/test';
import { arms, code, expectNoProblems, spec, validationFolder } from './fixtures.js';

const folder = validationFolder('mm-models-');
const { validate } = folder;

describe('GGUF and embedded models', () => {
    const ggufSpec = (teacher: string, student: string, body = arms) =>
        spec(body)
            .replace(/model large = .*\n/, `model large = gguf "${teacher}"\n`)
            .replace(/model small = .*\n/, `model small = gguf "${student}"\n`);

    // quantized-finetune and unsupported-architecture: test/language/validation/train-modes.test.ts (files with real tensor types)

    it('teacher-not-larger: by parameter count for GGUF, by layers x width² for embedded models', async () => {
        folder.gguf('tiny.gguf', { width: 8 });
        folder.gguf('large2.gguf', { width: 32, layers: 2 });
        const r = await validate(ggufSpec('tiny.gguf', 'large2.gguf'));
        expectWarning(r, /written by 'large' \(64 parameters\), which is not larger than the student 'small' \(2.0k parameters\)/, { data: code('teacher-not-larger') });
        expectWarning(await validate(spec(arms).replace('layers 4  width 128', 'layers 1  width 64')), /./, { data: code('teacher-not-larger') });
        const knowsLess = await validate(spec(arms).replace('knows 90%', 'knows 30%'));
        expectWarning(knowsLess, /knows 30% of the facts, no more than the student 'small' \(40%\)/, { data: code('teacher-not-larger') });
        // Self-labels are not a teacher/student pair.
        expectNoIssues(await validate(spec(arms.replace('answers of large', 'answers of small'))), { data: code('teacher-not-larger') });
    });

    it('remote-finetune: a server model cannot be fine-tuned here', async () => {
        const r = await validate(spec(arms).replace(/model small = .*\n/, 'model small = server "http://127.0.0.1:8080/v1" { name "s" }\n'));
        expectError(r, /./, { data: code('remote-finetune') });
    });
});

describe('knowledge and mixes', () => {
    const gek = (kData: string, kModel = 'small') =>
        spec(`  knowledge k = ${kModel} on ${kData} { samples 4  fewShot 0 }
  label m = mix k { unknown 50% }
  finetune f = small on m
  evaluate f, small on d.test using greedy by k2
  knowledge k2 = small on d.test { samples 4  fewShot 0 }
  hypothesis f hallucinates more than small`);

    it('a clean Gekhman-style spec', async () => {
        expectNoProblems(await validate(gek('d.train')));
    });

    it('mix-other-model: Unknown examples measured on another model', async () => {
        expectWarning(await validate(gek('d.train', 'large')), /./, { data: code('mix-other-model') });
    });
});
