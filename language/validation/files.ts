/**
 * Files a spec reads. Datasets: missing, a folder, unreadable, not text, malformed first records,
 * a mapped field absent from the first records (nested paths such as `answer.aliases`), an unknown
 * format. GGUF models: missing, unreadable, not a GGUF (header read with node-llama-cpp's
 * `readGgufFileInfo`; weights are never loaded). Never throws: every failure is a diagnostic.
 */
import type { ValidationAcceptor } from 'langium';
import { isSplit, type Dataset, type Import, type Model, type Property } from '../generated/ast.js';
import { outsideWorkspace, pathPolicy } from './path-policy.js';
import { documentOf, resolveSpecPath } from '../experiment.js';
import { closest } from '../naming.js';
import { parseNumber, propertiesOf, readProperty, unquote } from '../properties.js';
import { Codes } from './codes.js';
import { splitSizes } from '../split-sizes.js';
import { formatOf, valueAt, type FileInfoCache, type FileProblem, HEAD_ROWS } from './file-info.js';
import { report } from './util.js';

function describeProblem(what: string, file: string, abs: string, p: FileProblem): string {
    switch (p.kind) {
        case 'missing':
            return `${what} '${file}' not found (looked for ${abs}).`;
        case 'directory':
            return `${what} '${file}' is a folder; name a file inside it.`;
        case 'unreadable':
            return `Cannot read ${what.toLowerCase()} '${file}': ${p.detail}.`;
        case 'not-text':
            return `${what} '${file}' is not a text file (binary content); expected JSONL or CSV.`;
        case 'empty':
            return `${what} '${file}' has no records.`;
        case 'malformed':
            return `${what} '${file}', line ${p.line}: ${p.detail}.`;
        case 'not-gguf':
            return `'${file}' is not a GGUF model: ${p.detail}.`;
    }
}

/**
 * A warning (an error when strict) for a path outside the workspace; true when it is outside, and
 * then the caller reads nothing of the file (a diagnostic must not show its content).
 */
export function outsidePath(abs: string, written: string, specFile: string, where: { node: Dataset | Model | Import; property: 'path' }, accept: ValidationAcceptor): boolean {
    const why = outsideWorkspace(abs, written, specFile);
    if (!why) return false;
    const strict = pathPolicy().strict;
    report(
        accept,
        strict ? 'error' : 'warning',
        Codes.pathOutsideWorkspace,
        `${why}${strict ? ' Files outside the workspace are refused here (--strict, or an untrusted workspace).' : ' Use a path inside the workspace, or accept it (`--strict` makes this an error).'}`,
        { ...where, data: { path: abs } },
    );
    return true;
}

