// ggml through koffi, on node-llama-cpp's prebuilt libraries (libggml-base, libggml, libggml-cpu-*,
// and the CUDA/Vulkan builds, which export the same symbols). Only the C API is used: plain pointers
// (BigInt in koffi 3), by-value structs of the C headers, ggml_backend_tensor_set/get. Two reads of
// struct fields are needed for checkpoints and are verified at run time before use (see trainer.ts).
import koffi from 'koffi';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findPackageDir } from './paths.js';

export type Ptr = bigint;
export const NULL: Ptr = 0n;

export const GGML_TYPE_F32 = 0;
export const GGML_TYPE_I32 = 26;
export const GGML_BACKEND_DEVICE_TYPE_CPU = 0;
export const GGML_BACKEND_DEVICE_TYPE_GPU = 1;
export const GGML_OPT_LOSS_TYPE_SUM = 1;
export const GGML_OPT_LOSS_TYPE_CROSS_ENTROPY = 2;
export const GGML_OPT_BUILD_TYPE_OPT = 30;
export const GGML_OPT_OPTIMIZER_TYPE_ADAMW = 0;
export const GGML_OPT_OPTIMIZER_TYPE_SGD = 1;

/** struct ggml_tensor field offsets (ggml.h, x86-64/aarch64 LP64); checked against the API at load. */
export const TENSOR_OFFSETS = { ne: 16, src: 152, data: 248, name: 256 } as const;

export type GpuKind = 'off' | 'auto' | 'cuda' | 'vulkan';

/** Directories of node-llama-cpp's prebuilt binaries, in order of preference for `gpu`. */
export function libraryDirs(gpu: GpuKind): { dir: string; kind: 'cpu' | 'cuda' | 'vulkan' }[] {
    const found: { dir: string; kind: 'cpu' | 'cuda' | 'vulkan' }[] = [];
    const tryPkg = (pkg: string, kind: 'cpu' | 'cuda' | 'vulkan') => {
        try {
            const root = findPackageDir(pkg);
            if (!root) return;
            const bins = join(root, 'bins');
            if (!existsSync(bins)) return;
            for (const d of readdirSync(bins)) {
                const dir = join(bins, d);
                if (existsSync(join(dir, 'libggml-base.so'))) found.push({ dir, kind });
            }
        } catch {
            /* package not installed */
        }
    };
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
    if (gpu === 'cuda' || gpu === 'auto') {
        tryPkg(`@node-llama-cpp/linux-${arch}-cuda`, 'cuda');
        tryPkg(`@node-llama-cpp/linux-${arch}-cuda-ext`, 'cuda');
    }
    if (gpu === 'vulkan' || gpu === 'auto') tryPkg(`@node-llama-cpp/linux-${arch}-vulkan`, 'vulkan');
    tryPkg(`@node-llama-cpp/linux-${arch}`, 'cpu');
    return found;
}

