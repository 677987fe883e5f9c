// Gradients of our ggml graph (ggml's backward pass, read from ggml_opt's accumulators) against
// central finite differences of the masked loss, on a tiny model, for every tensor group.
import { describe, expect, it } from 'vitest';
import { Session, packBatch } from '../../engine/train/native.js';
import { buildTokenizer, initLlamaWeights, type LlamaConfig } from '../../engine/train/api.js';

/**
 * For each tensor, the `top` largest accumulated gradients (times `scale`) agree with central finite
 * differences of the loss (step 1e-2) within 5%.
 */
function expectFiniteDifferences(s: Session, mb: Parameters<Session['evalLoss']>[0], names: readonly string[], scale: number, top: number): void {
    const h = 1e-2;
    for (const name of names) {
        const grad = s.gradAcc(name).map((g) => g * scale);
        const orig = s.get(name);
        const idx = [...grad.keys()].sort((a, b) => Math.abs(grad[b]) - Math.abs(grad[a])).slice(0, top);
        for (const i of idx) {
            const p = orig.slice();
            p[i] += h;
            s.setWeight(name, p);
            const lp = s.evalLoss(mb);
            const m = orig.slice();
            m[i] -= h;
            s.setWeight(name, m);
            const lm = s.evalLoss(mb);
            s.setWeight(name, orig);
            const fd = (lp - lm) / (2 * h);
            const rel = Math.abs(fd - grad[i]) / Math.max(Math.abs(fd), Math.abs(grad[i]), 1e-3);
            expect(rel, `${name}[${i}] ggml ${grad[i]} fd ${fd}`).toBeLessThan(0.05);
        }
    }
}

