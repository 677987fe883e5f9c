// The llama forward graph in ggml, trained with ggml_opt. One Session = one set of weights on one
// backend, with its graphs built once for a fixed micro-batch shape [seqLen, batch] and a fixed number
// of answer rows; every step only copies tokens, answer positions and labels in.
//
// Graph (llama.cpp src/models/llama.cpp, without KV cache):
//   x = get_rows(token_embd, tokens)                                       [E, T*B]
//   per layer: h = rms_norm(x)·attn_norm; q,k,v = W·h (+ LoRA B·A·h·α/r); RoPE (NORM mode) on q,k;
//              scores = softmax(causal_mask(Kᵀ·Q)·1/√d) per head (GQA: kv head = head / (H/Hkv));
//              x += Wo·(V·scores); h = rms_norm(x)·ffn_norm; x += Wdown·(silu(Wgate·h) * (Wup·h))
//   y = rms_norm(x)·output_norm; logits = output · get_rows(y, answer positions)   [V, N]
// The loss mask is the get_rows over the answer positions: only those rows reach the cross-entropy.
import { loadGgml, NULL, TENSOR_OFFSETS, readPtr, tensorNameAt, GGML_TYPE_F32, GGML_TYPE_I32, GGML_BACKEND_DEVICE_TYPE_CPU,
    GGML_BACKEND_DEVICE_TYPE_GPU, GGML_OPT_LOSS_TYPE_CROSS_ENTROPY, GGML_OPT_BUILD_TYPE_OPT, GGML_OPT_OPTIMIZER_TYPE_ADAMW,
    GGML_OPT_OPTIMIZER_TYPE_SGD, type Ggml, type Ptr, type GpuKind } from './ffi.js';
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
    weights: LlamaTensors;
    mode: 'full' | 'lora' | 'forward';
    lora?: { rank: number; alpha: number; targets: LayerMatrix[]; seed: number; init?: Map<string, { a: Float32Array; b: Float32Array }> };
    batch: number;
    seqLen: number;
    /** answer rows per micro-batch (labels); for 'forward' the rows whose logits are returned */
    rows: number;
    threads: number;
    gpu: GpuKind;
    gradAccum?: number;
    optimizer?: OptimizerSettings;
    /** learning rate for the next optimizer step (called by ggml_opt through the params callback) */
    lr?: () => number;
}

export interface MicroBatch {
    /** [batch * seqLen] token ids, row-major per sequence */
    tokens: Int32Array;
    /** [rows] flat positions (b*seqLen + t) whose next-token logits are trained */
    rowIndex: Int32Array;
    /** [rows] target token per row, -1 for padding rows */
    targets: Int32Array;
    /** number of real rows */
    nReal: number;
}

const OPT_ITER_OFFSET = 5240; // offsetof(ggml_opt_context, iter) in ggml-opt.cpp of llama.cpp v0.4.0 (libstdc++ x86-64)
const OPT_PERIOD_OFFSET = 5248;

export class Session {
    readonly g: Ggml;
    readonly c: LlamaConfig;
    readonly device: string;
    private backends: Ptr[] = [];
    private sched: Ptr = NULL;
    private ctxW: Ptr = NULL;
    private bufW: Ptr = NULL;
    private ctxIn: Ptr = NULL;
    private bufIn: Ptr = NULL;
    private ctxC: Ptr = NULL;
    private opt: Ptr = NULL;
    private graph: Ptr = NULL; // forward-only graph
    private cb: unknown;
    readonly tensors = new Map<string, Ptr>(); // all model tensors (and LoRA a/b), by name
    readonly trainable: string[] = [];
    private tokens: Ptr = NULL;
    private pos: Ptr = NULL;
    private rowIdx: Ptr = NULL;
    private rowMask: Ptr = NULL;
    logits: Ptr = NULL;
    private labelsBuf: Float32Array;
    private stateOk: boolean | undefined;
    private optSteps = 0;
    readonly opts: SessionOptions;

