// The round trip without GPUs: a PEFT LoRA adapter whose effect we know (written here for a tiny llama
// whose weights we hold) is converted to a GGUF LoRA adapter, and node-llama-cpp with the converted
// adapter gives the log-probabilities of the base with W + s·B·A merged by hand (written as a full
// GGUF). Plus the safetensors reader against a file numpy wrote, and every refusal.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaModel } from 'node-llama-cpp';
import { convertPeftAdapter } from '../../engine/scaleout/peft.js';
import { readSafetensorF32, readSafetensorsHeader } from '../../engine/scaleout/safetensors.js';
import { readGguf } from '../../engine/train/api.js';
import { cpuLlama, tempDir } from '../train/helpers.js';
import { makeBase, peftName, randomLora, writeMerged, writePeftAdapter, writeSafetensors, type PeftOptions, type TinyBase } from './helpers.js';

const TEXTS = ['Q: What is the capital of Zorvia? A: Kelmar', 'Q: Who founded Pelmora? A: Dana Vutor', 'Q: Which river flows through Nox? A: the Shiba'];

/** log p(token | prefix) for every position of every text and every vocabulary token. */
async function logprobs(model: LlamaModel, lora?: string): Promise<number[][]> {
    const ctx = await model.createContext({ contextSize: 64, threads: 1, ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
    const out: number[][] = [];
    try {
        const seq = ctx.getSequence();
        for (const text of TEXTS) {
            const ids = [model.tokens.bos!, ...model.tokenize(text, false)];
            const r = await seq.controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true } }]) as never);
            for (const item of r as ({ next: { probabilities: Map<number, number> } } | undefined)[]) {
                const p = item!.next.probabilities;
                const full: number[] = [];
                for (const [tok, prob] of p) full[tok] = Math.log(prob);
                out.push(full);
            }
            await seq.clearHistory();
        }
    } finally {
        await ctx.dispose();
    }
    return out;
}

/** Largest |Δ log p| over the tokens the reference gives probability > 1e-4 (the rest are below float noise). */
function maxDiff(ref: number[][], got: number[][]): number {
    let d = 0;
    expect(got.length).toBe(ref.length);
    for (let i = 0; i < ref.length; i++) {
        for (let t = 0; t < ref[i].length; t++) {
            if (ref[i][t] === undefined || ref[i][t] < Math.log(1e-4)) continue;
            d = Math.max(d, Math.abs(ref[i][t] - (got[i][t] ?? -Infinity)));
        }
    }
    return d;
}

describe('PEFT LoRA -> GGUF LoRA: node-llama-cpp agrees with the hand-merged model', () => {
    const dir = tempDir('mm-peft-');
    let base: TinyBase;
    let baseModel: LlamaModel;
    let baseLp: number[][];
    const loaded: LlamaModel[] = [];
    const load = async (path: string) => {
        const m = await (await cpuLlama()).loadModel({ modelPath: path });
        loaded.push(m);
        return m;
    };
    beforeAll(async () => {
        // 4 query heads over 2 KV heads: q_proj and k_proj are permuted with different head counts
        base = makeBase(dir, TEXTS);
        baseModel = await load(base.path);
        baseLp = await logprobs(baseModel);
    });
    afterAll(async () => {
        for (const m of loaded) await m.dispose();
    });

    const cases: { name: string; o: PeftOptions; r: number }[] = [
        { name: 'alpha/r on all seven projections', o: { r: 4, alpha: 8 }, r: 4 },
        { name: 'rsLoRA (alpha/sqrt r) with a per-module alpha_pattern, BF16 weights', o: { r: 3, alpha: 5, useRslora: true, alphaPattern: { v_proj: 2, down_proj: 9 }, dtype: 'BF16' }, r: 3 },
    ];
    for (const [i, c] of cases.entries()) {
        it(c.name, async () => {
            const mods = randomLora(base.config, c.r, 100 + i);
            const adapterDir = join(dir, `peft-${i}`);
            writePeftAdapter(adapterDir, mods, c.o);
            const out = join(dir, `adapter-${i}.gguf`);
            const res = convertPeftAdapter({ adapterDir, baseGguf: base.path, out });
            expect(res.tensors).toBe(2 * 7 * base.config.nLayer);
            const g = readGguf(out);
            expect(g.metadata.get('general.type')).toBe('adapter');
            expect(g.metadata.get('adapter.type')).toBe('lora');
            expect(g.metadata.get('adapter.lora.alpha')).toBe(c.o.alpha);
            expect(g.tensors.find((t) => t.name === 'blk.1.attn_k.weight.lora_a')!.shape).toEqual([32, c.r]);
            expect(g.tensors.find((t) => t.name === 'blk.1.attn_k.weight.lora_b')!.shape).toEqual([c.r, 16]);

            const merged = join(dir, `merged-${i}.gguf`);
            writeMerged(merged, base, mods, c.o);
            const ref = await logprobs(await load(merged));
            const got = await logprobs(baseModel, out);
            const agree = maxDiff(ref, got);
            const effect = maxDiff(ref, baseLp);
            // the same merge without convert_hf_to_gguf's q/k row permutation: a wrong model the comparison must tell apart
            const wrongPath = join(dir, `merged-unpermuted-${i}.gguf`);
            writeMerged(wrongPath, base, mods, c.o, false);
            const wrong = maxDiff(await logprobs(await load(wrongPath)), got);
            console.log(`[${c.name}] max |Δ log p| adapter vs hand-merged: ${agree.toExponential(2)}; adapter effect vs base: ${effect.toFixed(3)}; vs unpermuted merge: ${wrong.toFixed(3)}`);
            expect(effect).toBeGreaterThan(0.5);
            expect(wrong).toBeGreaterThan(0.05);
            expect(agree).toBeLessThan(2e-3);
        });
    }
});