// Every function the trainer calls, as C prototypes (pointers as void *: koffi 3 passes BigInt).
const PROTOS: Record<string, string> = {
    ggml_tensor_overhead: 'size_t ggml_tensor_overhead()',
    ggml_graph_overhead_custom: 'size_t ggml_graph_overhead_custom(size_t size, bool grads)',
    ggml_free: 'void ggml_free(void *ctx)',
    ggml_new_tensor_1d: 'void *ggml_new_tensor_1d(void *ctx, int type, int64_t ne0)',
    ggml_new_tensor_2d: 'void *ggml_new_tensor_2d(void *ctx, int type, int64_t ne0, int64_t ne1)',
    ggml_new_tensor_3d: 'void *ggml_new_tensor_3d(void *ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2)',
    ggml_set_name: 'void *ggml_set_name(void *t, const char *name)',
    ggml_get_name: 'const char *ggml_get_name(void *t)',
    ggml_get_tensor: 'void *ggml_get_tensor(void *ctx, const char *name)',
    ggml_nbytes: 'size_t ggml_nbytes(void *t)',
    ggml_nelements: 'int64_t ggml_nelements(void *t)',
    ggml_set_param: 'void ggml_set_param(void *t)',
    ggml_set_input: 'void ggml_set_input(void *t)',
    ggml_set_output: 'void ggml_set_output(void *t)',
    ggml_get_rows: 'void *ggml_get_rows(void *ctx, void *a, void *b)',
    ggml_rms_norm: 'void *ggml_rms_norm(void *ctx, void *a, float eps)',
    ggml_mul: 'void *ggml_mul(void *ctx, void *a, void *b)',
    ggml_add: 'void *ggml_add(void *ctx, void *a, void *b)',
    ggml_mul_mat: 'void *ggml_mul_mat(void *ctx, void *a, void *b)',
    ggml_scale: 'void *ggml_scale(void *ctx, void *a, float s)',
    ggml_rope_ext:
        'void *ggml_rope_ext(void *ctx, void *a, void *b, void *c, int n_dims, int mode, int n_ctx_orig, float freq_base, float freq_scale, float ext_factor, float attn_factor, float beta_fast, float beta_slow)',
    ggml_reshape_2d: 'void *ggml_reshape_2d(void *ctx, void *a, int64_t ne0, int64_t ne1)',
    ggml_reshape_3d: 'void *ggml_reshape_3d(void *ctx, void *a, int64_t ne0, int64_t ne1, int64_t ne2)',
    ggml_reshape_4d: 'void *ggml_reshape_4d(void *ctx, void *a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)',
    ggml_permute: 'void *ggml_permute(void *ctx, void *a, int ax0, int ax1, int ax2, int ax3)',
    ggml_cont: 'void *ggml_cont(void *ctx, void *a)',
    ggml_diag_mask_inf: 'void *ggml_diag_mask_inf(void *ctx, void *a, int n_past)',
    ggml_soft_max_ext: 'void *ggml_soft_max_ext(void *ctx, void *a, void *mask, float scale, float max_bias)',
    ggml_soft_max: 'void *ggml_soft_max(void *ctx, void *a)',
    ggml_log: 'void *ggml_log(void *ctx, void *a)',
    ggml_argmax: 'void *ggml_argmax(void *ctx, void *a)',
    ggml_row_size: 'size_t ggml_row_size(int type, int64_t ne)',
    ggml_quantize_chunk: 'size_t ggml_quantize_chunk(int type, const float *src, _Out_ void *dst, int64_t start, int64_t nrows, int64_t n_per_row, const float *imatrix)',
    ggml_quantize_requires_imatrix: 'bool ggml_quantize_requires_imatrix(int type)',
    ggml_backend_tensor_memset: 'void ggml_backend_tensor_memset(void *t, uint8_t value, size_t offset, size_t size)',
    ggml_backend_buffer_get_size: 'size_t ggml_backend_buffer_get_size(void *buf)',
    ggml_backend_sched_get_buffer_size: 'size_t ggml_backend_sched_get_buffer_size(void *sched, void *backend)',
    ggml_get_type_traits: 'void *ggml_get_type_traits(int type)',
    ggml_opt_prepare_alloc: 'void ggml_opt_prepare_alloc(void *opt, void *ctx, void *graph, void *inputs, void *outputs)',
    ggml_swiglu_split: 'void *ggml_swiglu_split(void *ctx, void *a, void *b)',
    ggml_build_forward_expand: 'void ggml_build_forward_expand(void *graph, void *t)',
    ggml_new_graph_custom: 'void *ggml_new_graph_custom(void *ctx, size_t size, bool grads)',
    ggml_graph_n_nodes: 'int ggml_graph_n_nodes(void *graph)',
    ggml_backend_load_all_from_path: 'void ggml_backend_load_all_from_path(const char *dir)',
    ggml_backend_dev_count: 'size_t ggml_backend_dev_count()',
    ggml_backend_dev_get: 'void *ggml_backend_dev_get(size_t i)',
    ggml_backend_dev_type: 'int ggml_backend_dev_type(void *dev)',
    ggml_backend_dev_name: 'const char *ggml_backend_dev_name(void *dev)',
    ggml_backend_dev_description: 'const char *ggml_backend_dev_description(void *dev)',
    ggml_backend_dev_init: 'void *ggml_backend_dev_init(void *dev, const char *params)',
    ggml_backend_dev_backend_reg: 'void *ggml_backend_dev_backend_reg(void *dev)',
    ggml_backend_reg_get_proc_address: 'void *ggml_backend_reg_get_proc_address(void *reg, const char *name)',
    ggml_backend_free: 'void ggml_backend_free(void *backend)',
    ggml_backend_get_default_buffer_type: 'void *ggml_backend_get_default_buffer_type(void *backend)',
    ggml_backend_sched_new: 'void *ggml_backend_sched_new(void **backends, void **bufts, int n, size_t graph_size, bool parallel, bool op_offload)',
    ggml_backend_sched_free: 'void ggml_backend_sched_free(void *sched)',
    ggml_backend_sched_reset: 'void ggml_backend_sched_reset(void *sched)',
    ggml_backend_sched_alloc_graph: 'bool ggml_backend_sched_alloc_graph(void *sched, void *graph)',
    ggml_backend_sched_graph_compute: 'int ggml_backend_sched_graph_compute(void *sched, void *graph)',
    ggml_backend_sched_set_eval_callback: 'void ggml_backend_sched_set_eval_callback(void *sched, void *callback, void *user_data)',
    ggml_backend_alloc_buffer: 'void *ggml_backend_alloc_buffer(void *backend, size_t size)',
    ggml_backend_buffer_get_base: 'void *ggml_backend_buffer_get_base(void *buf)',
    ggml_backend_tensor_alloc: 'int ggml_backend_tensor_alloc(void *buf, void *t, void *addr)',
    ggml_backend_graph_compute: 'int ggml_backend_graph_compute(void *backend, void *graph)',
    ggml_cpy: 'void *ggml_cpy(void *ctx, void *a, void *b)',
    ggml_acc: 'void *ggml_acc(void *ctx, void *a, void *b, size_t nb1, size_t nb2, size_t nb3, size_t offset)',
    ggml_backend_alloc_ctx_tensors: 'void *ggml_backend_alloc_ctx_tensors(void *ctx, void *backend)',
    ggml_backend_buffer_free: 'void ggml_backend_buffer_free(void *buf)',
    ggml_backend_tensor_set: 'void ggml_backend_tensor_set(void *t, const void *data, size_t offset, size_t size)',
    ggml_backend_tensor_get: 'void ggml_backend_tensor_get(void *t, _Out_ void *data, size_t offset, size_t size)',
    ggml_opt_init: 'void *ggml_opt_init(ggml_opt_params params)',
    ggml_opt_free: 'void ggml_opt_free(void *opt)',
    ggml_opt_default_params: 'ggml_opt_params ggml_opt_default_params(void *sched, int loss_type)',
    ggml_opt_labels: 'void *ggml_opt_labels(void *opt)',
    ggml_opt_loss: 'void *ggml_opt_loss(void *opt)',
    ggml_opt_alloc: 'void ggml_opt_alloc(void *opt, bool backward)',
    ggml_opt_eval: 'void ggml_opt_eval(void *opt, void *result)',
    ggml_opt_grad_acc: 'void *ggml_opt_grad_acc(void *opt, void *node)',
    ggml_opt_optimizer_name: 'const char *ggml_opt_optimizer_name(int type)',
};