    constructor(opts: SessionOptions) {
        this.opts = opts;
        this.c = opts.config;
        const g = (this.g = loadGgml(opts.gpu));
        const f = g.f;
        // backends: the GPU first when asked for and present, the CPU always (ggml_opt puts its static
        // tensors on backend 0)
        const nDev = Number(f.ggml_backend_dev_count());
        let cpuDev: Ptr = NULL, gpuDev: Ptr = NULL;
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
            if (b) { this.backends.push(b); names.push(`${f.ggml_backend_dev_name(gpuDev)} (${f.ggml_backend_dev_description(gpuDev)})`); }
        }
        if ((opts.gpu === 'cuda' || opts.gpu === 'vulkan') && this.backends.length === 0) throw new Error(`gpu "${opts.gpu}" requested but no GPU device was found (libraries: ${g.dir})`);
        const cpu = f.ggml_backend_dev_init(cpuDev, null) as Ptr;
        this.backends.push(cpu);
        const reg = f.ggml_backend_dev_backend_reg(cpuDev) as Ptr;
        const setThreads = f.ggml_backend_reg_get_proc_address(reg, 'ggml_backend_set_n_threads') as Ptr;
        if (setThreads) g.koffi.call(setThreads, g.setThreadsProto as never, cpu, opts.threads);
        names.push(`CPU ×${opts.threads} (${f.ggml_backend_dev_description(cpuDev)})`);
        this.device = names.join(' + ');
        this.sched = f.ggml_backend_sched_new(this.backends, null, this.backends.length, 65536, false, false) as Ptr;
        const mainBackend = this.backends[0];

        // weights
        const c = this.c;
        const shapes = llamaTensorShapes(c);
        const loraTargets = opts.mode === 'lora' ? opts.lora!.targets : [];
        const nLora = loraTargets.length * c.nLayer * 2;
        this.ctxW = g.init((shapes.size + nLora + 8) * Number(f.ggml_tensor_overhead()), true);
        for (const [name, shape] of shapes) {
            const t = shape.length === 1 ? f.ggml_new_tensor_1d(this.ctxW, GGML_TYPE_F32, shape[0]) : f.ggml_new_tensor_2d(this.ctxW, GGML_TYPE_F32, shape[0], shape[1]);
            f.ggml_set_name(t, name);
            this.tensors.set(name, t as Ptr);
        }
        const loraShapes = new Map<string, [number[], number[]]>();
        if (opts.mode === 'lora') {
            const r = opts.lora!.rank;
            for (let l = 0; l < c.nLayer; l++) for (const m of loraTargets) {
                const base = `blk.${l}.${m}.weight`;
                const [inDim, outDim] = shapes.get(base)!;
                const a = f.ggml_new_tensor_2d(this.ctxW, GGML_TYPE_F32, inDim, r) as Ptr;
                const b = f.ggml_new_tensor_2d(this.ctxW, GGML_TYPE_F32, r, outDim) as Ptr;
                f.ggml_set_name(a, `${base}.lora_a`);
                f.ggml_set_name(b, `${base}.lora_b`);
                this.tensors.set(`${base}.lora_a`, a);
                this.tensors.set(`${base}.lora_b`, b);
                loraShapes.set(base, [[inDim, r], [r, outDim]]);
            }
        }
        this.bufW = f.ggml_backend_alloc_ctx_tensors(this.ctxW, mainBackend) as Ptr;
        if (!this.bufW) throw new Error('could not allocate the weights (out of memory?)');
        for (const [name, shape] of shapes) {
            const w = opts.weights.get(name);
            if (!w || w.data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`weights: ${name} missing or of the wrong size`);
            this.set(name, w.data);
        }
        if (opts.mode === 'lora') {
            const rng = new Rng(opts.lora!.seed);
            for (const [base, [sa, sb]] of loraShapes) {
                const init = opts.lora!.init?.get(base);
                const a = init?.a ?? new Float32Array(sa[0] * sa[1]);
                const b = init?.b ?? new Float32Array(sb[0] * sb[1]);
                if (!init) { const std = 1 / Math.sqrt(sa[0]); for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std; } // B = 0: starts as the base model
                this.set(`${base}.lora_a`, a);
                this.set(`${base}.lora_b`, b);
            }
        }
        // trainable tensors
        if (opts.mode === 'full') for (const name of shapes.keys()) this.trainable.push(name);
        if (opts.mode === 'lora') for (const base of loraShapes.keys()) this.trainable.push(`${base}.lora_a`, `${base}.lora_b`);
        for (const name of this.trainable) f.ggml_set_param(this.tensors.get(name)!);

