// The llama forward graph in ggml, trained with ggml_opt. One Session = one set of weights on one
// backend, for a fixed micro-batch shape [seqLen, batch].
//
// Graphs of any depth: each step builds its forward graph in a fresh context with
// ggml_new_graph_custom(ctx, size, grads = true), `size` computed from the model (graphCapacity), and
// hands it to ggml_opt_prepare_alloc / ggml_opt_alloc / ggml_opt_eval, as llama.cpp's
// llama_context::opt_epoch_iter does (src/llama-context.cpp of llama.cpp v0.4.0, bundled with
// node-llama-cpp). ggml_opt's static-graph path (ctx_compute given to ggml_opt_init) is limited to
// GGML_DEFAULT_GRAPH_SIZE nodes, about 500 forward nodes (8 LoRA layers on all 7 matrices).
//
// Graph (llama.cpp src/models/llama.cpp and qwen2.cpp, without KV cache):
//   x = get_rows(token_embd, tokens)                                       [E, T*B]
//   per layer: h = rms_norm(x)·attn_norm; q,k,v = W·h (+ bias, qwen2) (+ LoRA B·A·h·α/r);
//              RoPE on q,k (NORM mode for llama, NEOX for qwen2; rope_freqs.weight as frequency
//              factors when the file has it: Llama 3.x rope scaling);
//              scores = softmax(causal_mask(Kᵀ·Q)·1/√d) per head (GQA: kv head = head / (H/Hkv));
//              x += Wo·(V·scores); h = rms_norm(x)·ffn_norm; x += Wdown·(silu(Wgate·h) * (Wup·h))
//   y = rms_norm(x)·output_norm; logits = output · get_rows(y, answer positions)   [V, n]
//   (output = token_embd when the file has no output.weight: tied embeddings)
//
// Loss, O(answer tokens) besides the [V, n] logits of the n answer rows themselves: no one-hot labels.
//   p = softmax(logits) [V, n]; p_t = get_rows(reshape(p, [1, V·n]), i·V + target_i)  [1, n]
//   loss = Σ_i -log(p_t,i) / (N·period)      (ggml_opt loss type SUM over that [1, n] output)
// The rows are exactly the micro-batch's answer rows (the graph is rebuilt per step, so n varies; no
// padding rows). N is the session's fixed row budget: the scale is the one ggml's mean cross-entropy over
// N rows had, so learning rates keep their meaning; step()/evalLoss() return the mean per answer token.
//
// Frozen weights (LoRA base, forward sessions) stay in their file type in ggml backend buffers: file
// ranges are read into a Buffer and copied with ggml_backend_tensor_set (see gguf.ts LORA_BASE_TYPES for
// which types and why BF16 is widened). Trainable tensors (full mode, LoRA A/B) are F32.
//
// Peak memory of a LoRA run on a quantized base (the formula estimateTrainBytes in parent.ts uses):
//   file bytes of the weights (norms widened to F32: negligible)
//   + 16 bytes per LoRA parameter (F32 value, gradient accumulator, AdamW m and v)
//   + the compute buffer of forward + backward: per token and layer about (10·E + 4·F + 2·H·T) floats
//     kept for the backward pass, ×2 for their gradients, and 3·V·n floats for the answer rows' logits,
//     softmax and its gradient
//   + the process (Node, koffi, ggml libraries: about 100 MB).
import {
    loadGgml,
    toFloat,
    NULL,
    TENSOR_OFFSETS,
    readPtr,
    tensorNameAt,
    GGML_TYPE_F32,
    GGML_TYPE_I32,
    GGML_BACKEND_DEVICE_TYPE_CPU,
    GGML_BACKEND_DEVICE_TYPE_GPU,
    GGML_OPT_LOSS_TYPE_SUM,
    GGML_OPT_BUILD_TYPE_OPT,
    GGML_OPT_OPTIMIZER_TYPE_ADAMW,
    GGML_OPT_OPTIMIZER_TYPE_SGD,
    type Ggml,
    type Ptr,
    type GpuKind,
} from './ffi.js';
import { GgmlType, ggmlTypeName, readTensorRaw, type GgufFile } from './gguf.js';
import type { SessionMemory } from './types.js';
import { headDim, LAYER_MATRICES, llamaTensorShapes, Rng, type LlamaConfig, type LlamaTensors, type LayerMatrix } from './llama.js';

export interface OptimizerSettings {
    type: 'adamw' | 'sgd';
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
}

export interface SessionOptions {
    config: LlamaConfig;
    /** F32 weights in memory (from-scratch models, tests) ... */
    weights?: LlamaTensors;
    /** ... or a GGUF file whose tensors are loaded straight into ggml buffers (see the header) */
    file?: GgufFile;
    mode: 'full' | 'lora' | 'forward';
    lora?: { rank: number; alpha: number; targets: LayerMatrix[]; seed: number; init?: Map<string, { a: Float32Array; b: Float32Array }> };
    batch: number;
    seqLen: number;
    /** answer rows per micro-batch at most (the loss scale's N); for 'forward' the rows whose logits are returned */
    rows: number;
    threads: number;
    gpu: GpuKind;
    gradAccum?: number;
    optimizer?: OptimizerSettings;
    /** learning rate for the next optimizer step (called by ggml_opt through the params callback) */
    lr?: () => number;
    /** rows of a non-F32 output head per staged range (default: as many as the staging scratch holds; at most 64 ranges) */
    headRangeRows?: number;
}

export interface MicroBatch {
    /** [batch * seqLen] token ids, row-major per sequence */
    tokens: Int32Array;
    /** [rows] flat positions (b*seqLen + t) whose next-token logits are trained */
    rowIndex: Int32Array;
    /** [rows] target token per row, -1 for padding rows */
    targets: Int32Array;
    /** number of real rows (they come first) */
    nReal: number;
}

/** A checkpoint's optimizer state: the iteration counter and tensors by name ("<w>", "<w>#m", "<w>#v"). */
export interface SavedState {
    iter: number;
    /** A returned array may be a view of a buffer the next `get` overwrites: use it before asking again. */
    tensors: { get(name: string): Float32Array | undefined };
}

const OPT_ITER_OFFSET = 5240; // offsetof(ggml_opt_context, iter) in ggml-opt.cpp of llama.cpp v0.4.0 (libstdc++ x86-64)
const OPT_PERIOD_OFFSET = 5248;

/** Config fields added for qwen2 / Llama 3 (read loosely: older LlamaConfig objects lack them). */
interface ArchFields {
    arch?: string;
}

/**
 * Nodes a graph of this model needs: forward nodes per layer (norms, 7 matrices, biases, RoPE, the
 * attention reshapes, FFN: about 45, plus 4 per LoRA-adapted matrix and its two parameters), times 10
 * for the backward pass (each forward node adds 1-4 gradient nodes) and the optimizer steps; plus up to
 * 64 staged row ranges of the output head (2 forward nodes each, about 6 backward).
 */
