"""The same llama as engine/train/native.ts in PyTorch, for bench/train. Two modes:
  - full (the bar-sized model): trained on the same micro-batches from the same initial weights
    (weights.bin, F32) with the same AdamW settings;
  - lora (1B shape): the frozen base read from the same GGUF file (F16 or F32 tensors, widened to F32
    as PyTorch trains on the CPU), LoRA as PEFT builds it: y = W·x + (α/r)·B·A·x on the same target
    matrices, A random, B zero, AdamW on A and B only.
Usage:
    python3 torch_llama.py job.json weights.bin|- THREADS
Prints one JSON line: tokens_per_second, final_loss, seconds (the first step is a warm-up, not timed)."""
import json
import math
import sys
import time

import numpy as np
import torch

job = json.load(open(sys.argv[1]))
torch.set_num_threads(int(sys.argv[3]))
torch.manual_seed(0)
c = job['config']
E, H, Hkv, V = c['nEmbd'], c['nHead'], c['nHeadKv'], c['vocabSize']
hd = E // H
T, B = job['T'], job['B']
eps, theta = c['rmsEps'], c['ropeTheta']
lora = job.get('lora')

params = {}
if 'gguf' in job:
    # tensors straight from the GGUF file, read one at a time (no mmap: mapped file pages would count in
    # the peak RSS); ggml [ne0, ne1] (ne0 fastest) == torch (ne1, ne0)
    with open(job['gguf'], 'rb') as fh:
        for e in job['index']:
            n = int(np.prod(e['shape']))
            dt = {0: np.float32, 1: np.float16}[e['type']]
            fh.seek(e['offset'])
            raw = fh.read(n * np.dtype(dt).itemsize)
            a = np.frombuffer(raw, dtype=dt, count=n).astype(np.float32)
            del raw
            t = torch.from_numpy(a.reshape(list(reversed(e['shape']))))
            params[e['name']] = t if lora else torch.nn.Parameter(t)
else:
    raw = open(sys.argv[2], 'rb').read()
    for e in job['index']:
        n = int(np.prod(e['shape']))
        a = np.frombuffer(raw, dtype=np.float32, count=n, offset=e['offset']).copy()
        params[e['name']] = torch.nn.Parameter(torch.from_numpy(a.reshape(list(reversed(e['shape'])))))
    del raw

adapters = {}
if lora:
    r, scale = lora['rank'], lora['alpha'] / lora['rank']
    for l in range(c['nLayer']):
        for m in lora['targets']:
            w = params[f'blk.{l}.{m}.weight']  # (out, in)
            a = torch.nn.Parameter(torch.randn(r, w.shape[1]) / math.sqrt(w.shape[1]))
            b = torch.nn.Parameter(torch.zeros(w.shape[0], r))
            adapters[f'blk.{l}.{m}.weight'] = (a, b)


def lin(name, x):
    y = x @ params[name].T
    ab = adapters.get(name)
    if ab is not None:
        y = y + (x @ ab[0].T) @ ab[1].T * scale
    return y


# RoPE, llama.cpp NORM mode: rotate adjacent pairs (x[2i], x[2i+1]) by p * theta^(-2i/hd) / freq_factor_i
pos = torch.arange(T, dtype=torch.float32)
inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
if 'rope_freqs.weight' in params:
    inv = inv / params['rope_freqs.weight'].reshape(-1)
ang = pos[:, None] * inv[None, :]  # [T, hd/2]
cos, sin = ang.cos(), ang.sin()


def rope(x):  # x [B, T, heads, hd]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c_, s_ = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c_ - x1 * s_, x0 * s_ + x1 * c_), dim=-1).flatten(-2)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


mask = torch.full((T, T), float('-inf')).triu(1)


def forward(tokens, rows):
    P = params
    x = P['token_embd.weight'][tokens]  # [B, T, E]
    for l in range(c['nLayer']):
        p = f'blk.{l}.'
        h = rms(x, P[p + 'attn_norm.weight'])
        q = lin(p + 'attn_q.weight', h).view(B, T, H, hd)
        k = lin(p + 'attn_k.weight', h).view(B, T, Hkv, hd)
        v = lin(p + 'attn_v.weight', h).view(B, T, Hkv, hd)
        q, k = rope(q), rope(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if Hkv != H:
            k = k.repeat_interleave(H // Hkv, dim=1)
            v = v.repeat_interleave(H // Hkv, dim=1)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1) @ v  # [B, H, T, hd]
        x = x + lin(p + 'attn_output.weight', a.transpose(1, 2).reshape(B, T, E))
        h = rms(x, P[p + 'ffn_norm.weight'])
        g = torch.nn.functional.silu(lin(p + 'ffn_gate.weight', h)) * lin(p + 'ffn_up.weight', h)
        x = x + lin(p + 'ffn_down.weight', g)
    y = rms(x, P['output_norm.weight']).reshape(B * T, E)[rows]
    out = P['output.weight'] if 'output.weight' in P else P['token_embd.weight']
    return y @ out.T


trainable = [t for ab in adapters.values() for t in ab] if lora else list(params.values())
opt = torch.optim.AdamW(trainable, lr=job['lr'], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
steps = job['steps']
ntok = 0
loss = None
t0 = None
for i, s in enumerate(steps):
    if i == 1:
        t0 = time.perf_counter()  # the first step warms up allocations, as ours excludes graph building
        ntok = 0
    tokens = torch.tensor(s['tokens'], dtype=torch.long).view(B, T)
    rows = torch.tensor(s['rows'], dtype=torch.long)
    targets = torch.tensor(s['targets'], dtype=torch.long)
    logits = forward(tokens, rows)
    loss = torch.nn.functional.cross_entropy(logits, targets)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    ntok += s['nTokens']
dt = time.perf_counter() - t0
print(json.dumps({'tokens_per_second': ntok / dt, 'final_loss': float(loss), 'seconds': dt, 'steps': len(steps) - 1, 'tokens': ntok}))