export function checkDatasetFile(dataset: Dataset, files: FileInfoCache, accept: ValidationAcceptor): void {
    if (dataset.path === undefined) return;
    const file = unquote(dataset.path);
    if (!file) {
        report(accept, 'error', Codes.datasetFileMissing, 'Name the dataset file, e.g. `dataset trivia from "data/triviaqa.jsonl"`.', { node: dataset, property: 'path' });
        return;
    }
    const doc = documentOf(dataset);
    const abs = resolveSpecPath(doc, file);
    const props = propertiesOf(dataset.body);
    const declaredFormat = readProperty('dataset-file', props, 'format') as string | undefined;
    if (!formatOf(abs, declaredFormat)) {
        report(accept, 'error', Codes.datasetFormatUnknown, `Cannot tell the format of '${file}' from its extension; add \`format jsonl\` or \`format csv\` to the block, or rename the file.`, {
            node: dataset,
            property: 'path',
            data: { insert: 'format jsonl' },
        });
        return;
    }
    if (outsidePath(abs, file, doc.uri.fsPath, { node: dataset, property: 'path' }, accept)) return;
    const head = files.datasetHead(abs, declaredFormat);
    if (!head.ok) {
        const code =
            head.problem.kind === 'missing' || head.problem.kind === 'directory'
                ? Codes.datasetFileMissing
                : head.problem.kind === 'unreadable'
                  ? Codes.datasetFileUnreadable
                  : Codes.datasetFileInvalid;
        // A file not there yet is a warning that says what belongs there (a spec may name data the
        // user has still to fetch, as examples/bring-your-own.mismatch does); `mismatch run` stops
        // at the first step that reads it. Anything else wrong with a file is an error.
        const missing = head.problem.kind === 'missing';
        const hint = missing ? ' Put a JSONL or CSV file of questions and gold answers there (e.g. TriviaQA records), or change the path; runs stop at the first step that reads it.' : '';
        report(accept, missing ? 'warning' : 'error', code, describeProblem('Dataset file', file, abs, head.problem) + hint, { node: dataset, property: 'path', data: { path: abs } });
        return;
    }
    if (head.value.rows.length === 0) return; // too large to read while typing
    if (head.value.exactRows) {
        const splits = (dataset.body?.items ?? []).filter(isSplit);
        // The same sizes as the engine's cut (the last of shares adding up to 100% takes the remainder).
        const shapes = splits
            .map((s) => parseNumber(s.size ?? ''))
            .filter((n) => n !== undefined)
            .map((n) => (n.unit === '%' ? { share: n.value / 100 } : { count: n.value }));
        const need = splitSizes(shapes, head.value.estimatedRows).reduce((a, b) => a + b, 0);
        if (need > head.value.estimatedRows && splits.length > 0) {
            report(accept, 'error', Codes.splitsOver100, `The splits of '${dataset.name}' need ${need} questions, but '${file}' has ${head.value.estimatedRows} records.`, {
                node: splits[splits.length - 1],
                property: 'size',
                data: { need, records: head.value.estimatedRows },
            });
        }
    }
    const fields = head.value.fields;
    for (const key of ['question', 'answers', 'id'] as const) {
        const prop: Property | undefined = props.find((p) => p.key === key);
        const mapped = readProperty('dataset-file', props, key);
        if (typeof mapped !== 'string') continue;
        const present = head.value.rows.filter((r) => valueAt(r, mapped) !== undefined);
        const where = prop ? { node: prop, property: 'values' as const, index: 0 } : { node: dataset, property: 'path' as const };
        if (present.length === 0) {
            const suggestion =
                closest(mapped, fields) ?? (key === 'answers' ? fields.find((f) => /answer|alias/i.test(f)) : key === 'question' ? fields.find((f) => /question|query|prompt/i.test(f)) : undefined);
            const shown = fields.slice(0, 12).join(', ') + (fields.length > 12 ? ', …' : '');
            const lead = prop
                ? `Field '${mapped}' is not in the first ${Math.min(HEAD_ROWS, head.value.rows.length)} records of '${file}'.`
                : `'${file}' has no field '${mapped}' for the ${key}; map it with \`${key} "<field>"\`.`;
            report(accept, 'error', Codes.datasetFieldMissing, `${lead}${suggestion ? ` Did you mean '${suggestion}'?` : ''} Fields: ${shown}.`, {
                node: where.node,
                property: where.property,
                index: 'index' in where ? where.index : undefined,
                data: { suggestion, replacement: suggestion ? `"${suggestion}"` : undefined, insert: !prop && suggestion ? `${key} "${suggestion}"` : undefined, field: mapped, fields },
            });
            continue;
        }
        if (key === 'answers') {
            const v = valueAt(present[0], mapped);
            const ok = typeof v === 'string' || typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'));
            if (!ok) {
                const inner = fields.filter(
                    (f) =>
                        f.startsWith(`${mapped}.`) &&
                        (() => {
                            const x = valueAt(present[0], f);
                            return typeof x === 'string' || Array.isArray(x);
                        })(),
                );
                report(
                    accept,
                    'error',
                    Codes.datasetFieldMissing,
                    `Field '${mapped}' holds ${Array.isArray(v) ? 'a list of non-strings' : typeof v === 'object' ? 'an object' : typeof v}; the answers must be a string or a list of strings.` +
                        (inner.length ? ` Try '${inner[0]}'.` : ''),
                    {
                        node: where.node,
                        property: where.property,
                        index: 'index' in where ? where.index : undefined,
                        data: { suggestion: inner[0], replacement: inner[0] ? `"${inner[0]}"` : undefined },
                    },
                );
            }
        }
        if (key === 'question') {
            const v = valueAt(present[0], mapped);
            if (typeof v !== 'string') {
                report(accept, 'error', Codes.datasetFieldMissing, `Field '${mapped}' holds ${Array.isArray(v) ? 'a list' : typeof v}; the question must be a string.`, {
                    node: where.node,
                    property: where.property,
                    index: 'index' in where ? where.index : undefined,
                });
            }
        }
    }
}