export function graphCapacity(c: LlamaConfig, nLora: number): number {
    const perLayer = 48 + 6 * nLora + 12;
    return Math.max(4096, 10 * (c.nLayer * perLayer + 64) + 64 * 8);
}

export class Session {
    readonly g: Ggml;
    readonly c: LlamaConfig;
    readonly device: string;
    private backends: Ptr[] = [];
    private sched: Ptr = NULL;
    private ctxW: Ptr = NULL;
    private bufW: Ptr = NULL;
    private opt: Ptr = NULL;
    private cb: unknown;
    readonly tensors = new Map<string, Ptr>(); // all model tensors (and LoRA a/b), by name
    /** ggml type each weight is held in */
    readonly types = new Map<string, number>();
    readonly trainable: string[] = [];
    private readonly loraShapes = new Map<string, [number[], number[]]>();
    /** frozen matrices read through an F32 staging alias (see stageFrozenMatrices) */
    private readonly staged = new Map<string, Ptr>();
    private stageByAlias = new Map<bigint, Ptr>();
    private stageCtx: Ptr = NULL;
    private stageBuf: Ptr = NULL;
    private stageCb: unknown;
    private stagedNow: Ptr = NULL;
    /** the output head (when not F32) as row ranges, each read through an F32 staging alias */
    private headChunks: { alias: Ptr; r0: number; rows: number }[] = [];
    private readonly graphSize: number;
    private readonly posData: Int32Array;
    private stateOk: boolean | undefined;
    private optSteps = 0;
    private microSteps = 0;
    /** mirrors ggml_opt_context::opt_i (every eval advances it; a backward eval with opt_i+1 ≡ 0 is an optimizer step) */
    private optI = 0;
    /** per trainable tensor: its gradient accumulator and AdamW moments (ggml_opt's static context, stable) */
    private statics: Map<string, { acc: Ptr; m: Ptr; v: Ptr }> | undefined;
    private pendingState: SavedState | undefined;
    /** the model's weights (no LoRA tensors), in file order */
    readonly weightNames: string[] = [];
    private readonly shapes = new Map<string, number[]>();
    /** bytes of the weights buffer (frozen base + trainable) */
    readonly weightBytes: number;
    readonly opts: SessionOptions;

