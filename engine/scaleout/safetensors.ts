// A reader for the safetensors format (https://github.com/huggingface/safetensors, "Format"): an
// 8-byte little-endian header length N, N bytes of JSON ({name: {dtype, shape, data_offsets}} and an
// optional "__metadata__" map of strings), then the raw little-endian tensor bytes, each tensor's
// [begin, end) relative to the end of the header. PEFT saves adapters in it. No package on the
// registry reads it without pulling a native or WASM build, and the format is a page long: this reads
// the header, checks every rule the format states (offsets inside the file, no overlaps, no holes,
// sizes that match dtype × shape) and reads one tensor at a time as F32, so a large adapter is never
// held whole in memory.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { f16ToF32 } from '../train/gguf.js';

export interface SafetensorsTensor {
    name: string;
    dtype: string;
    /** In the writer's (PyTorch, row-major) order: the last dimension is contiguous. */
    shape: number[];
    /** Absolute byte offsets in the file. */
    begin: number;
    end: number;
}

export interface SafetensorsFile {
    path: string;
    tensors: Map<string, SafetensorsTensor>;
    metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = {
    F64: 8,
    F32: 4,
    F16: 2,
    BF16: 2,
    I64: 8,
    I32: 4,
    I16: 2,
    I8: 1,
    U8: 1,
    U16: 2,
    U32: 4,
    U64: 8,
    BOOL: 1,
    F8_E4M3: 1,
    F8_E5M2: 1,
};

/** The header may be at most 100 MB (the format's own limit). */
const MAX_HEADER = 100_000_000;

function fail(path: string, what: string): never {
    throw new Error(`${path}: not a valid safetensors file: ${what}`);
}

export function readSafetensorsHeader(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
        const size = fstatSync(fd).size;
        if (size < 8) fail(path, `the file has ${size} bytes, fewer than the 8-byte header length`);
        const lenBuf = Buffer.alloc(8);
        readSync(fd, lenBuf, 0, 8, 0);
        const n = lenBuf.readBigUInt64LE(0);
        if (n > BigInt(MAX_HEADER)) fail(path, `header length ${n} is over the format's 100 MB limit`);
        const headerLen = Number(n);
        if (8 + headerLen > size) fail(path, `header length ${headerLen} runs past the end of the file (${size} bytes)`);
        const hb = Buffer.alloc(headerLen);
        readSync(fd, hb, 0, headerLen, 8);
        let header: unknown;
        try {
            header = JSON.parse(hb.toString('utf8'));
        } catch (e) {
            fail(path, `the header is not JSON (${(e as Error).message})`);
        }
        if (!header || typeof header !== 'object' || Array.isArray(header)) fail(path, 'the header is not a JSON object');
        const base = 8 + headerLen;
        const tensors = new Map<string, SafetensorsTensor>();
        let metadata: Record<string, string> = {};
        for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
            if (name === '__metadata__') {
                if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) fail(path, '__metadata__ must map strings to strings');
                metadata = v as Record<string, string>;
                continue;
            }
            const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
            if (!t || typeof t !== 'object') fail(path, `tensor ${name}: its entry is not an object`);
            if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_BYTES)) fail(path, `tensor ${name}: unknown dtype ${JSON.stringify(t.dtype)}`);
            if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(path, `tensor ${name}: shape must be a list of non-negative integers`);
            const off = t.data_offsets;
            if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0])
                fail(path, `tensor ${name}: data_offsets must be [begin, end] with begin <= end`);
            const shape = t.shape as number[];
            const want = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
            if (off[1] - off[0] !== want) fail(path, `tensor ${name}: ${off[1] - off[0]} bytes for ${t.dtype} [${shape.join(', ')}], which needs ${want}`);
            if (base + off[1] > size) fail(path, `tensor ${name}: its data ends at byte ${base + off[1]}, past the end of the file (${size} bytes); the file is cut short`);
            tensors.set(name, { name, dtype: t.dtype, shape, begin: base + off[0], end: base + off[1] });
        }
        // The format forbids holes and overlaps: the tensors tile the data buffer exactly.
        const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
        let at = base;
        for (const t of sorted) {
            if (t.begin !== at) fail(path, t.begin < at ? `tensor ${t.name} overlaps the tensor before it` : `a hole of ${t.begin - at} bytes before tensor ${t.name}`);
            at = t.end;
        }
        if (at !== size) fail(path, `${size - at} bytes after the last tensor`);
        return { path, tensors, metadata };
    } finally {
        closeSync(fd);
    }
}

/** Reads one tensor as F32 (F32, F16 and BF16; other dtypes are refused, naming the tensor). */
export function readSafetensorF32(file: SafetensorsFile, name: string): Float32Array {
    const t = file.tensors.get(name);
    if (!t) throw new Error(`${file.path}: no tensor ${name}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const b = Buffer.alloc(t.end - t.begin);
    const fd = openSync(file.path, 'r');
    try {
        const got = readSync(fd, b, 0, b.length, t.begin);
        if (got !== b.length) throw new Error(`${file.path}: tensor ${name} is cut short`);
    } finally {
        closeSync(fd);
    }
    const out = new Float32Array(n);
    switch (t.dtype) {
        case 'F32':
            for (let i = 0; i < n; i++) out[i] = b.readFloatLE(i * 4);
            return out;
        case 'F16':
            for (let i = 0; i < n; i++) out[i] = f16ToF32(b.readUInt16LE(i * 2));
            return out;
        case 'BF16': {
            const u = new Uint32Array(out.buffer);
            for (let i = 0; i < n; i++) u[i] = b.readUInt16LE(i * 2) << 16;
            return out;
        }
        case 'F64':
            for (let i = 0; i < n; i++) out[i] = b.readDoubleLE(i * 8);
            return out;
        default:
            throw new Error(`${file.path}: tensor ${name} has dtype ${t.dtype}; LoRA weights must be F32, F16, BF16 or F64`);
    }
}
