// GGUF v3 reader and writer, in TypeScript.
//
// Why not gguf_* through koffi: the writer runs in the parent process too (the embedded default writes
// its pretrained models, tests write tiny models), where a native assert on a bad input would kill the
// whole extension host or CLI. The format is small and fully specified (ggml/docs/gguf.md): a header,
// typed key/value pairs, tensor infos, aligned data. A streaming TypeScript implementation is ~250
// lines, never aborts, and node-llama-cpp's loader checks that what we write is valid (tests load every
// file we write in node-llama-cpp).
import { closeSync, openSync, readSync, writeSync, fstatSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
}

/** ggml tensor types (ggml.h `enum ggml_type`); only F32/F16/BF16 are read as weights here. */
export enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
}

export function ggmlTypeName(t: number): string {
    return GgmlType[t] ?? `type ${t}`;
}

/** A metadata value with its GGUF type, so integers and floats round-trip exactly. */
export type GgufValue =
    | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; value: number }
    | { type: 'u64' | 'i64'; value: bigint | number }
    | { type: 'bool'; value: boolean }
    | { type: 'string'; value: string }
    | { type: 'array'; itemType: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'bool'; value: ArrayLike<number | boolean> }
    | { type: 'array'; itemType: 'string'; value: readonly string[] };

export const gv = {
    u32: (value: number): GgufValue => ({ type: 'u32', value }),
    i32: (value: number): GgufValue => ({ type: 'i32', value }),
    f32: (value: number): GgufValue => ({ type: 'f32', value }),
    bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
    str: (value: string): GgufValue => ({ type: 'string', value }),
    strs: (value: readonly string[]): GgufValue => ({ type: 'array', itemType: 'string', value }),
    f32s: (value: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'f32', value }),
    i32s: (value: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'i32', value }),
};

/** A tensor to write: `shape` in ggml order (ne0 first, the contiguous dimension). */
export interface GgufTensorOut {
    name: string;
    shape: number[];
    /** F32 data, or F16 bits (Uint16Array) with type 'f16', or raw bytes of another ggml type. */
    data: Float32Array | Uint16Array | Uint8Array;
    type?: 'f32' | 'f16' | { ggml: number };
}

export interface GgufTensorInfo {
    name: string;
    shape: number[];
    type: number;
    /** absolute byte offset in the file */
    offset: number;
    nbytes: number;
}

export interface GgufFile {
    path: string;
    version: number;
    metadata: Map<string, unknown>;
    /** the same metadata with GGUF types, in file order (to copy a file's metadata into another) */
    typed: [string, GgufValue][];
    tensors: GgufTensorInfo[];
    alignment: number;
    dataOffset: number;
}

const TYPE_CODES: Record<string, GgufValueType> = {
    u8: GgufValueType.UINT8,
    i8: GgufValueType.INT8,
    u16: GgufValueType.UINT16,
    i16: GgufValueType.INT16,
    u32: GgufValueType.UINT32,
    i32: GgufValueType.INT32,
    f32: GgufValueType.FLOAT32,
    bool: GgufValueType.BOOL,
    string: GgufValueType.STRING,
    array: GgufValueType.ARRAY,
    u64: GgufValueType.UINT64,
    i64: GgufValueType.INT64,
    f64: GgufValueType.FLOAT64,
};

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TYPE_CODES).map(([k, v]) => [v, k]));

/** Growable little-endian byte builder for the header. */
class ByteWriter {
    private buf = Buffer.alloc(1 << 16);
    length = 0;
    private ensure(n: number) {
        if (this.length + n <= this.buf.length) return;
        let size = this.buf.length * 2;
        while (size < this.length + n) size *= 2;
        const nb = Buffer.alloc(size);
        this.buf.copy(nb, 0, 0, this.length);
        this.buf = nb;
    }
    u8(v: number) {
        this.ensure(1);
        this.buf.writeUInt8(v, this.length);
        this.length += 1;
    }
    i8(v: number) {
        this.ensure(1);
        this.buf.writeInt8(v, this.length);
        this.length += 1;
    }
    u16(v: number) {
        this.ensure(2);
        this.buf.writeUInt16LE(v, this.length);
        this.length += 2;
    }
    i16(v: number) {
        this.ensure(2);
        this.buf.writeInt16LE(v, this.length);
        this.length += 2;
    }
    u32(v: number) {
        this.ensure(4);
        this.buf.writeUInt32LE(v >>> 0, this.length);
        this.length += 4;
    }
    i32(v: number) {
        this.ensure(4);
        this.buf.writeInt32LE(v, this.length);
        this.length += 4;
    }
    f32(v: number) {
        this.ensure(4);
        this.buf.writeFloatLE(v, this.length);
        this.length += 4;
    }
    f64(v: number) {
        this.ensure(8);
        this.buf.writeDoubleLE(v, this.length);
        this.length += 8;
    }
    u64(v: number | bigint) {
        this.ensure(8);
        this.buf.writeBigUInt64LE(BigInt(v), this.length);
        this.length += 8;
    }
    i64(v: number | bigint) {
        this.ensure(8);
        this.buf.writeBigInt64LE(BigInt(v), this.length);
        this.length += 8;
    }
    str(s: string) {
        const b = Buffer.from(s, 'utf8');
        this.u64(b.length);
        this.bytes(b);
    }
    bytes(b: Uint8Array) {
        this.ensure(b.length);
        this.buf.set(b, this.length);
        this.length += b.length;
    }
    pad(align: number) {
        while (this.length % align !== 0) this.u8(0);
    }
    result(): Buffer {
        return this.buf.subarray(0, this.length);
    }
}