/** Each server URL is an http(s) URL, named once; `ratePer` goes with a `rateLimit`. */
export function checkServerUrl(model: Model, accept: ValidationAcceptor): void {
    if (model.source !== 'server') return;
    const seen = new Map<string, number>();
    model.urls.forEach((text, index) => {
        const url = unquote(text);
        let parsed: URL | undefined;
        try {
            parsed = new URL(url);
        } catch {
            parsed = undefined;
        }
        if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
            const replacement = /^[\w.-]+(:\d+)?(\/.*)?$/.test(url) ? `"http://${url}"` : undefined;
            report(accept, 'error', Codes.invalidValue, `'${url}' is not an http(s) URL; write the server's OpenAI-compatible base, e.g. "http://127.0.0.1:8080/v1".`, {
                node: model,
                property: 'urls',
                index,
                data: { replacement },
            });
            return;
        }
        // The same server twice would double its share of the requests (and its concurrency).
        const key = parsed.href.replace(/\/+$/, '');
        const first = seen.get(key);
        if (first !== undefined) {
            report(accept, 'error', Codes.invalidValue, `'${url}' is named twice (server ${first + 1} and ${index + 1} of this model); name each server once.`, {
                node: model,
                property: 'urls',
                index,
            });
        } else seen.set(key, index);
    });
    const props = propertiesOf(model.body);
    const per = props.find((p) => p.key === 'ratePer');
    if (per && !props.some((p) => p.key === 'rateLimit')) {
        report(accept, 'warning', Codes.invalidValue, '`ratePer` has no effect without `rateLimit` (requests per second or minute, per server).', { node: per, property: 'key' });
    }
}

export async function checkModelFile(model: Model, files: FileInfoCache, accept: ValidationAcceptor): Promise<void> {
    if (model.source !== 'gguf' || model.path === undefined) return;
    const file = unquote(model.path);
    if (!file) {
        report(accept, 'error', Codes.ggufMissing, 'Name the GGUF file, e.g. `model m = gguf "models/llama.gguf"`.', { node: model, property: 'path' });
        return;
    }
    const abs = resolveSpecPath(documentOf(model), file);
    if (outsidePath(abs, file, documentOf(model).uri.fsPath, { node: model, property: 'path' }, accept)) return;
    const info = await files.gguf(abs);
    if (info.ok) {
        if (info.value.type === 'adapter') {
            report(accept, 'error', Codes.ggufInvalid, `'${file}' is a LoRA adapter, not a model; name the base model's GGUF.`, { node: model, property: 'path' });
        }
        return;
    }
    const code = info.problem.kind === 'missing' || info.problem.kind === 'directory' ? Codes.ggufMissing : info.problem.kind === 'unreadable' ? Codes.ggufUnreadable : Codes.ggufInvalid;
    const missing = info.problem.kind === 'missing';
    const hint = missing ? ' Put a llama-family GGUF model there (F16/BF16/F32 to fine-tune it), or change the path; runs stop at the first step that loads it.' : '';
    report(accept, missing ? 'warning' : 'error', code, describeProblem('Model file', file, abs, info.problem) + hint, { node: model, property: 'path', data: { path: abs } });
}