export interface Ggml {
    f: Record<keyof typeof PROTOS, (...args: unknown[]) => any>;
    kind: 'cpu' | 'cuda' | 'vulkan';
    dir: string;
    init(memSize: number, noAlloc: boolean): Ptr;
    optParamsType: unknown;
    getOptParsProto: unknown;
    setThreadsProto: unknown;
    toFloatProto: unknown;
    /** ggml_backend_sched_eval_callback */
    evalCallbackProto: unknown;
    typeTraits: unknown;
    koffi: typeof koffi;
}

let cached: Ggml | undefined;

/** Loads the ggml libraries of the first directory that works for `gpu` (CPU build as the fallback). */
export function loadGgml(gpu: GpuKind): Ggml {
    if (cached) return cached;
    const dirs = libraryDirs(gpu);
    if (dirs.length === 0) throw new Error('node-llama-cpp prebuilt binaries (@node-llama-cpp/linux-*) are not installed');
    const errors: string[] = [];
    for (const { dir, kind } of dirs) {
        try {
            const base = koffi.load(join(dir, 'libggml-base.so'));
            const ggmlName = readdirSync(dir).find((f) => /^libggml\.(v[\d.]+\.)?so$/.test(f)) ?? 'libggml.so';
            const ggml = koffi.load(join(dir, ggmlName));
            const InitParams = koffi.struct('ggml_init_params', { mem_size: 'size_t', mem_buffer: 'void *', no_alloc: 'bool' });
            const optParamsType = koffi.struct('ggml_opt_params', {
                backend_sched: 'void *',
                ctx_compute: 'void *',
                inputs: 'void *',
                outputs: 'void *',
                loss_type: 'int',
                build_type: 'int',
                opt_period: 'int32_t',
                get_opt_pars: 'void *',
                get_opt_pars_ud: 'void *',
                optimizer: 'int',
            });
            const OptimizerParams = koffi.struct('ggml_opt_optimizer_params', {
                adamw: koffi.struct({ alpha: 'float', beta1: 'float', beta2: 'float', eps: 'float', wd: 'float' }),
                sgd: koffi.struct({ alpha: 'float', wd: 'float' }),
            });
            const getOptParsProto = koffi.proto('ggml_opt_optimizer_params get_opt_pars_cb(void *ud)');
            void OptimizerParams;
            const setThreadsProto = koffi.proto('void set_n_threads_fn(void *backend, int n)');
            // ggml.h struct ggml_type_traits (public), read to call a type's to_float (dequantize a row)
            const typeTraits = koffi.struct('ggml_type_traits', {
                type_name: 'const char *',
                blck_size: 'int64_t',
                blck_size_interleave: 'int64_t',
                type_size: 'size_t',
                is_quantized: 'bool',
                to_float: 'void *',
                from_float_ref: 'void *',
            });
            const toFloatProto = koffi.proto('void ggml_to_float_fn(const void *x, _Out_ float *y, int64_t k)');
            const evalCallbackProto = koffi.proto('bool ggml_backend_sched_eval_cb(void *t, bool ask, void *user_data)');
            const f: Record<string, (...args: unknown[]) => any> = {};
            for (const [name, proto] of Object.entries(PROTOS)) {
                let fn: ((...a: unknown[]) => any) | undefined;
                for (const lib of [base, ggml]) {
                    try {
                        fn = lib.func(proto) as (...a: unknown[]) => any;
                        break;
                    } catch {
                        /* try the next library */
                    }
                }
                if (!fn) throw new Error(`symbol ${name} not found in ${dir}`);
                f[name] = fn;
            }
            const initFn = base.func('void *ggml_init(ggml_init_params params)');
            f.ggml_backend_load_all_from_path(dir);
            cached = {
                f: f as Ggml['f'],
                kind,
                dir,
                optParamsType,
                getOptParsProto,
                setThreadsProto,
                toFloatProto,
                evalCallbackProto,
                typeTraits,
                koffi,
                init: (memSize, noAlloc) => initFn({ mem_size: memSize, mem_buffer: null, no_alloc: noAlloc }) as Ptr,
            };
            void InitParams;
            return cached;
        } catch (e) {
            errors.push(`${dir}: ${(e as Error).message}`);
        }
    }
    throw new Error(`could not load ggml: ${errors.join('; ')}`);
}

