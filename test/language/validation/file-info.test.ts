/**
 * language/validation/file-info.ts: dataset heads and GGUF metadata read once per file version.
 */
import { describe, expect, it } from 'vitest';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileInfoCache } from '../../../language/validation/file-info.js';
import { validationFolder } from './fixtures.js';

const folder = validationFolder('mm-file-info-');

describe('file info', () => {
    it('reads each file once while it is unchanged (mtime cache), and again after an edit', () => {
        const cache = new FileInfoCache();
        const p = join(folder.dir, 'cached.jsonl');
        writeFileSync(p, '{"question": "a?", "answers": ["b"]}\n');
        const a = cache.datasetHead(p);
        expect(cache.datasetHead(p)).toBe(a);
        writeFileSync(p, '{"question": "a?", "answers": ["b"], "id": 1}\n');
        utimesSync(p, new Date(), new Date(Date.now() + 5000));
        const b = cache.datasetHead(p);
        expect(b).not.toBe(a);
        expect(b.ok && b.value.fields).toContain('id');
    });
    it('reads metadata without loading weights (architecture, parameters, file type, context)', async () => {
        const cache = new FileInfoCache();
        const info = await cache.gguf(folder.gguf('meta.gguf', { width: 16, layers: 2, fileType: 1 }));
        expect(info.ok && info.value).toMatchObject({ architecture: 'llama', parameters: 512, fileType: 'F16', quantized: false, contextLength: 256, layers: 2, embeddingLength: 16 });
    });
});