function writeScalar(w: ByteWriter, type: string, v: number | bigint | boolean | string) {
    switch (type) {
        case 'u8':
            w.u8(v as number);
            break;
        case 'i8':
            w.i8(v as number);
            break;
        case 'u16':
            w.u16(v as number);
            break;
        case 'i16':
            w.i16(v as number);
            break;
        case 'u32':
            w.u32(v as number);
            break;
        case 'i32':
            w.i32(v as number);
            break;
        case 'f32':
            w.f32(v as number);
            break;
        case 'f64':
            w.f64(v as number);
            break;
        case 'bool':
            w.u8(v ? 1 : 0);
            break;
        case 'u64':
            w.u64(v as number);
            break;
        case 'i64':
            w.i64(v as number);
            break;
        case 'string':
            w.str(v as string);
            break;
        default:
            throw new Error(`GGUF: unsupported value type ${type}`);
    }
}

function bytesPerElement(type: number): number {
    switch (type) {
        case GgmlType.F32:
        case GgmlType.I32:
            return 4;
        case GgmlType.F16:
        case GgmlType.BF16:
        case GgmlType.I16:
            return 2;
        case GgmlType.I8:
            return 1;
        case GgmlType.F64:
        case GgmlType.I64:
            return 8;
        default:
            return -1;
    }
}

/** Block sizes/bytes for quantized types (ggml.c type_traits), so a reader can skip them. */
const QUANT_BLOCKS: Record<number, [number, number]> = {
    [GgmlType.Q4_0]: [32, 18],
    [GgmlType.Q4_1]: [32, 20],
    [GgmlType.Q5_0]: [32, 22],
    [GgmlType.Q5_1]: [32, 24],
    [GgmlType.Q8_0]: [32, 34],
    [GgmlType.Q8_1]: [32, 36],
    [GgmlType.Q2_K]: [256, 84],
    [GgmlType.Q3_K]: [256, 110],
    [GgmlType.Q4_K]: [256, 144],
    [GgmlType.Q5_K]: [256, 176],
    [GgmlType.Q6_K]: [256, 210],
    [GgmlType.Q8_K]: [256, 292],
};

export function tensorNBytes(type: number, shape: number[]): number {
    const n = shape.reduce((a, b) => a * b, 1);
    const bpe = bytesPerElement(type);
    if (bpe > 0) return n * bpe;
    const q = QUANT_BLOCKS[type];
    if (q) return (n / q[0]) * q[1];
    return -1; // unknown: the reader infers from the next offset
}

/**
 * Writes a GGUF file: metadata in insertion order, then tensors (each aligned). Written to
 * `path + '.tmp'` and renamed, so a crash never leaves a half file under the final name.
 */