/** Reads a tensor's name through the struct layout (used only to verify the layout). */
export function tensorNameAt(g: Ggml, t: Ptr): string {
    return g.koffi.decode(t + BigInt(TENSOR_OFFSETS.name), 'char', -1) as string;
}

export function readPtr(g: Ggml, addr: Ptr): Ptr {
    const v = g.koffi.decode(addr, 'uint64_t') as number | bigint;
    return BigInt(v);
}

/**
 * Dequantizes `bytes` (whole rows of `type`) to F32 with ggml's own to_float of that type (F16, BF16 and
 * every quantized type), into `out` starting at element `at`.
 */
export function toFloat(g: Ggml, type: number, bytes: Uint8Array, out: Float32Array, at: number): number {
    const tr = g.f.ggml_get_type_traits(type) as Ptr;
    if (!tr) throw new Error(`ggml has no traits for tensor type ${type}`);
    const traits = g.koffi.decode(tr, g.typeTraits as never) as { blck_size: number | bigint; type_size: number | bigint; to_float: Ptr | null };
    const blk = Number(traits.blck_size),
        size = Number(traits.type_size);
    if (!traits.to_float || !(size > 0) || bytes.byteLength % size !== 0) throw new Error(`tensor type ${type} cannot be converted to F32 (${bytes.byteLength} bytes)`);
    const n = (bytes.byteLength / size) * blk;
    g.koffi.call(traits.to_float, g.toFloatProto as never, bytes, out.subarray(at, at + n), n);
    return n;
}