        // inputs (static: ggml_opt's static graphs need allocated inputs)
        const { batch: B, seqLen: T, rows: N } = opts;
        this.ctxIn = g.init(8 * Number(f.ggml_tensor_overhead()), true);
        this.tokens = f.ggml_new_tensor_1d(this.ctxIn, GGML_TYPE_I32, T * B) as Ptr;
        this.pos = f.ggml_new_tensor_1d(this.ctxIn, GGML_TYPE_I32, T) as Ptr;
        this.rowIdx = f.ggml_new_tensor_1d(this.ctxIn, GGML_TYPE_I32, N) as Ptr;
        this.rowMask = f.ggml_new_tensor_2d(this.ctxIn, GGML_TYPE_F32, 1, N) as Ptr;
        f.ggml_set_name(this.tokens, 'tokens'); f.ggml_set_name(this.pos, 'positions'); f.ggml_set_name(this.rowIdx, 'answer_rows'); f.ggml_set_name(this.rowMask, 'row_mask');
        for (const t of [this.tokens, this.pos, this.rowIdx, this.rowMask]) f.ggml_set_input(t);
        this.bufIn = f.ggml_backend_alloc_ctx_tensors(this.ctxIn, mainBackend) as Ptr;
        const posData = new Int32Array(T);
        for (let i = 0; i < T; i++) posData[i] = i;
        f.ggml_backend_tensor_set(this.pos, posData, 0, posData.byteLength);
        this.labelsBuf = new Float32Array(c.vocabSize * N);

        // compute graph
        const graphSize = 65536;
        this.ctxC = g.init(graphSize * Number(f.ggml_tensor_overhead()) + 4 * Number(f.ggml_graph_overhead_custom(graphSize, true)), true);
        this.logits = this.buildForward(loraShapes);
        f.ggml_set_name(this.logits, 'logits');

        if (opts.mode === 'forward') {
            f.ggml_set_output(this.logits);
            this.graph = f.ggml_new_graph_custom(this.ctxC, graphSize, false) as Ptr;
            f.ggml_build_forward_expand(this.graph, this.logits);
            if (!f.ggml_backend_sched_alloc_graph(this.sched, this.graph)) throw new Error('could not allocate the forward graph');
            return;
        }
        const o = opts.optimizer ?? { type: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
        const lr = opts.lr ?? (() => 1e-3);
        this.cb = g.koffi.register(() => ({
            adamw: { alpha: lr(), beta1: o.beta1, beta2: o.beta2, eps: o.eps, wd: o.weightDecay },
            sgd: { alpha: lr(), wd: o.weightDecay },
        }), g.koffi.pointer(g.getOptParsProto as never));
        const p = f.ggml_opt_default_params(this.sched, GGML_OPT_LOSS_TYPE_CROSS_ENTROPY) as Record<string, unknown>;
        p.ctx_compute = this.ctxC;
        p.inputs = this.tokens;
        p.outputs = this.logits;
        p.build_type = GGML_OPT_BUILD_TYPE_OPT;
        p.opt_period = opts.gradAccum ?? 1;
        p.get_opt_pars = this.cb;
        p.get_opt_pars_ud = null;
        p.optimizer = o.type === 'sgd' ? GGML_OPT_OPTIMIZER_TYPE_SGD : GGML_OPT_OPTIMIZER_TYPE_ADAMW;
        this.opt = f.ggml_opt_init(p) as Ptr;
    }