describe('gradient check', () => {
    it('ggml backward matches finite differences (relative error < 5% on the 3 largest coordinates of each tensor)', () => {
        const texts = ['Q: capital of Kalo? A: Rateno Vu', 'Q: founder of Zorpel? A: Dan Shi Fi'];
        const tok = buildTokenizer({ texts });
        const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48, nCtx: 32, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false };
        const w = initLlamaWeights(config, 5);
        for (const [n, t] of w) if (!n.includes('norm')) for (let i = 0; i < t.data.length; i++) t.data[i] *= 2;
        const seqs = texts.map((t) => {
            const [p] = t.split(' A: ');
            const pi = tok.encode(`${p} A:`);
            const ids = [tok.bosId, ...tok.encode(t), tok.eosId];
            return { tokens: ids, answerStart: 1 + pi.length };
        });
        const T = Math.max(...seqs.map((s) => s.tokens.length));
        const N = seqs.reduce((a, s) => a + s.tokens.length - s.answerStart, 0) + 2; // 2 padding rows
        const mb = packBatch(seqs, 2, T, N, tok.eosId);
        // period 2: the first micro-step only accumulates gradients (no optimizer step)
        const s = new Session({
            config,
            weights: w,
            mode: 'full',
            batch: 2,
            seqLen: T,
            rows: N,
            threads: 1,
            gpu: 'off',
            gradAccum: 2,
            optimizer: { type: 'sgd', beta1: 0, beta2: 0, eps: 0, weightDecay: 0 },
            lr: () => 1e-3,
        });
        try {
            const loss0 = s.step(mb);
            expect(loss0).toBeGreaterThan(0);
            // the per-token loss of evalLoss and the gradient of the same quantity
            const scale = (2 * N) / mb.nReal; // ggml loss = mean over rows / period
            const groups = [
                'token_embd.weight',
                'blk.0.attn_q.weight',
                'blk.0.attn_k.weight',
                'blk.0.attn_v.weight',
                'blk.0.attn_output.weight',
                'blk.1.ffn_gate.weight',
                'blk.1.ffn_up.weight',
                'blk.1.ffn_down.weight',
                'blk.0.attn_norm.weight',
                'blk.1.ffn_norm.weight',
                'output_norm.weight',
                'output.weight',
            ];
            expectFiniteDifferences(s, mb, groups, scale, 3);
        } finally {
            s.free();
        }
    });

    it('LoRA: gradients of A and B match finite differences', () => {
        const texts = ['Q: capital of Kalo? A: Rateno Vu', 'Q: founder of Zorpel? A: Dan Shi Fi'];
        const tok = buildTokenizer({ texts });
        const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48, nCtx: 32, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: true };
        const w = initLlamaWeights(config, 6);
        for (const [n, t] of w) if (!n.includes('norm')) for (let i = 0; i < t.data.length; i++) t.data[i] *= 2;
        const seqs = texts.map((t) => {
            const [p] = t.split(' A: ');
            return { tokens: [tok.bosId, ...tok.encode(t), tok.eosId], answerStart: 1 + tok.encode(`${p} A:`).length };
        });
        const T = Math.max(...seqs.map((s) => s.tokens.length));
        const N = seqs.reduce((a, s) => a + s.tokens.length - s.answerStart, 0);
        const mb = packBatch(seqs, 2, T, N, tok.eosId);
        // non-zero B so that A has a gradient too
        const init = new Map<string, { a: Float32Array; b: Float32Array }>();
        let x = 1;
        const r = () => {
            x = (x * 16807) % 2147483647;
            return (x / 2147483647 - 0.5) * 0.6;
        };
        for (let l = 0; l < 2; l++)
            for (const m of ['attn_v', 'ffn_up']) {
                const [i, o] = m === 'attn_v' ? [32, 16] : [32, 48];
                init.set(`blk.${l}.${m}.weight`, { a: Float32Array.from({ length: i * 4 }, r), b: Float32Array.from({ length: 4 * o }, r) });
            }
        const s = new Session({
            config,
            weights: w,
            mode: 'lora',
            lora: { rank: 4, alpha: 8, targets: ['attn_v', 'ffn_up'], seed: 1, init },
            batch: 2,
            seqLen: T,
            rows: N,
            threads: 1,
            gpu: 'off',
            gradAccum: 2,
            optimizer: { type: 'sgd', beta1: 0, beta2: 0, eps: 0, weightDecay: 0 },
            lr: () => 1e-3,
        });
        try {
            expect(s.trainable).toEqual([
                'blk.0.attn_v.weight.lora_a',
                'blk.0.attn_v.weight.lora_b',
                'blk.0.ffn_up.weight.lora_a',
                'blk.0.ffn_up.weight.lora_b',
                'blk.1.attn_v.weight.lora_a',
                'blk.1.attn_v.weight.lora_b',
                'blk.1.ffn_up.weight.lora_a',
                'blk.1.ffn_up.weight.lora_b',
            ]);
            s.step(mb);
            const scale = (2 * N) / mb.nReal;
            expectFiniteDifferences(s, mb, s.trainable, scale, 2);
        } finally {
            s.free();
        }
    });

    for (const [label, extra] of [
        ['qwen2 (q/k/v biases, NEOX RoPE, tied head)', { arch: 'qwen2', qkvBias: true }],
        ['Llama 3 rope_freqs (frequency factors in RoPE and its backward)', { ropeFreqs: true }],
    ] as [string, Partial<LlamaConfig>][]) {
        it(`${label}: ggml backward matches finite differences`, () => {
            const texts = ['Q: capital of Kalo? A: Rateno Vu', 'Q: founder of Zorpel? A: Dan Shi Fi'];
            const tok = buildTokenizer({ texts });
            const config: LlamaConfig = { vocabSize: tok.vocabSize, nLayer: 2, nEmbd: 32, nHead: 4, nHeadKv: 2, nFf: 48, nCtx: 32, ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: true, ...extra };
            const w = initLlamaWeights(config, 5);
            for (const [n, t] of w) if (!n.includes('norm') && n !== 'rope_freqs.weight') for (let i = 0; i < t.data.length; i++) t.data[i] *= 2;
            // factors far from 1 so that a backward ignoring them would be visibly wrong
            if (extra.ropeFreqs) w.get('rope_freqs.weight')!.data.set([1, 1.7, 2.4, 3.1]);
            const seqs = texts.map((t) => {
                const [p] = t.split(' A: ');
                return { tokens: [tok.bosId, ...tok.encode(t), tok.eosId], answerStart: 1 + tok.encode(`${p} A:`).length };
            });
            const T = Math.max(...seqs.map((s) => s.tokens.length));
            const N = seqs.reduce((a, s) => a + s.tokens.length - s.answerStart, 0);
            const mb = packBatch(seqs, 2, T, N, tok.eosId);
            const s = new Session({
                config,
                weights: w,
                mode: 'full',
                batch: 2,
                seqLen: T,
                rows: N,
                threads: 1,
                gpu: 'off',
                gradAccum: 2,
                optimizer: { type: 'sgd', beta1: 0, beta2: 0, eps: 0, weightDecay: 0 },
                lr: () => 1e-3,
            });
            try {
                s.step(mb);
                const groups = [
                    'blk.0.attn_q.weight',
                    'blk.0.attn_k.weight',
                    'blk.1.attn_q.weight',
                    'blk.1.attn_v.weight',
                    'token_embd.weight',
                    ...(extra.qkvBias ? ['blk.0.attn_q.bias', 'blk.0.attn_k.bias', 'blk.1.attn_v.bias'] : []),
                ];
                expectFiniteDifferences(s, mb, groups, (2 * N) / mb.nReal, 3);
            } finally {
                s.free();
            }
        });
    }
});