    constructor(opts: SessionOptions) {
        this.opts = opts;
        this.c = opts.config;
        const g = (this.g = loadGgml(opts.gpu));
        const f = g.f;
        // backends: the GPU first when asked for and present, the CPU always (ggml_opt puts its static
        // tensors on backend 0)
        const nDev = Number(f.ggml_backend_dev_count());
        let cpuDev: Ptr = NULL,
            gpuDev: Ptr = NULL;
        for (let i = 0; i < nDev; i++) {
            const d = f.ggml_backend_dev_get(i) as Ptr;
            const t = f.ggml_backend_dev_type(d) as number;
            if (t === GGML_BACKEND_DEVICE_TYPE_CPU && !cpuDev) cpuDev = d;
            if (t === GGML_BACKEND_DEVICE_TYPE_GPU && !gpuDev) gpuDev = d;
        }
        if (!cpuDev) throw new Error(`no CPU backend in ${g.dir}`);
        const names: string[] = [];
        if (opts.gpu !== 'off' && gpuDev) {
            const b = f.ggml_backend_dev_init(gpuDev, null) as Ptr;
            if (b) {
                this.backends.push(b);
                names.push(`${f.ggml_backend_dev_name(gpuDev)} (${f.ggml_backend_dev_description(gpuDev)})`);
            }
        }
        if ((opts.gpu === 'cuda' || opts.gpu === 'vulkan') && this.backends.length === 0) throw new Error(`gpu "${opts.gpu}" requested but no GPU device was found (libraries: ${g.dir})`);
        const onGpu = this.backends.length > 0;
        const cpu = f.ggml_backend_dev_init(cpuDev, null) as Ptr;
        this.backends.push(cpu);
        const reg = f.ggml_backend_dev_backend_reg(cpuDev) as Ptr;
        const setThreads = f.ggml_backend_reg_get_proc_address(reg, 'ggml_backend_set_n_threads') as Ptr;
        if (setThreads) g.koffi.call(setThreads, g.setThreadsProto as never, cpu, opts.threads);
        names.push(`CPU ×${opts.threads} (${f.ggml_backend_dev_description(cpuDev)})`);
        this.device = names.join(' + ');
        const c = this.c;
        const loraTargets = opts.mode === 'lora' ? opts.lora!.targets : [];
        this.graphSize = graphCapacity(c, loraTargets.length);
        this.sched = f.ggml_backend_sched_new(this.backends, null, this.backends.length, Math.max(65536, 2 * this.graphSize), false, false) as Ptr;
        const mainBackend = this.backends[0];

        // weights: the model's tensors (llamaTensorShapes: with biases and rope_freqs when the config
        // says so), in the type they will be held in
        const shapes = llamaTensorShapes(c);
        if (opts.file) {
            // a file may carry optional tensors an older config reader does not list
            for (const t of opts.file.tensors) if (!shapes.has(t.name) && (/^blk\.\d+\.attn_[qkv]\.bias$/.test(t.name) || t.name === 'rope_freqs.weight')) shapes.set(t.name, t.shape);
        }
        const fileInfo = (name: string) => opts.file?.tensors.find((t) => t.name === name);
        const headNames = new Set([c.tiedEmbeddings ? 'token_embd.weight' : 'output.weight']);
        const holdType = (name: string, shape: number[]): number => {
            if (!opts.file || opts.mode === 'full') return GGML_TYPE_F32;
            const t = fileInfo(name);
            if (!t) throw new Error(`${opts.file.path}: missing tensor ${name}`);
            if (shape.length === 1) return GGML_TYPE_F32; // norms, biases, rope factors: tiny, F32 for the element-wise ops
            // BF16: ggml-cpu has no out_prod for it (gguf.ts LORA_BASE_TYPES); a GPU has out_prod for F32
            // only: frozen matrices the backward passes through are widened to F32 there
            const throughBackward = name !== 'token_embd.weight' || headNames.has(name);
            if (t.type === GgmlType.BF16 && throughBackward) return GGML_TYPE_F32;
            if (onGpu && opts.mode === 'lora' && throughBackward && t.type !== GGML_TYPE_F32) return GGML_TYPE_F32;
            return t.type;
        };
        const nLora = loraTargets.length * c.nLayer * 2;
        this.ctxW = g.init((shapes.size + nLora + 8) * Number(f.ggml_tensor_overhead()), true);
        for (const [name, shape] of shapes) {
            const type = holdType(name, shape);
            const t = shape.length === 1 ? f.ggml_new_tensor_1d(this.ctxW, type, shape[0]) : f.ggml_new_tensor_2d(this.ctxW, type, shape[0], shape[1]);
            f.ggml_set_name(t, name);
            this.tensors.set(name, t as Ptr);
            this.types.set(name, type);
            this.weightNames.push(name);
            this.shapes.set(name, shape);
        }
        if (opts.mode === 'lora') {
            const r = opts.lora!.rank;
            for (let l = 0; l < c.nLayer; l++)
                for (const m of loraTargets) {
                    const base = `blk.${l}.${m}.weight`;
                    const [inDim, outDim] = shapes.get(base)!;
                    const a = f.ggml_new_tensor_2d(this.ctxW, GGML_TYPE_F32, inDim, r) as Ptr;
                    const b = f.ggml_new_tensor_2d(this.ctxW, GGML_TYPE_F32, r, outDim) as Ptr;
                    f.ggml_set_name(a, `${base}.lora_a`);
                    f.ggml_set_name(b, `${base}.lora_b`);
                    this.tensors.set(`${base}.lora_a`, a);
                    this.tensors.set(`${base}.lora_b`, b);
                    this.loraShapes.set(base, [
                        [inDim, r],
                        [r, outDim],
                    ]);
                }
        }
        this.bufW = f.ggml_backend_alloc_ctx_tensors(this.ctxW, mainBackend) as Ptr;
        if (!this.bufW) throw new Error('could not allocate the weights (out of memory?)');
        this.weightBytes = Number(f.ggml_backend_buffer_get_size(this.bufW));
        for (const [name, shape] of shapes) {
            if (opts.file) {
                this.loadFromFile(opts.file, name, shape);
                continue;
            }
            const w = opts.weights?.get(name);
            if (!w || w.data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`weights: ${name} missing or of the wrong size`);
            this.set(name, w.data);
        }
        if (opts.mode === 'lora') {
            const rng = new Rng(opts.lora!.seed);
            for (const [base, [sa, sb]] of this.loraShapes) {
                const init = opts.lora!.init?.get(base);
                const a = init?.a ?? new Float32Array(sa[0] * sa[1]);
                const b = init?.b ?? new Float32Array(sb[0] * sb[1]);
                if (!init) {
                    const std = 1 / Math.sqrt(sa[0]);
                    for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
                } // B = 0: starts as the base model
                this.set(`${base}.lora_a`, a);
                this.set(`${base}.lora_b`, b);
            }
        }
        // trainable tensors (rope_freqs are constants of the architecture, as in llama.cpp's llama_set_param)
        if (opts.mode === 'full') for (const name of shapes.keys()) if (name !== 'rope_freqs.weight') this.trainable.push(name);
        if (opts.mode === 'lora') for (const base of this.loraShapes.keys()) this.trainable.push(`${base}.lora_a`, `${base}.lora_b`);
        for (const name of this.trainable) f.ggml_set_param(this.tensors.get(name)!);
        this.posData = Int32Array.from({ length: opts.seqLen }, (_, i) => i);

        if (opts.mode === 'forward') return;
        if (opts.mode === 'lora' && !onGpu && process.env.MISMATCH_TRAIN_STAGING !== 'off') this.stageFrozenMatrices(cpu);
        const o = opts.optimizer ?? { type: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
        const lr = opts.lr ?? (() => 1e-3);
        this.cb = g.koffi.register(
            () => ({
                adamw: { alpha: lr(), beta1: o.beta1, beta2: o.beta2, eps: o.eps, wd: o.weightDecay },
                sgd: { alpha: lr(), wd: o.weightDecay },
            }),
            g.koffi.pointer(g.getOptParsProto as never),
        );
        // no ctx_compute/inputs/outputs: ggml_opt's dynamic path (graphs given per step with prepare_alloc)
        const p = f.ggml_opt_default_params(this.sched, GGML_OPT_LOSS_TYPE_SUM) as Record<string, unknown>;
        p.build_type = GGML_OPT_BUILD_TYPE_OPT;
        p.opt_period = opts.gradAccum ?? 1;
        p.get_opt_pars = this.cb;
        p.get_opt_pars_ud = null;
        p.optimizer = o.type === 'sgd' ? GGML_OPT_OPTIMIZER_TYPE_SGD : GGML_OPT_OPTIMIZER_TYPE_ADAMW;
        this.opt = f.ggml_opt_init(p) as Ptr;
    }

    /**
     * LoRA on the CPU against F16 or quantized layer matrices: ggml's backward of mul_mat(W, x) takes the
     * input gradient as out_prod(W, dyᵀ), and ggml-cpu's out_prod for an F16 or quantized W converts the
     * whole of W once per token (ops.cpp ggml_compute_forward_out_prod_q_f32 / _f16_f32: per dst row, every
     * row of W dequantized, then one vec_mad), which made a 1B Q8_0 base train at under 1 token/s. Its F32
     * out_prod is blocked (each W row reused across 16 tokens). So each such matrix is read through an F32
     * alias, and every alias shares ONE scratch buffer (the size of the largest matrix): the scheduler's eval
     * callback stops before each node that reads an alias (the forward mul_mat, the backward out_prod) and
     * widens that matrix into the scratch with a prebuilt ggml_cpy graph (multi-threaded dequantization)
     * unless it is already there. Memory: one F32 matrix (64 MiB at 1B); time: each matrix widened twice per
     * step instead of once per token. The weights stay in their file type. The output head (as large as
     * the vocabulary: 1 GiB in F32 at 128,256 × 2048) is staged in row ranges of the scratch's size, its
     * logits computed per range and placed with ggml_acc into one [V, n] tensor: its backward was the
     * same out_prod, converting all V·E values once per answer row (n per step), which made an F16 head
     * (ggml-base's scalar fp16_to_fp32_row) most of a 1B LoRA step (profiled: 37% of the samples at 2
     * layers). MISMATCH_TRAIN_STAGING=off turns all of this off (to measure it).
     */
    private stageFrozenMatrices(cpu: Ptr) {
        const g = this.g,
            f = g.f;
        const names = [...this.tensors.keys()].filter((n) => /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/.test(n) && this.types.get(n) !== GGML_TYPE_F32);
        const headName = this.tensors.has('output.weight') ? 'output.weight' : 'token_embd.weight';
        const headType = this.types.get(headName)!;
        const [E, V] = this.shapes.get(headName)!;
        const stageHead = headType !== GGML_TYPE_F32;
        if (names.length === 0 && !stageHead) return;
        let bytes = Math.max(0, ...names.map((n) => this.shapes.get(n)!.reduce((a, b) => a * b, 4)));
        // head ranges: as many rows as the scratch holds (at least 16 MiB of them, at most 64 ranges)
        let headRows = 0;
        if (stageHead) {
            headRows = Math.min(V, Math.max(this.opts.headRangeRows ?? Math.floor(Math.max(bytes, 16 << 20) / (E * 4)), Math.ceil(V / 64)));
            bytes = Math.max(bytes, headRows * E * 4);
        }
        const nChunks = stageHead ? Math.ceil(V / headRows) : 0;
        const nGraphs = names.length + nChunks;
        this.stageCtx = g.init((2 * names.length + 3 * nChunks + 8) * Number(f.ggml_tensor_overhead()) + nGraphs * Number(f.ggml_graph_overhead_custom(4, false)), true);
        this.stageBuf = f.ggml_backend_alloc_buffer(cpu, bytes + 64) as Ptr;
        if (!this.stageBuf) throw new Error(`could not allocate the ${(bytes / 2 ** 20).toFixed(0)} MiB staging buffer (out of memory?)`);
        const base = f.ggml_backend_buffer_get_base(this.stageBuf) as Ptr;
        const fills = new Map<bigint, Ptr>();
        /** An F32 alias of `src` ([ne0, ne1]) over the scratch, and the ggml_cpy graph that widens `src` into it. */
        const alias = (src: Ptr, ne0: number, ne1: number, label: string): Ptr => {
            const a = f.ggml_new_tensor_2d(this.stageCtx, GGML_TYPE_F32, ne0, ne1) as Ptr;
            f.ggml_set_name(a, `${label} (F32 staging)`);
            const st = f.ggml_backend_tensor_alloc(this.stageBuf, a, base) as number;
            if (st !== 0) throw new Error(`staging ${label}: ggml_backend_tensor_alloc failed (${st})`);
            const graph = f.ggml_new_graph_custom(this.stageCtx, 4, false) as Ptr;
            f.ggml_build_forward_expand(graph, f.ggml_cpy(this.stageCtx, src, a));
            fills.set(BigInt(a), graph);
            return a;
        };
        if (stageHead) {
            // each range: a tensor of the head's type over its rows in the weights buffer (no copy), widened
            // into the scratch by a ggml_cpy graph like the layer matrices
            const head = this.tensors.get(headName)!;
            const data = readPtr(g, head + BigInt(TENSOR_OFFSETS.data));
            const wBase = f.ggml_backend_buffer_get_base(this.bufW) as Ptr;
            const rowBytes = Number(f.ggml_row_size(headType, E));
            if (!(data >= wBase && data + BigInt(rowBytes * V) <= wBase + BigInt(this.weightBytes)))
                throw new Error(`${headName}: its data pointer lies outside the weights buffer (ggml_tensor layout changed?)`);
            for (let r0 = 0; r0 < V; r0 += headRows) {
                const rows = Math.min(headRows, V - r0);
                const src = f.ggml_new_tensor_2d(this.stageCtx, headType, E, rows) as Ptr;
                f.ggml_set_name(src, `${headName} rows ${r0}-${r0 + rows - 1}`);
                const st = f.ggml_backend_tensor_alloc(this.bufW, src, data + BigInt(r0 * rowBytes)) as number;
                if (st !== 0) throw new Error(`staging ${headName}: ggml_backend_tensor_alloc failed (${st})`);
                this.headChunks.push({ alias: alias(src, E, rows, `${headName} rows ${r0}-${r0 + rows - 1}`), r0, rows });
            }
        }
        for (const name of names) {
            const [ne0, ne1] = this.shapes.get(name)!;
            this.staged.set(name, alias(this.tensors.get(name)!, ne0, ne1, name));
        }
        this.stageByAlias = fills;
        const srcAt = BigInt(TENSOR_OFFSETS.src);
        const ptr = (p: unknown): bigint => (typeof p === 'bigint' ? p : typeof p === 'number' ? BigInt(p) : BigInt(g.koffi.address(p as never) as never));
        this.stageCb = g.koffi.register(
            (t: unknown, ask: boolean) => {
                if (!ask) return true; // after a node we asked for: go on
                const tp = ptr(t);
                for (let i = 0; i < 2; i++) {
                    const src = readPtr(g, tp + srcAt + BigInt(8 * i));
                    const graph = src ? fills.get(src) : undefined;
                    if (graph === undefined) continue;
                    // every node before this one that read the scratch has been computed (each ended its
                    // range), and those still pending do not read it: widen this matrix now
                    if (this.stagedNow !== src) {
                        const rc = f.ggml_backend_graph_compute(cpu, graph) as number;
                        if (rc !== 0) throw new Error(`staging a frozen matrix failed (status ${rc})`);
                        this.stagedNow = src;
                    }
                    return true;
                }
                return false;
            },
            g.koffi.pointer(g.evalCallbackProto as never),
        );
        f.ggml_backend_sched_set_eval_callback(this.sched, this.stageCb, null);
    }

    /** Copies a tensor from the GGUF file into its ggml buffer: raw bytes when the types match, else via ggml's to_float. */
    private loadFromFile(file: GgufFile, name: string, shape: number[]) {
        const info = file.tensors.find((t) => t.name === name);
        if (!info) throw new Error(`${file.path}: missing tensor ${name}`);
        if (info.shape.join(',') !== shape.join(',')) throw new Error(`${file.path}: tensor ${name} has shape [${info.shape}], expected [${shape}]`);
        const t = this.tensors.get(name)!;
        const type = this.types.get(name)!;
        const f = this.g.f;
        if (type === info.type) {
            if (Number(f.ggml_nbytes(t)) !== info.nbytes)
                throw new Error(`${file.path}: tensor ${name}: ${info.nbytes} bytes in the file, ${Number(f.ggml_nbytes(t))} expected for ${ggmlTypeName(info.type)} [${shape}]`);
            readTensorRaw(file, name, (bytes, off) => f.ggml_backend_tensor_set(t, bytes, off, bytes.byteLength));
            return;
        }
        if (type !== GGML_TYPE_F32) throw new Error(`${file.path}: tensor ${name}: cannot hold ${ggmlTypeName(info.type)} as ${ggmlTypeName(type)}`);
        // widen to F32 in row chunks (whole rows: every type's block divides ne0)
        const ne0 = shape[0];
        const rowBytes = info.nbytes / info.shape.slice(1).reduce((a, b) => a * b, 1);
        const rowsPerChunk = Math.max(1, Math.floor((16 << 20) / Math.max(rowBytes, ne0 * 4)));
        const chunk = rowsPerChunk * rowBytes;
        const out = new Float32Array(rowsPerChunk * ne0);
        readTensorRaw(
            file,
            name,
            (bytes, off) => {
                const n =
                    info.type === GGML_TYPE_F32
                        ? (out.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))), bytes.byteLength / 4)
                        : toFloat(this.g, info.type, bytes, out, 0);
                f.ggml_backend_tensor_set(t, out, (off / rowBytes) * ne0 * 4, n * 4);
            },
            chunk,
        );
    }

    private set(name: string, data: Float32Array) {
        const t = this.tensors.get(name)!;
        if (this.types.get(name) !== undefined && this.types.get(name) !== GGML_TYPE_F32) throw new Error(`${name} is held as ${ggmlTypeName(this.types.get(name)!)}; only F32 tensors can be set`);
        this.g.f.ggml_backend_tensor_set(t, data, 0, data.byteLength);
    }

    get(name: string): Float32Array {
        const t = this.tensors.get(name);
        if (!t) throw new Error(`no tensor ${name}`);
        const n = Number(this.g.f.ggml_nelements(t));
        const out = new Float32Array(n);
        const type = this.types.get(name) ?? GGML_TYPE_F32;
        if (type === GGML_TYPE_F32) {
            this.g.f.ggml_backend_tensor_get(t, out, 0, out.byteLength);
            return out;
        }
        const raw = Buffer.alloc(Number(this.g.f.ggml_nbytes(t)));
        this.g.f.ggml_backend_tensor_get(t, raw, 0, raw.byteLength);
        toFloat(this.g, type, raw, out, 0);
        return out;
    }

    setWeight(name: string, data: Float32Array) {
        this.set(name, data);
    }

    /** Elements of a tensor (without reading it). */
    elements(name: string): number {
        const t = this.tensors.get(name);
        if (!t) throw new Error(`no tensor ${name}`);
        return Number(this.g.f.ggml_nelements(t));
    }

    /** What the session's ggml buffers hold, by part (see SessionMemory). */
    memory(): SessionMemory {
        const f = this.g.f;
        let optimizer = 0;
        for (const s of this.statics?.values() ?? []) for (const t of [s.acc, s.m, s.v]) if (t) optimizer += Number(f.ggml_nbytes(t));
        let compute = 0;
        if (this.sched) for (const b of this.backends) compute += Number(f.ggml_backend_sched_get_buffer_size(this.sched, b));
        return { weights: this.weightBytes, optimizer, compute, staging: this.stageBuf ? Number(f.ggml_backend_buffer_get_size(this.stageBuf)) : 0 };
    }

    shapeOf(name: string): number[] {
        const s = this.shapes.get(name);
        if (!s) throw new Error(`no weight ${name}`);
        return s;
    }

    /** The tensors a freshly built graph reads per step. */
    private newInputs(ctx: Ptr, n: number) {
        const f = this.g.f;
        const { batch: B, seqLen: T } = this.opts;
        const mk = (name: string, ne: number) => {
            const t = f.ggml_new_tensor_1d(ctx, GGML_TYPE_I32, ne) as Ptr;
            f.ggml_set_name(t, name);
            f.ggml_set_input(t);
            return t;
        };
        // zeros [V, n] that the staged head's per-range logits are placed into (see stageFrozenMatrices)
        let zeros = NULL;
        if (this.headChunks.length > 0) {
            zeros = f.ggml_new_tensor_2d(ctx, GGML_TYPE_F32, this.c.vocabSize, n) as Ptr;
            f.ggml_set_name(zeros, 'logits_zero');
            f.ggml_set_input(zeros);
        }
        return { tokens: mk('tokens', T * B), pos: mk('positions', T), rowIdx: mk('answer_rows', n), targetIdx: mk('answer_targets', n), zeros };
    }

    /** Builds the forward graph in `ctx` and returns [its output, the inputs]: logits [V, n] (forward) or the per-row loss [1, n]. */
    private buildForward(ctx: Ptr, n: number, forward: boolean) {
        const f = this.g.f,
            c = this.c;
        const { batch: B, seqLen: T } = this.opts;
        const inp = this.newInputs(ctx, n);
        const hd = headDim(c),
            H = c.nHead,
            Hkv = c.nHeadKv;
        const W = (name: string) => this.tensors.get(name)!;
        const has = (name: string) => this.tensors.has(name);
        const loraScale = this.opts.mode === 'lora' ? this.opts.lora!.alpha / this.opts.lora!.rank : 0;
        const mm = (name: string, x: Ptr): Ptr => {
            let y = f.ggml_mul_mat(ctx, this.staged.get(name) ?? W(name), x) as Ptr;
            if (this.loraShapes.has(name)) {
                const ax = f.ggml_mul_mat(ctx, W(`${name}.lora_a`), x) as Ptr;
                const bax = f.ggml_mul_mat(ctx, W(`${name}.lora_b`), ax) as Ptr;
                y = f.ggml_add(ctx, y, f.ggml_scale(ctx, bax, loraScale)) as Ptr;
            }
            const bias = name.replace(/\.weight$/, '.bias');
            if (bias !== name && has(bias)) y = f.ggml_add(ctx, y, W(bias)) as Ptr;
            return y;
        };
        const ropeMode = (c as ArchFields).arch === 'qwen2' ? 2 : 0; // GGML_ROPE_TYPE_NEOX for qwen2 (llama.cpp llama_model_rope_type)
        const freqs = has('rope_freqs.weight') ? W('rope_freqs.weight') : NULL;
        const eps = c.rmsEps;
        let x = f.ggml_get_rows(ctx, W('token_embd.weight'), inp.tokens) as Ptr; // [E, T*B]
        for (let l = 0; l < c.nLayer; l++) {
            const p = `blk.${l}.`;
            let h = f.ggml_mul(ctx, f.ggml_rms_norm(ctx, x, eps), W(`${p}attn_norm.weight`)) as Ptr;
            let q = f.ggml_reshape_4d(ctx, mm(`${p}attn_q.weight`, h), hd, H, T, B) as Ptr;
            let k = f.ggml_reshape_4d(ctx, mm(`${p}attn_k.weight`, h), hd, Hkv, T, B) as Ptr;
            const v = f.ggml_reshape_4d(ctx, mm(`${p}attn_v.weight`, h), hd, Hkv, T, B) as Ptr;
            q = f.ggml_rope_ext(ctx, q, inp.pos, freqs, hd, ropeMode, c.nCtx, c.ropeTheta, 1, 0, 1, 32, 1) as Ptr;
            k = f.ggml_rope_ext(ctx, k, inp.pos, freqs, hd, ropeMode, c.nCtx, c.ropeTheta, 1, 0, 1, 32, 1) as Ptr;
            // heads and batch merged into dim 2 so that GQA broadcasting (and its backward) applies
            const Q = f.ggml_reshape_3d(ctx, f.ggml_cont(ctx, f.ggml_permute(ctx, q, 0, 2, 1, 3)), hd, T, H * B) as Ptr; // [hd, T, H*B]
            const K = f.ggml_reshape_3d(ctx, f.ggml_cont(ctx, f.ggml_permute(ctx, k, 0, 2, 1, 3)), hd, T, Hkv * B) as Ptr;
            const V = f.ggml_reshape_3d(ctx, f.ggml_cont(ctx, f.ggml_permute(ctx, v, 1, 2, 0, 3)), T, hd, Hkv * B) as Ptr; // [T, hd, Hkv*B]
            let kq = f.ggml_mul_mat(ctx, K, Q) as Ptr; // [Tk, Tq, H*B]
            kq = f.ggml_diag_mask_inf(ctx, kq, 0) as Ptr;
            kq = f.ggml_soft_max_ext(ctx, kq, NULL, 1 / Math.sqrt(hd), 0) as Ptr;
            const kqv = f.ggml_mul_mat(ctx, V, kq) as Ptr; // [hd, Tq, H*B]
            const merged = f.ggml_reshape_2d(ctx, f.ggml_cont(ctx, f.ggml_permute(ctx, f.ggml_reshape_4d(ctx, kqv, hd, T, H, B), 0, 2, 1, 3)), hd * H, T * B) as Ptr;
            x = f.ggml_add(ctx, x, mm(`${p}attn_output.weight`, merged)) as Ptr;
            h = f.ggml_mul(ctx, f.ggml_rms_norm(ctx, x, eps), W(`${p}ffn_norm.weight`)) as Ptr;
            const act = f.ggml_swiglu_split(ctx, mm(`${p}ffn_gate.weight`, h), mm(`${p}ffn_up.weight`, h)) as Ptr;
            x = f.ggml_add(ctx, x, mm(`${p}ffn_down.weight`, act)) as Ptr;
        }
        const y = f.ggml_mul(ctx, f.ggml_rms_norm(ctx, x, eps), W('output_norm.weight')) as Ptr;
        const rowsY = f.ggml_get_rows(ctx, y, inp.rowIdx) as Ptr; // [E, n]: the answer rows only
        const out = has('output.weight') ? W('output.weight') : W('token_embd.weight');
        let logits: Ptr;
        if (this.headChunks.length > 0) {
            // per staged row range [rows, n], placed at its rows of a [V, n] tensor
            const rowStride = c.vocabSize * 4;
            logits = inp.zeros;
            for (const ch of this.headChunks) logits = f.ggml_acc(ctx, logits, f.ggml_mul_mat(ctx, ch.alias, rowsY), rowStride, rowStride * n, rowStride * n, ch.r0 * 4) as Ptr;
        } else logits = f.ggml_mul_mat(ctx, out, rowsY) as Ptr; // [V, n]
        f.ggml_set_name(logits, 'logits');
        if (forward) return { out: logits, inp };
        const V = c.vocabSize;
        // the softmax is flagged as an output so that ggml-alloc never computes SOFT_MAX_BACK in place over
        // it: ggml_op_can_inplace allows any source, and ggml-cpu's soft_max_back copies dy into dx before
        // it reads y (ops.cpp ggml_compute_forward_soft_max_ext_back_f32), so dx aliasing y gives garbage
        const sm = f.ggml_soft_max(ctx, logits) as Ptr;
        f.ggml_set_output(sm);
        const probs = f.ggml_reshape_2d(ctx, sm, 1, V * n) as Ptr; // one probability per row
        const pTarget = f.ggml_get_rows(ctx, probs, inp.targetIdx) as Ptr; // [1, n]
        const period = this.opts.gradAccum ?? 1;
        const loss = f.ggml_scale(ctx, f.ggml_log(ctx, pTarget), -1 / (this.opts.rows * period)) as Ptr;
        f.ggml_set_name(loss, 'row_loss');
        return { out: loss, inp };
    }

    private setInputs(inp: ReturnType<Session['newInputs']>, mb: MicroBatch, n: number) {
        const f = this.g.f;
        f.ggml_backend_tensor_set(inp.tokens, mb.tokens, 0, mb.tokens.byteLength);
        f.ggml_backend_tensor_set(inp.pos, this.posData, 0, this.posData.byteLength);
        const rows = mb.rowIndex.subarray(0, n);
        f.ggml_backend_tensor_set(inp.rowIdx, rows, 0, rows.byteLength);
        const V = this.c.vocabSize;
        const tIdx = new Int32Array(n);
        for (let i = 0; i < n; i++) {
            const t = mb.targets[i];
            if (!(t >= 0 && t < V)) throw new Error(`answer row ${i}: target token ${t} is outside the vocabulary (${V})`);
            tIdx[i] = i * V + t;
        }
        f.ggml_backend_tensor_set(inp.targetIdx, tIdx, 0, tIdx.byteLength);
        if (inp.zeros) f.ggml_backend_tensor_memset(inp.zeros, 0, 0, Number(f.ggml_nbytes(inp.zeros)));
    }

    private newContext(): Ptr {
        const f = this.g.f;
        // tensors of the forward graph, its gradients and the optimizer steps; three graphs (gf and
        // ggml_opt's gb_grad and gb_opt copies)
        const mem = 4 * this.graphSize * Number(f.ggml_tensor_overhead()) + 3 * Number(f.ggml_graph_overhead_custom(this.graphSize, true));
        const ctx = this.g.init(mem, true);
        if (!ctx) throw new Error('ggml_init failed (out of memory?)');
        return ctx;
    }

    /**
     * One ggml_opt evaluation on a freshly built graph: forward + backward (+ optimizer step). Returns
     * ggml's loss. Forward-only evaluations (evalLoss) do not go through ggml_opt: when the first graph
     * ggml_opt builds is a forward one, the backward graphs it builds later never reach the parameters'
     * gradient accumulators (measured: all zero), and a forward eval would also advance its
     * accumulation counter.
     */
    private run(mb: MicroBatch, backward: true): number {
        const f = this.g.f;
        if (mb.nReal < 1) throw new Error('a micro-batch without answer rows');
        const n = mb.nReal;
        if (n > this.opts.rows) throw new Error(`micro-batch has ${n} answer rows, the session was sized for ${this.opts.rows}`);
        const ctx = this.newContext();
        try {
            const gf = f.ggml_new_graph_custom(ctx, this.graphSize, true) as Ptr;
            const { out, inp } = this.buildForward(ctx, n, false);
            f.ggml_build_forward_expand(gf, out);
            f.ggml_opt_prepare_alloc(this.opt, ctx, gf, inp.tokens, out);
            const period = this.opts.gradAccum ?? 1;
            const isOptStep = (this.optI + 1) % period === 0;
            f.ggml_opt_alloc(this.opt, backward);
            if (!this.statics) this.findStatics(ctx);
            if (this.pendingState) this.applyState(this.pendingState);
            this.setInputs(inp, mb, n);
            f.ggml_opt_eval(this.opt, null);
            this.optI = (this.optI + 1) % period;
            const loss = new Float32Array(1);
            f.ggml_backend_tensor_get(f.ggml_opt_loss(this.opt), loss, 0, 4);
            // ggml_opt resets the parameters' gradient accumulators only with static graphs
            // (ggml_opt_alloc resets gb_grad, which the dynamic path has already dropped): zero them here
            // once an optimizer step has used them
            if (isOptStep) for (const s of this.statics!.values()) f.ggml_backend_tensor_memset(s.acc, 0, 0, Number(f.ggml_nbytes(s.acc)));
            return loss[0];
        } finally {
            f.ggml_free(ctx);
        }
    }

    /**
     * After the first ggml_opt_alloc (which builds and allocates ggml_opt's static tensors): each trainable
     * tensor's gradient accumulator and AdamW moments. The moments are the optimizer step node
     * "<opt> step for <name>"'s src[2] and src[3] (ggml.h struct ggml_tensor, public C layout), checked by
     * their names ("AdamW m for <name>").
     */
    private findStatics(ctx: Ptr) {
        const g = this.g,
            f = g.f;
        const adam = (this.opts.optimizer?.type ?? 'adamw') === 'adamw';
        const optName = f.ggml_opt_optimizer_name(adam ? GGML_OPT_OPTIMIZER_TYPE_ADAMW : GGML_OPT_OPTIMIZER_TYPE_SGD) as string;
        const out = new Map<string, { acc: Ptr; m: Ptr; v: Ptr }>();
        for (const name of this.trainable) {
            const t = this.tensors.get(name)!;
            const acc = f.ggml_opt_grad_acc(this.opt, t) as Ptr;
            if (!acc) throw new Error(`ggml_opt built no gradient accumulator for ${name}`);
            let m = NULL,
                v = NULL;
            if (adam) {
                const node = f.ggml_get_tensor(ctx, `${optName} step for ${name}`) as Ptr;
                if (node) {
                    m = readPtr(g, node + BigInt(TENSOR_OFFSETS.src + 2 * 8));
                    v = readPtr(g, node + BigInt(TENSOR_OFFSETS.src + 3 * 8));
                    if (!m || !v || f.ggml_get_name(m) !== `AdamW m for ${name}` || f.ggml_get_name(v) !== `AdamW v for ${name}`) m = v = NULL;
                }
            }
            out.set(name, { acc, m, v });
        }
        this.statics = out;
    }

    /**
     * One micro-batch forward + backward (+ optimizer step every gradAccum micro-batches).
     * Returns the mean cross-entropy per real answer token.
     */
    step(mb: MicroBatch): number {
        const loss = this.run(mb, true);
        const period = this.opts.gradAccum ?? 1;
        this.microSteps++;
        if (this.microSteps % period === 0) this.optSteps++;
        return (loss * period * this.opts.rows) / mb.nReal;
    }

    /** Forward only: the loss per real answer token (validation). */
    evalLoss(mb: MicroBatch): number {
        if (this.opts.mode === 'forward') throw new Error('evalLoss() needs a training session');
        const rows = this.computeForward(mb, mb.nReal, 'loss') as Float32Array;
        let sum = 0;
        for (const v of rows) sum += v;
        return (sum * (this.opts.gradAccum ?? 1) * this.opts.rows) / mb.nReal;
    }

    /** Forward session only: logits [rows][V] of the batch's `rows` rows (padding rows included). */
    forward(mb: MicroBatch): Float32Array {
        if (this.opts.mode !== 'forward') throw new Error('forward() needs a session in mode "forward"');
        return this.computeForward(mb, this.opts.rows, 'logits') as Float32Array;
    }

    /**
     * Forward only, any session: the arg-max token of each real answer row's next-token logits (the
     * token greedy decoding picks there; ties go to the lowest id, as ggml's and llama.cpp's greedy
     * samplers break them). One forward pass; only n integers leave the device.
     */
    argmaxRows(mb: MicroBatch): Int32Array {
        return this.computeForward(mb, mb.nReal, 'argmax') as Int32Array;
    }

    /** A forward graph computed through the scheduler alone (ggml_opt's state untouched). */
    private computeForward(mb: MicroBatch, n: number, what: 'loss' | 'logits' | 'argmax'): Float32Array | Int32Array {
        const f = this.g.f;
        if (n < 1) throw new Error('a micro-batch without answer rows');
        const ctx = this.newContext();
        try {
            const gf = f.ggml_new_graph_custom(ctx, this.graphSize, false) as Ptr;
            const built = this.buildForward(ctx, n, what !== 'loss');
            const inp = built.inp;
            const out = what === 'argmax' ? (f.ggml_argmax(ctx, built.out) as Ptr) : built.out; // [n] I32
            f.ggml_set_output(out);
            f.ggml_build_forward_expand(gf, out);
            f.ggml_backend_sched_reset(this.sched);
            if (!f.ggml_backend_sched_alloc_graph(this.sched, gf)) throw new Error('could not allocate the forward graph');
            if (what !== 'loss') {
                const rows = mb.rowIndex.subarray(0, n);
                f.ggml_backend_tensor_set(inp.tokens, mb.tokens, 0, mb.tokens.byteLength);
                f.ggml_backend_tensor_set(inp.pos, this.posData, 0, this.posData.byteLength);
                f.ggml_backend_tensor_set(inp.rowIdx, rows, 0, rows.byteLength);
                if (inp.zeros) f.ggml_backend_tensor_memset(inp.zeros, 0, 0, Number(f.ggml_nbytes(inp.zeros)));
            } else this.setInputs(inp, mb, n);
            const rc = f.ggml_backend_sched_graph_compute(this.sched, gf) as number;
            if (rc !== 0) throw new Error(`graph compute failed (status ${rc})`);
            const count = Number(f.ggml_nelements(out));
            const res = what === 'argmax' ? new Int32Array(count) : new Float32Array(count);
            f.ggml_backend_tensor_get(out, res, 0, res.byteLength);
            f.ggml_backend_sched_reset(this.sched);
            return res;
        } finally {
            f.ggml_free(ctx);
        }
    }

    /** Gradient accumulator of a trainable tensor (only with gradAccum > 1, after a non-final micro-step). */
    gradAcc(name: string): Float32Array {
        const f = this.g.f;
        const acc = this.statics?.get(name)?.acc;
        if (!acc) throw new Error(`no gradient accumulator for ${name} (no step yet?)`);
        const out = new Float32Array(Number(f.ggml_nelements(acc)));
        f.ggml_backend_tensor_get(acc, out, 0, out.byteLength);
        return out;
    }

    // ---- optimizer state, for checkpoints -------------------------------------------------------

    /** Verifies the layout-dependent reads before the first checkpoint; false disables exact resume. */
    stateSupported(): boolean {
        if (this.stateOk !== undefined) return this.stateOk;
        if (!this.statics) return false; // no step yet: nothing to save
        const g = this.g,
            f = g.f;
        try {
            const t = this.tensors.get(this.trainable[0])!;
            const nameOk = tensorNameAt(g, t) === f.ggml_get_name(t);
            const neOk = Number(g.koffi.decode(t + BigInt(TENSOR_OFFSETS.ne), 'int64_t')) === this.get(this.trainable[0]).length / (this.tensorShape(this.trainable[0])[1] ?? 1);
            const period = g.koffi.decode(this.opt + BigInt(OPT_PERIOD_OFFSET), 'int32_t') as number;
            const iter = Number(g.koffi.decode(this.opt + BigInt(OPT_ITER_OFFSET), 'int64_t'));
            const iterOk = iter === this.optSteps + 1;
            const adam = (this.opts.optimizer?.type ?? 'adamw') === 'adamw';
            const momOk = !adam || [...this.statics.values()].every((s) => s.m && s.v);
            this.stateOk = nameOk && neOk && period === (this.opts.gradAccum ?? 1) && iterOk && momOk;
        } catch {
            this.stateOk = false;
        }
        return this.stateOk;
    }

    private tensorShape(name: string): number[] {
        const t = this.tensors.get(name)!;
        const ne0 = Number(this.g.koffi.decode(t + BigInt(TENSOR_OFFSETS.ne), 'int64_t'));
        const ne1 = Number(this.g.koffi.decode(t + BigInt(TENSOR_OFFSETS.ne + 8), 'int64_t'));
        return [ne0, ne1];
    }

    /**
     * Weights, moments and the optimizer's iteration counter. The tensors are read one at a time as the
     * caller iterates, into ONE buffer the size of the largest: each yielded array is a view of it, valid
     * until the next iteration (a checkpoint writer streams it to disk at once). A fresh array per tensor
     * left 12 bytes per parameter of a full fine-tune as garbage at each checkpoint, on top of the
     * AdamW state, until V8 collected it and malloc gave the pages back.
     */
    saveState(): { iter: number; tensors: Iterable<[string, Float32Array]> } {
        if (!this.stateSupported()) throw new Error('optimizer state is not readable with this ggml build');
        const f = this.g.f;
        const buf = new Float32Array(Math.max(0, ...this.trainable.map((n) => this.elements(n))));
        const read = (t: Ptr) => {
            const a = buf.subarray(0, Number(f.ggml_nelements(t)));
            f.ggml_backend_tensor_get(t, a, 0, a.byteLength);
            return a;
        };
        const self = this;
        function* tensors(): Generator<[string, Float32Array]> {
            for (const name of self.trainable) {
                // trainable tensors are F32 (full fine-tuning widens its weights; LoRA's A and B are F32)
                yield [name, read(self.tensors.get(name)!)];
                const s = self.statics!.get(name)!;
                if (s.m && s.v) {
                    yield [`${name}#m`, read(s.m)];
                    yield [`${name}#v`, read(s.v)];
                }
            }
        }
        const iter = Number(this.g.koffi.decode(this.opt + BigInt(OPT_ITER_OFFSET), 'int64_t'));
        return { iter, tensors: tensors() };
    }

    /**
     * Restores a checkpoint: the weights now; the moments and the iteration counter once ggml_opt has
     * built its static tensors (at the first ggml_opt_alloc, which zeroes them), before that step runs.
     * `tensors.get` may read lazily (one tensor in memory at a time).
     */
    loadState(state: SavedState, optSteps: number) {
        for (const name of this.trainable) {
            const w = state.tensors.get(name);
            if (!w) throw new Error(`checkpoint has no ${name}`);
            this.set(name, w);
        }
        this.optSteps = optSteps;
        this.microSteps = optSteps * (this.opts.gradAccum ?? 1);
        if (this.statics) this.applyState(state);
        else this.pendingState = state;
    }

    private applyState(state: SavedState) {
        this.pendingState = undefined;
        const f = this.g.f;
        const adam = (this.opts.optimizer?.type ?? 'adamw') === 'adamw';
        for (const name of this.trainable) {
            const s = this.statics!.get(name)!;
            if (!adam) continue;
            if (!s.m || !s.v) throw new Error('optimizer state is not writable with this ggml build');
            // each read is used before the next (SavedState: the reader may reuse one buffer)
            for (const [key, t] of [
                [`${name}#m`, s.m],
                [`${name}#v`, s.v],
            ] as const) {
                const a = state.tensors.get(key);
                if (!a) throw new Error(`checkpoint has no optimizer moments for ${name}`);
                f.ggml_backend_tensor_set(t, a, 0, a.byteLength);
            }
        }
        this.g.koffi.encode(this.opt + BigInt(OPT_ITER_OFFSET), 'int64_t', BigInt(state.iter));
    }

    /** Frees ggml_opt (gradient accumulators, AdamW moments) and the scheduler's compute buffers; the weights stay readable. */
    releaseTraining() {
        const f = this.g.f;
        if (this.opt) f.ggml_opt_free(this.opt);
        if (this.cb) this.g.koffi.unregister(this.cb as bigint);
        if (this.sched) f.ggml_backend_sched_free(this.sched);
        this.freeStaging();
        this.opt = this.sched = NULL;
        this.cb = undefined;
        this.statics = undefined;
        this.stateOk ??= false;
    }

    private freeStaging() {
        const f = this.g.f;
        if (this.stageCb) this.g.koffi.unregister(this.stageCb as bigint);
        if (this.stageBuf) f.ggml_backend_buffer_free(this.stageBuf);
        if (this.stageCtx) f.ggml_free(this.stageCtx);
        this.stageCb = undefined;
        this.stageBuf = this.stageCtx = this.stagedNow = NULL;
        this.staged.clear();
        this.stageByAlias.clear();
        this.headChunks = [];
    }

    free() {
        const f = this.g.f;
        if (this.opt) f.ggml_opt_free(this.opt);
        if (this.cb) this.g.koffi.unregister(this.cb as bigint);
        if (this.sched) f.ggml_backend_sched_free(this.sched);
        this.freeStaging();
        if (this.bufW) f.ggml_backend_buffer_free(this.bufW);
        if (this.ctxW) f.ggml_free(this.ctxW);
        for (const b of this.backends) f.ggml_backend_free(b);
        this.opt = this.sched = this.bufW = this.ctxW = NULL;
        this.backends = [];
    }
}

export { LAYER_MATRICES };

/**
 * Packs sequences into a micro-batch: tokens right-padded (causal attention never looks right, so
 * padding cannot change a real position), answer rows = the positions whose next token is an answer
 * token or the EOS.
 */
export function packBatch(seqs: { tokens: number[]; answerStart: number }[], batch: number, seqLen: number, rows: number, padId: number): MicroBatch {
    const tokens = new Int32Array(batch * seqLen).fill(padId);
    const rowIndex = new Int32Array(rows);
    const targets = new Int32Array(rows).fill(-1);
    let r = 0;
    seqs.forEach((s, b) => {
        for (let i = 0; i < s.tokens.length; i++) tokens[b * seqLen + i] = s.tokens[i];
        for (let p = s.answerStart - 1; p < s.tokens.length - 1; p++) {
            if (r >= rows) throw new Error(`micro-batch has more than ${rows} answer tokens`);
            rowIndex[r] = b * seqLen + p;
            targets[r] = s.tokens[p + 1];
            r++;
        }
    });
    return { tokens, rowIndex, targets, nReal: r };
}