    private set(name: string, data: Float32Array) {
        const t = this.tensors.get(name)!;
        this.g.f.ggml_backend_tensor_set(t, data, 0, data.byteLength);
    }

    get(name: string): Float32Array {
        const t = this.tensors.get(name);
        if (!t) throw new Error(`no tensor ${name}`);
        const n = Number(this.g.f.ggml_nelements(t));
        const out = new Float32Array(n);
        this.g.f.ggml_backend_tensor_get(t, out, 0, out.byteLength);
        return out;
    }

    setWeight(name: string, data: Float32Array) { this.set(name, data); }

    private buildForward(loraShapes: Map<string, [number[], number[]]>): Ptr {
        const f = this.g.f, ctx = this.ctxC, c = this.c;
        const { batch: B, seqLen: T } = this.opts;
        const hd = headDim(c), H = c.nHead, Hkv = c.nHeadKv;
        const W = (n: string) => this.tensors.get(n)!;
        const loraScale = this.opts.mode === 'lora' ? this.opts.lora!.alpha / this.opts.lora!.rank : 0;
        const mm = (name: string, x: Ptr): Ptr => {
            let y = f.ggml_mul_mat(ctx, W(name), x) as Ptr;
            if (loraShapes.has(name)) {
                const ax = f.ggml_mul_mat(ctx, W(`${name}.lora_a`), x) as Ptr;
                const bax = f.ggml_mul_mat(ctx, W(`${name}.lora_b`), ax) as Ptr;
                y = f.ggml_add(ctx, y, f.ggml_scale(ctx, bax, loraScale)) as Ptr;
            }
            return y;
        };
        const eps = c.rmsEps;
        let x = f.ggml_get_rows(ctx, W('token_embd.weight'), this.tokens) as Ptr; // [E, T*B]
        for (let l = 0; l < c.nLayer; l++) {
            const p = `blk.${l}.`;
            let h = f.ggml_mul(ctx, f.ggml_rms_norm(ctx, x, eps), W(`${p}attn_norm.weight`)) as Ptr;
            let q = f.ggml_reshape_4d(ctx, mm(`${p}attn_q.weight`, h), hd, H, T, B) as Ptr;
            let k = f.ggml_reshape_4d(ctx, mm(`${p}attn_k.weight`, h), hd, Hkv, T, B) as Ptr;
            const v = f.ggml_reshape_4d(ctx, mm(`${p}attn_v.weight`, h), hd, Hkv, T, B) as Ptr;
            q = f.ggml_rope_ext(ctx, q, this.pos, NULL, hd, 0, c.nCtx, c.ropeTheta, 1, 0, 1, 32, 1) as Ptr;
            k = f.ggml_rope_ext(ctx, k, this.pos, NULL, hd, 0, c.nCtx, c.ropeTheta, 1, 0, 1, 32, 1) as Ptr;
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
        const rowsY = f.ggml_get_rows(ctx, y, this.rowIdx) as Ptr; // [E, N]
        const out = this.c.tiedEmbeddings ? W('token_embd.weight') : W('output.weight');
        const logits = f.ggml_mul_mat(ctx, out, rowsY) as Ptr; // [V, N]
        if (this.opts.mode === 'forward') return logits;
        // Padding rows (a batch has fewer answer tokens than N) are multiplied by 0: ggml's cross-entropy
        // backward is softmax - label, which assumes labels summing to 1, so a zero label row would still
        // push gradient; through the 0 factor it sends none, and its loss term is 0.
        return f.ggml_mul(ctx, logits, this.rowMask) as Ptr;
    }

    private load(mb: MicroBatch) {
        const f = this.g.f;
        f.ggml_backend_tensor_set(this.tokens, mb.tokens, 0, mb.tokens.byteLength);
        f.ggml_backend_tensor_set(this.rowIdx, mb.rowIndex, 0, mb.rowIndex.byteLength);
        const mask = new Float32Array(mb.targets.length);
        for (let i = 0; i < mask.length; i++) mask[i] = mb.targets[i] >= 0 ? 1 : 0;
        f.ggml_backend_tensor_set(this.rowMask, mask, 0, mask.byteLength);
        if (this.opt) {
            const V = this.c.vocabSize;
            const lab = this.labelsBuf;
            lab.fill(0);
            for (let i = 0; i < mb.targets.length; i++) if (mb.targets[i] >= 0) lab[i * V + mb.targets[i]] = 1;
            f.ggml_backend_tensor_set(f.ggml_opt_labels(this.opt), lab, 0, lab.byteLength);
        }
    }

    private readLoss(): number {
        const out = new Float32Array(1);
        this.g.f.ggml_backend_tensor_get(this.g.f.ggml_opt_loss(this.opt), out, 0, 4);
        return out[0];
    }

    /**
     * One micro-batch forward + backward (+ optimizer step every gradAccum micro-batches).
     * Returns the mean cross-entropy per real answer token.
     */
    step(mb: MicroBatch): number {
        this.load(mb);
        this.g.f.ggml_opt_alloc(this.opt, true);
        const period = this.opts.gradAccum ?? 1;
        this.g.f.ggml_opt_eval(this.opt, null);
        this.microSteps++;
        if (this.microSteps % period === 0) this.optSteps++;
        // ggml's loss is the mean over all rows (padding rows contribute 0), scaled by 1/period
        return (this.readLoss() * period * this.opts.rows) / Math.max(1, mb.nReal);
    }
    private microSteps = 0;

    /** Forward only: the loss per real answer token (validation). */
    evalLoss(mb: MicroBatch): number {
        this.load(mb);
        this.g.f.ggml_opt_alloc(this.opt, false);
        this.g.f.ggml_opt_eval(this.opt, null);
        const period = this.opts.gradAccum ?? 1;
        return (this.readLoss() * period * this.opts.rows) / Math.max(1, mb.nReal);
    }

    /** Forward session only: logits [rows][V] of the given rows. */
    forward(mb: MicroBatch): Float32Array {
        if (!this.graph) throw new Error('forward() needs a session in mode "forward"');
        this.load(mb);
        const f = this.g.f;
        const rc = f.ggml_backend_sched_graph_compute(this.sched, this.graph) as number;
        if (rc !== 0) throw new Error(`graph compute failed (status ${rc})`);
        const out = new Float32Array(this.c.vocabSize * this.opts.rows);
        f.ggml_backend_tensor_get(this.logits, out, 0, out.byteLength);
        return out;
    }

    /** Gradient accumulator of a trainable tensor (only with gradAccum > 1, after a non-final micro-step). */
    gradAcc(name: string): Float32Array {
        const f = this.g.f;
        const acc = f.ggml_opt_grad_acc(this.opt, this.tensors.get(name)!) as Ptr;
        if (!acc) throw new Error(`no gradient accumulator for ${name}`);
        const out = new Float32Array(Number(f.ggml_nelements(acc)));
        f.ggml_backend_tensor_get(acc, out, 0, out.byteLength);
        return out;
    }

    // ---- optimizer state, for checkpoints -------------------------------------------------------

    /**
     * AdamW moments of a parameter: the optimizer step node "<opt> step for <name>" (in our compute
     * context) has m and v as src[2] and src[3] (ggml.h struct ggml_tensor, public C layout). The
     * layout is checked by comparing names read through it with ggml_get_name.
     */
    private moments(name: string): [Ptr, Ptr] | undefined {
        const g = this.g, f = g.f;
        const optName = f.ggml_opt_optimizer_name(GGML_OPT_OPTIMIZER_TYPE_ADAMW) as string;
        const node = f.ggml_get_tensor(this.ctxC, `${optName} step for ${name}`) as Ptr;
        if (!node) return undefined;
        const m = readPtr(g, node + BigInt(TENSOR_OFFSETS.src + 2 * 8));
        const v = readPtr(g, node + BigInt(TENSOR_OFFSETS.src + 3 * 8));
        if (!m || !v) return undefined;
        if (f.ggml_get_name(m) !== `AdamW m for ${name}` || f.ggml_get_name(v) !== `AdamW v for ${name}`) return undefined;
        return [m, v];
    }

    /** Verifies the two layout-dependent reads before the first checkpoint; false disables exact resume. */
    stateSupported(): boolean {
        if (this.stateOk !== undefined) return this.stateOk;
        const g = this.g, f = g.f;
        try {
            const t = this.tensors.get(this.trainable[0])!;
            const nameOk = tensorNameAt(g, t) === f.ggml_get_name(t);
            const neOk = Number(g.koffi.decode(t + BigInt(TENSOR_OFFSETS.ne), 'int64_t')) === this.get(this.trainable[0]).length / (this.tensorShape(this.trainable[0])[1] ?? 1);
            const period = g.koffi.decode(this.opt + BigInt(OPT_PERIOD_OFFSET), 'int32_t') as number;
            const iter = Number(g.koffi.decode(this.opt + BigInt(OPT_ITER_OFFSET), 'int64_t'));
            const iterOk = iter === this.optSteps + 1;
            const adam = (this.opts.optimizer?.type ?? 'adamw') === 'adamw';
            const momOk = !adam || this.moments(this.trainable[0]) !== undefined;
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

    /** Weights, moments and the optimizer's iteration counter. */
    saveState(): { iter: number; tensors: Map<string, Float32Array> } {
        if (!this.stateSupported()) throw new Error('optimizer state is not readable with this ggml build');
        const out = new Map<string, Float32Array>();
        const f = this.g.f;
        const read = (t: Ptr) => { const a = new Float32Array(Number(f.ggml_nelements(t))); f.ggml_backend_tensor_get(t, a, 0, a.byteLength); return a; };
        for (const name of this.trainable) {
            out.set(name, this.get(name));
            const mv = this.moments(name);
            if (mv) { out.set(`${name}#m`, read(mv[0])); out.set(`${name}#v`, read(mv[1])); }
        }
        const iter = Number(this.g.koffi.decode(this.opt + BigInt(OPT_ITER_OFFSET), 'int64_t'));
        return { iter, tensors: out };
    }

    loadState(state: { iter: number; tensors: Map<string, Float32Array> }, optSteps: number) {
        if (!this.stateSupported()) throw new Error('optimizer state is not writable with this ggml build');
        const f = this.g.f;
        for (const name of this.trainable) {
            const w = state.tensors.get(name);
            if (!w) throw new Error(`checkpoint has no ${name}`);
            this.set(name, w);
            const mv = this.moments(name);
            if (mv) {
                const m = state.tensors.get(`${name}#m`), v = state.tensors.get(`${name}#v`);
                if (!m || !v) throw new Error(`checkpoint has no optimizer moments for ${name}`);
                f.ggml_backend_tensor_set(mv[0], m, 0, m.byteLength);
                f.ggml_backend_tensor_set(mv[1], v, 0, v.byteLength);
            }
        }
        const buf = Buffer.alloc(8);
        buf.writeBigInt64LE(BigInt(state.iter));
        this.g.koffi.encode(this.opt + BigInt(OPT_ITER_OFFSET), 'int64_t', BigInt(state.iter));
        this.optSteps = optSteps;
        this.microSteps = optSteps * (this.opts.gradAccum ?? 1);
    }

    free() {
        const f = this.g.f;
        if (this.opt) f.ggml_opt_free(this.opt);
        if (this.cb) this.g.koffi.unregister(this.cb as bigint);
        if (this.sched) f.ggml_backend_sched_free(this.sched);
        if (this.bufIn) f.ggml_backend_buffer_free(this.bufIn);
        if (this.bufW) f.ggml_backend_buffer_free(this.bufW);
        for (const c of [this.ctxC, this.ctxIn, this.ctxW]) if (c) f.ggml_free(c);
        for (const b of this.backends) f.ggml_backend_free(b);
        this.opt = this.sched = this.bufIn = this.bufW = this.ctxC = this.ctxIn = this.ctxW = NULL;
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