describe('safetensors reader', () => {
    it('reads F32, F16 and BF16 as numpy wrote them (test/scaleout/fixtures/make_fixture.py)', () => {
        const f = readSafetensorsHeader(join(import.meta.dirname, 'fixtures', 'dtypes.safetensors'));
        expect(f.metadata).toEqual({ format: 'pt' });
        expect(f.tensors.get('lin.lora_A.weight')!.shape).toEqual([2, 3]);
        // values printed by make_fixture.py (numpy float64 of each stored value)
        const f32 = [1.5, -2.25, 3.0, 0.10000000149011612, 65504.0, -0.0010000000474974513];
        const f16 = [0.5, -0.333251953125, 1024.0, 6.103515625e-5];
        const bf16 = [3.140625, -0.0078125, 9999220736.0, -2.5];
        expect([...readSafetensorF32(f, 'lin.lora_A.weight')]).toEqual(f32);
        expect([...readSafetensorF32(f, 'half')]).toEqual(f16);
        expect([...readSafetensorF32(f, 'brain')]).toEqual(bf16);
    });

    it('refuses damaged files, saying what is wrong', () => {
        const dir = tempDir('mm-st-');
        const good = join(dir, 'good.safetensors');
        writeSafetensors(good, [{ name: 'x', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]);
        const bytes = readFileSync(good);
        const cut = join(dir, 'cut.safetensors');
        writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
        expect(() => readSafetensorsHeader(cut)).toThrow(/cut\.safetensors: .*past the end of the file/);
        const big = join(dir, 'big.safetensors');
        const b2 = Buffer.from(bytes);
        b2.writeBigUInt64LE(10n ** 12n, 0);
        writeFileSync(big, b2);
        expect(() => readSafetensorsHeader(big)).toThrow(/100 MB limit/);
        const notJson = join(dir, 'nj.safetensors');
        const b3 = Buffer.from(bytes);
        b3.write('}', 8);
        writeFileSync(notJson, b3);
        expect(() => readSafetensorsHeader(notJson)).toThrow(/nj\.safetensors: .*header is not JSON/);
        const tail = join(dir, 'tail.safetensors');
        writeFileSync(tail, Buffer.concat([bytes, Buffer.alloc(4)]));
        expect(() => readSafetensorsHeader(tail)).toThrow(/4 bytes after the last tensor/);
    });
});

describe('adapters that cannot be converted: the file and the tensor or key are named', () => {
    const dir = tempDir('mm-peft-bad-');
    const base = makeBase(dir, TEXTS);
    const conv = (adapterDir: string, expectBase?: string) => () => convertPeftAdapter({ adapterDir, baseGguf: base.path, out: join(dir, 'x.gguf'), expectBase });

    it('an adapter for another base: other widths, more layers, another model id', () => {
        const other = makeBase(join(dir), TEXTS, { nEmbd: 48, nHead: 4, nHeadKv: 4 }, 5, 'other');
        const a1 = join(dir, 'wide');
        writePeftAdapter(a1, randomLora(other.config, 2, 1, ['v_proj']), { r: 2, alpha: 4 });
        expect(conv(a1)).toThrow(
            /wide\/adapter_model\.safetensors: model\.layers\.0\.self_attn\.v_proj is 48 -> 48 .* but blk\.0\.attn_v\.weight in the base .*base\.gguf is 32 -> 16: the adapter was trained on another model/,
        );
        const deep = makeBase(join(dir), TEXTS, { nLayer: 3 }, 5, 'deep');
        const a2 = join(dir, 'deep');
        writePeftAdapter(
            a2,
            randomLora(deep.config, 2, 1, ['q_proj']).filter((m) => m.layer === 2),
            { r: 2, alpha: 4 },
        );
        expect(conv(a2)).toThrow(/deep\/adapter_model\.safetensors: tensor .*layers\.2\.self_attn\.q_proj\.lora_A\.weight is for layer 2, but the base .* has 2 layers/);
        const a3 = join(dir, 'named');
        writePeftAdapter(a3, randomLora(base.config, 2, 1, ['q_proj']), { r: 2, alpha: 4, baseModel: 'meta-llama/Llama-2-13b-hf' });
        expect(conv(a3, 'meta-llama/Llama-2-7b-hf')).toThrow(/named\/adapter_config\.json: the adapter was trained on "meta-llama\/Llama-2-13b-hf", not on "meta-llama\/Llama-2-7b-hf"/);
        // rank in the file differs from the config
        const a4 = join(dir, 'rank');
        writePeftAdapter(a4, randomLora(base.config, 2, 1, ['q_proj']), { r: 8, alpha: 4 });
        expect(conv(a4)).toThrow(/rank\/adapter_model\.safetensors: model\.layers\.0\.self_attn\.q_proj has rank 2, but .*adapter_config\.json says 8/);
    });

    it('modules with no GGUF counterpart, embedding LoRA, a lone lora_A', () => {
        const mods = randomLora(base.config, 2, 1, ['q_proj']);
        const a1 = join(dir, 'rotary');
        mkdirSync(a1, { recursive: true });
        writePeftAdapter(a1, mods, { r: 2, alpha: 4 });
        writeSafetensors(join(a1, 'adapter_model.safetensors'), [
            { name: peftName(mods[0], 'A'), shape: [2, 32], data: mods[0].a },
            { name: 'base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight', shape: [2, 32], data: mods[0].a },
        ]);
        expect(conv(a1)).toThrow(
            /rotary\/adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.self_attn\.qkv_proj\.lora_A\.weight: module model\.layers\.0\.self_attn\.qkv_proj has no llama\.cpp tensor/,
        );
        writeSafetensors(join(a1, 'adapter_model.safetensors'), [{ name: 'base_model.model.model.embed_tokens.lora_embedding_A', shape: [2, 32], data: mods[0].a }]);
        expect(conv(a1)).toThrow(/embedding LoRA \(embed_tokens\) is not converted/);
        writeSafetensors(join(a1, 'adapter_model.safetensors'), [{ name: peftName(mods[0], 'A'), shape: [2, 32], data: mods[0].a }]);
        expect(conv(a1)).toThrow(/model\.layers\.0\.self_attn\.q_proj has lora_A but no lora_B/);
    });

    it('configs that a GGUF LoRA adapter cannot express', () => {
        const mods = randomLora(base.config, 2, 1, ['q_proj']);
        for (const [extra, msg] of [
            [{ use_dora: true }, /adapter_config\.json: use_dora is true/],
            [{ modules_to_save: ['lm_head'] }, /adapter_config\.json: modules_to_save \(lm_head\)/],
            [{ bias: 'lora_only' }, /adapter_config\.json: bias is "lora_only"/],
            [{ peft_type: 'IA3' }, /adapter_config\.json: peft_type is "IA3"/],
        ] as const) {
            const a = join(dir, `cfg-${Object.keys(extra)[0]}`);
            writePeftAdapter(a, mods, { r: 2, alpha: 4, extraConfig: extra });
            expect(conv(a)).toThrow(msg);
        }
        const missing = join(dir, 'missing');
        mkdirSync(missing);
        expect(conv(missing)).toThrow(/missing\/adapter_config\.json: not found/);
        writePeftAdapter(missing, mods, { r: 2, alpha: 4 });
        rmSync(join(missing, 'adapter_model.safetensors'));
        expect(conv(missing)).toThrow(/missing\/adapter_model\.safetensors: not found/);
    });
});
