/**
 * Models and what is done to them. Codes: remote-finetune (a server model cannot be fine-tuned
 * here), quantized-finetune (full fine-tuning needs F32/F16/BF16 weights; LoRA trains on a quantized
 * base of the types the trainer reads), unsupported-architecture (a GGUF the trainer has no graph
 * for), teacher-not-larger (the
 * "large" model that writes labels for a student is not larger, or knows less), mix-other-model
 * (SliCK categories measured on another model than the one fine-tuned).
 */
import type { ValidationAcceptor } from 'langium';
import { isFlag, isMix, type Finetune, type Model } from '../generated/ast.js';
import { documentOf, labelOrigin, resolveSpecPath, rootModel, teacherOf } from '../experiment.js';
import { propertiesOf, readNumber, readProperty, unquote } from '../properties.js';
import { Codes } from './codes.js';
import type { FileInfoCache } from './file-info.js';
import { pct, report } from './util.js';
import { ARCHITECTURE_FAMILIES } from './train-modes.js';

interface Size {
    /** Comparable size: parameters, or layers × width² for embedded models. */
    size: number;
    words: string;
    knows?: number;
}

function human(n: number): string {
    return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

function pretrainSize(model: Model): Size | undefined {
    if (model.source === 'pretrain') {
        const props = propertiesOf(model.body);
        const layers = readNumber('model-pretrain', props, 'layers') ?? 2;
        const width = readNumber('model-pretrain', props, 'width') ?? 128;
        const knows = readNumber('model-pretrain', props, 'knows');
        return { size: layers * width * width, words: `${layers} layers × width ${width}${knows !== undefined ? `, knows ${pct(knows)}` : ''}`, knows };
    }
    return undefined;
}

async function sizeOf(model: Model, files: FileInfoCache): Promise<Size | undefined> {
    if (model.source === 'pretrain') return pretrainSize(model);
    if (model.source === 'gguf' && model.path) {
        const info = await files.gguf(resolveSpecPath(documentOf(model), unquote(model.path)));
        if (info.ok && info.value.parameters) return { size: info.value.parameters, words: `${human(info.value.parameters)} parameters` };
    }
    return undefined;
}

/** Synchronous unless a GGUF's metadata must be read (most specs: no promise per fine-tune). */
export function checkFinetune(ft: Finetune, files: FileInfoCache, accept: ValidationAcceptor): void | Promise<void> {
    const base = rootModel(ft.model?.ref);
    if (!base) return;
    const teacher = rootModel(teacherOf(ft.labels?.ref));
    if (base.source === 'gguf' || teacher?.source === 'gguf') return checkFinetuneAsync(ft, base, teacher, files, accept);
    checkFinetuneSync(ft, base, teacher, pretrainSize(base), teacher ? pretrainSize(teacher) : undefined, accept);
}

async function checkFinetuneAsync(ft: Finetune, base: Model, teacher: Model | undefined, files: FileInfoCache, accept: ValidationAcceptor): Promise<void> {
    if (base.source === 'server') {
        report(accept, 'error', Codes.remoteFinetune, `'${base.name}' is served over HTTP and cannot be fine-tuned here; fine-tune a local GGUF (F32/F16) or an embedded \`pretrain\` model.`, {
            node: ft,
            property: 'model',
        });
    } else if (base.source === 'gguf' && base.path) {
        const info = await files.gguf(resolveSpecPath(documentOf(base), unquote(base.path)));
        if (info.ok && info.value.type !== 'adapter') {
            // an adapter is gguf-invalid already
            const m = info.value.training;
            const full = (ft.body?.items ?? []).some((i) => isFlag(i) && i.flag === 'full');
            if (m.unsupportedArchitecture !== undefined) {
                report(
                    accept,
                    'error',
                    Codes.unsupportedArchitecture,
                    `'${base.name}' is a ${m.unsupportedArchitecture} model; the trainer implements ${ARCHITECTURE_FAMILIES}. It can still answer (\`answers of\`, \`evaluate\`), not be fine-tuned here.`,
                    { node: ft, property: 'model', data: { architecture: m.unsupportedArchitecture } },
                );
            } else if (full && !m.full) {
                report(
                    accept,
                    'error',
                    Codes.quantizedFinetune,
                    `'${base.name}' is quantized (${info.value.fileType ?? m.fullWhy}); full fine-tuning needs F32, F16 or BF16 weights. Drop \`full\` to train LoRA on this file, or use the model's F16 GGUF.`,
                    { node: ft, property: 'model', data: { fileType: info.value.fileType } },
                );
            } else if (!full && !m.lora && readProperty('finetune', propertiesOf(ft.body), 'trainer') === 'embedded') {
                // (an external trainer trains on the Hugging Face weights; llama.cpp applies the adapter to any tensor type)
                report(accept, 'error', Codes.quantizedFinetune, `'${base.name}' cannot be LoRA-trained: ${m.loraWhy}.`, { node: ft, property: 'model', data: { fileType: info.value.fileType } });
            }
        }
    }

    const [t, s] = teacher && teacher !== base ? await Promise.all([sizeOf(teacher, files), sizeOf(base, files)]) : [undefined, undefined];
    checkFinetuneSync(ft, base, teacher, s, t, accept, true);
}

function checkFinetuneSync(ft: Finetune, base: Model, teacher: Model | undefined, s: Size | undefined, t: Size | undefined, accept: ValidationAcceptor, fileChecked = false): void {
    if (!fileChecked && base.source === 'server') {
        report(accept, 'error', Codes.remoteFinetune, `'${base.name}' is served over HTTP and cannot be fine-tuned here; fine-tune a local GGUF (F32/F16) or an embedded \`pretrain\` model.`, {
            node: ft,
            property: 'model',
        });
    }
    // The mismatch needs a teacher that is larger (and, for embedded models, knows more).
    if (teacher && teacher !== base) {
        if (t && s && teacher.source === base.source) {
            const labels = ft.labels?.ref?.name ?? 'the labels';
            if (t.size <= s.size) {
                report(
                    accept,
                    'warning',
                    Codes.teacherNotLarger,
                    `The labels '${labels}' are written by '${teacher.name}' (${t.words}), which is not larger than the student '${base.name}' (${s.words}); a knowledge-mismatch experiment needs a larger teacher.`,
                    { node: ft, property: 'labels', data: { teacher: teacher.name, student: base.name } },
                );
            } else if (t.knows !== undefined && s.knows !== undefined && t.knows <= s.knows) {
                report(
                    accept,
                    'warning',
                    Codes.teacherNotLarger,
                    `The teacher '${teacher.name}' knows ${pct(t.knows)} of the facts, no more than the student '${base.name}' (${pct(s.knows)}): its labels cannot hold knowledge the student lacks.`,
                    { node: ft, property: 'labels', data: { teacher: teacher.name, student: base.name } },
                );
            }
        }
    }

    const origin = labelOrigin(ft.labels?.ref);
    if (isMix(origin)) {
        const measured = rootModel(origin.knowledge?.ref?.model?.ref);
        if (measured && measured !== base) {
            report(
                accept,
                'warning',
                Codes.mixOtherModel,
                `The mix '${origin.name}' sorts questions by what '${measured.name}' knows, but it fine-tunes '${base.name}'; Unknown examples are meant to be unknown to the model being fine-tuned.`,
                { node: ft, property: 'labels' },
            );
        }
    }
}