export function writeGguf(path: string, metadata: Map<string, GgufValue> | [string, GgufValue][], tensors: GgufTensorOut[]): void {
    const entries = metadata instanceof Map ? [...metadata.entries()] : metadata;
    let alignment = GGUF_DEFAULT_ALIGNMENT;
    for (const [k, v] of entries) if (k === 'general.alignment' && v.type === 'u32') alignment = v.value;
    const w = new ByteWriter();
    w.u32(GGUF_MAGIC);
    w.u32(GGUF_VERSION);
    w.u64(tensors.length);
    w.u64(entries.length);
    for (const [key, v] of entries) {
        w.str(key);
        w.u32(TYPE_CODES[v.type]);
        if (v.type === 'array') {
            w.u32(TYPE_CODES[v.itemType]);
            w.u64(v.value.length);
            for (let i = 0; i < v.value.length; i++) writeScalar(w, v.itemType, (v.value as ArrayLike<number | string | boolean>)[i]);
        } else {
            writeScalar(w, v.type, v.value);
        }
    }
    let offset = 0;
    const offsets: number[] = [];
    for (const t of tensors) {
        const tt = t.type ?? (t.data instanceof Uint16Array ? 'f16' : 'f32');
        const type = typeof tt === 'object' ? tt.ggml : tt === 'f16' ? GgmlType.F16 : GgmlType.F32;
        const n = t.shape.reduce((a, b) => a * b, 1);
        if (typeof tt === 'object') {
            if (tensorNBytes(type, t.shape) !== t.data.byteLength) throw new Error(`GGUF: tensor ${t.name}: ${t.data.byteLength} bytes for ${ggmlTypeName(type)} [${t.shape}]`);
        } else if (n !== t.data.length) throw new Error(`GGUF: tensor ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
        if (type === GgmlType.F16 && !(t.data instanceof Uint16Array)) throw new Error(`GGUF: tensor ${t.name}: f16 needs Uint16Array bits`);
        if (type === GgmlType.F32 && !(t.data instanceof Float32Array)) throw new Error(`GGUF: tensor ${t.name}: f32 needs Float32Array`);
        w.str(t.name);
        w.u32(t.shape.length);
        for (const d of t.shape) w.u64(d);
        w.u32(type);
        w.u64(offset);
        offsets.push(offset);
        offset += t.data.byteLength;
        offset = Math.ceil(offset / alignment) * alignment;
    }
    w.pad(alignment);
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
        writeSync(fd, w.result());
        let written = 0;
        const zeros = Buffer.alloc(alignment);
        for (let i = 0; i < tensors.length; i++) {
            const d = tensors[i].data;
            writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
            written += d.byteLength;
            const padded = Math.ceil(written / alignment) * alignment;
            if (padded > written) writeSync(fd, zeros.subarray(0, padded - written));
            written = padded;
        }
    } finally {
        closeSync(fd);
    }
    renameSync(tmp, path);
}

class FileReader {
    private fd: number;
    private buf = Buffer.alloc(0);
    private bufStart = 0;
    pos = 0;
    readonly size: number;
    constructor(readonly path: string) {
        this.fd = openSync(path, 'r');
        this.size = fstatSync(this.fd).size;
    }
    close() {
        closeSync(this.fd);
    }
    private need(n: number) {
        if (this.pos + n > this.size) throw new Error(`GGUF ${this.path}: unexpected end of file at byte ${this.pos}`);
        if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return;
        const len = Math.max(n, 1 << 20);
        this.buf = Buffer.alloc(Math.min(len, this.size - this.pos));
        readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
        this.bufStart = this.pos;
    }
    private at(n: number): number {
        this.need(n);
        const o = this.pos - this.bufStart;
        this.pos += n;
        return o;
    }
    u8() {
        const o = this.at(1);
        return this.buf.readUInt8(o);
    }
    i8() {
        const o = this.at(1);
        return this.buf.readInt8(o);
    }
    u16() {
        const o = this.at(2);
        return this.buf.readUInt16LE(o);
    }
    i16() {
        const o = this.at(2);
        return this.buf.readInt16LE(o);
    }
    u32() {
        const o = this.at(4);
        return this.buf.readUInt32LE(o);
    }
    i32() {
        const o = this.at(4);
        return this.buf.readInt32LE(o);
    }
    f32() {
        const o = this.at(4);
        return this.buf.readFloatLE(o);
    }
    f64() {
        const o = this.at(8);
        return this.buf.readDoubleLE(o);
    }
    u64() {
        const o = this.at(8);
        return Number(this.buf.readBigUInt64LE(o));
    }
    i64() {
        const o = this.at(8);
        return Number(this.buf.readBigInt64LE(o));
    }
    str() {
        const n = this.u64();
        if (n > this.size) throw new Error(`GGUF ${this.path}: bad string length ${n} at byte ${this.pos - 8}`);
        const o = this.at(n);
        return this.buf.toString('utf8', o, o + n);
    }
    readAt(offset: number, nbytes: number): Buffer {
        const b = Buffer.alloc(nbytes);
        readSync(this.fd, b, 0, nbytes, offset);
        return b;
    }
}

function readValue(r: FileReader, type: number): unknown {
    switch (type) {
        case GgufValueType.UINT8:
            return r.u8();
        case GgufValueType.INT8:
            return r.i8();
        case GgufValueType.UINT16:
            return r.u16();
        case GgufValueType.INT16:
            return r.i16();
        case GgufValueType.UINT32:
            return r.u32();
        case GgufValueType.INT32:
            return r.i32();
        case GgufValueType.FLOAT32:
            return r.f32();
        case GgufValueType.BOOL:
            return r.u8() !== 0;
        case GgufValueType.STRING:
            return r.str();
        case GgufValueType.UINT64:
            return r.u64();
        case GgufValueType.INT64:
            return r.i64();
        case GgufValueType.FLOAT64:
            return r.f64();
        case GgufValueType.ARRAY: {
            const it = r.u32();
            const n = r.u64();
            if (n > r.size) throw new Error(`GGUF ${r.path}: bad array length ${n}`);
            if (it === GgufValueType.FLOAT32) {
                const a = new Float32Array(n);
                for (let i = 0; i < n; i++) a[i] = r.f32();
                return a;
            }
            if (it === GgufValueType.INT32) {
                const a = new Int32Array(n);
                for (let i = 0; i < n; i++) a[i] = r.i32();
                return a;
            }
            const a: unknown[] = new Array(n);
            for (let i = 0; i < n; i++) a[i] = readValue(r, it);
            return a;
        }
        default:
            throw new Error(`GGUF ${r.path}: unknown value type ${type} at byte ${r.pos}`);
    }
}

/** Reads the header, metadata and tensor infos of a GGUF file (not the tensor data). */
export function readGguf(path: string): GgufFile {
    const r = new FileReader(path);
    try {
        const magic = r.u32();
        if (magic !== GGUF_MAGIC) throw new Error(`${path} is not a GGUF file (bad magic)`);
        const version = r.u32();
        if (version < 2 || version > 3) throw new Error(`${path}: unsupported GGUF version ${version}`);
        const nTensors = r.u64();
        const nKv = r.u64();
        const metadata = new Map<string, unknown>();
        const typed: [string, GgufValue][] = [];
        for (let i = 0; i < nKv; i++) {
            const key = r.str();
            const type = r.u32();
            if (type === GgufValueType.ARRAY) {
                const save = r.pos;
                const itemType = r.u32();
                r.pos = save;
                const value = readValue(r, type) as ArrayLike<number | boolean> & readonly string[];
                metadata.set(key, value);
                typed.push([key, { type: 'array', itemType: TYPE_NAMES[itemType] as 'u8', value }]);
            } else {
                const value = readValue(r, type);
                metadata.set(key, value);
                typed.push([key, { type: TYPE_NAMES[type], value } as GgufValue]);
            }
        }
        const alignment = typeof metadata.get('general.alignment') === 'number' ? (metadata.get('general.alignment') as number) : GGUF_DEFAULT_ALIGNMENT;
        const infos: { name: string; shape: number[]; type: number; rel: number }[] = [];
        for (let i = 0; i < nTensors; i++) {
            const name = r.str();
            const nd = r.u32();
            const shape: number[] = [];
            for (let d = 0; d < nd; d++) shape.push(r.u64());
            const type = r.u32();
            const rel = r.u64();
            infos.push({ name, shape, type, rel });
        }
        const dataOffset = Math.ceil(r.pos / alignment) * alignment;
        const tensors: GgufTensorInfo[] = infos.map((t, i) => {
            let nbytes = tensorNBytes(t.type, t.shape);
            if (nbytes < 0) nbytes = (i + 1 < infos.length ? infos[i + 1].rel : r.size - dataOffset) - t.rel;
            return { name: t.name, shape: t.shape, type: t.type, offset: dataOffset + t.rel, nbytes };
        });
        return { path, version, metadata, typed, tensors, alignment, dataOffset };
    } finally {
        r.close();
    }
}

export function f16ToF32(h: number): number {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    if (e === 0) return s * f * 2 ** -24;
    if (e === 31) return f ? NaN : s * Infinity;
    return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
/** Round-to-nearest-even float32 -> float16 bits. */
export function f32ToF16(v: number): number {
    f32buf[0] = v;
    const x = u32buf[0];
    const sign = (x >>> 16) & 0x8000;
    let exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
    exp = exp - 127 + 15;
    if (exp >= 31) return sign | 0x7c00;
    if (exp <= 0) {
        if (exp < -10) return sign;
        mant |= 0x800000;
        const shift = 14 - exp;
        let h = mant >> shift;
        const rem = mant & ((1 << shift) - 1);
        const half = 1 << (shift - 1);
        if (rem > half || (rem === half && h & 1)) h++;
        return sign | h;
    }
    let h = (exp << 10) | (mant >> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
    return sign | h;
}

/** Reads one tensor as F32 (F32, F16 and BF16 are converted; other types throw). */
export function readTensorF32(file: GgufFile, name: string): Float32Array {
    const t = file.tensors.find((x) => x.name === name);
    if (!t) throw new Error(`${file.path}: no tensor ${name}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const fd = openSync(file.path, 'r');
    try {
        const b = Buffer.alloc(t.nbytes);
        readSync(fd, b, 0, t.nbytes, t.offset);
        if (t.type === GgmlType.F32) {
            const out = new Float32Array(n);
            new Uint8Array(out.buffer).set(b.subarray(0, n * 4));
            return out;
        }
        if (t.type === GgmlType.F16) {
            const out = new Float32Array(n);
            for (let i = 0; i < n; i++) out[i] = f16ToF32(b.readUInt16LE(i * 2));
            return out;
        }
        if (t.type === GgmlType.BF16) {
            const out = new Float32Array(n);
            const u = new Uint32Array(out.buffer);
            for (let i = 0; i < n; i++) u[i] = b.readUInt16LE(i * 2) << 16;
            return out;
        }
        throw new Error(`${file.path}: tensor ${name} has type ${ggmlTypeName(t.type)}; only F32, F16 and BF16 weights can be trained`);
    } finally {
        closeSync(fd);
    }
}

/**
 * Tensor types a frozen (LoRA-base) matrix may have. The backward pass needs, for every frozen matrix W
 * in y = W·x, the gradient W^T·dy: ggml computes it as OUT_PROD(W, dy). ggml-cpu's out_prod
 * (ggml-cpu/ops.cpp ggml_compute_forward_out_prod) handles F32, F16 and every quantized type
 * (out_prod_q_f32 dequantizes row by row), but aborts for BF16: BF16 matrices are therefore widened to
 * F32 when loaded. CUDA and Vulkan implement OUT_PROD for F32 only (ggml-cuda.cu supports_op,
 * ggml-vulkan.cpp): on a GPU backend the session widens frozen non-F32 matrices to F32 when loading
 * them (native.ts holdType; GPU memory then holds 4 bytes per base weight), so nothing falls back.
 */
export const LORA_BASE_TYPES: ReadonlySet<number> = new Set([
    GgmlType.F32,
    GgmlType.F16,
    GgmlType.BF16,
    GgmlType.Q4_0,
    GgmlType.Q4_1,
    GgmlType.Q5_0,
    GgmlType.Q5_1,
    GgmlType.Q8_0,
    GgmlType.Q2_K,
    GgmlType.Q3_K,
    GgmlType.Q4_K,
    GgmlType.Q5_K,
    GgmlType.Q6_K,
]);

/** Values per block of a ggml type (1 for F32/F16/BF16 and integer types). */
export function typeBlockSize(type: number): number {
    return QUANT_BLOCKS[type]?.[0] ?? 1;
}

/** Types full fine-tuning can start from: the weights become F32 parameters (AdamW updates F32 only). */
export const FULL_TRAIN_TYPES: ReadonlySet<number> = new Set([GgmlType.F32, GgmlType.F16, GgmlType.BF16]);

/** Reads a tensor's raw bytes (any type) in chunks of at most `chunk` bytes, calling `sink(bytes, offset)`. */
export function readTensorRaw(file: GgufFile, name: string, sink: (bytes: Buffer, offset: number) => void, chunk = 16 << 20): void {
    const t = file.tensors.find((x) => x.name === name);
    if (!t) throw new Error(`${file.path}: no tensor ${name}`);
    if (t.nbytes < 0) throw new Error(`${file.path}: tensor ${name} has an unknown size (type ${ggmlTypeName(t.type)})`);
    const fd = openSync(file.path, 'r');
    try {
        const buf = Buffer.alloc(Math.min(chunk, Math.max(1, t.nbytes)));
        for (let off = 0; off < t.nbytes; off += buf.length) {
            const n = Math.min(buf.length, t.nbytes - off);
            const got = readSync(fd, buf, 0, n, t.offset + off);
            if (got !== n) throw new Error(`${file.path}: tensor ${name} is cut short (file ends at byte ${t.offset + off + got})`);
            sink(n === buf.length ? buf : buf.subarray(0, n), off);
        }
    } finally {
        closeSync(fd);
    }
}
