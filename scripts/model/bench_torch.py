#!/usr/bin/env python3
"""Times PyTorch (CPU, 2 threads by default) on the benchmark model of
model/bench_test.go: Llama, 6 layers, d=384, 6 heads of 64, intermediate
1024, vocab 8192, one sequence of T tokens. Plain torch (no transformers):
RMSNorm, RoPE, causal softmax attention via F.scaled_dot_product_attention
when present (torch >= 2.0), otherwise explicit softmax(QK^T)V, SwiGLU,
untied LM head.

Modes: train (forward + backward of the summed next-token cross-entropy,
as model.ForwardBackward), prefill (forward and log-softmax of the next
tokens under no_grad, as model.LogProbs / score), decode (a 512-token
prompt, then 64 greedy tokens one at a time with a key/value cache, as
model.Generate; tokens/s counts the new tokens). --dtype bf16 runs under
torch.autocast("cpu", dtype=torch.bfloat16) (float32 weights, bfloat16
matmuls), fp32 without.

Usage: $PY scripts/model/bench_torch.py [--T 1024] [--steps 3] [--threads 2] [--dtype fp32|bf16] [--mode train|prefill|decode]
Prints: torch 2.15.0 train fp32 T=1024 threads=2 tokens/s 123.4 (s/step 8.3, cpu-s/step 16.1)
"""
import contextlib
import argparse
import math
import time

import torch
import torch.nn.functional as F

V, D, L, H, FF = 8192, 384, 6, 6, 1024
HD = D // H


def rmsnorm(x, w, eps=1e-5):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    return torch.cat((-x[..., HD // 2:], x[..., :HD // 2]), dim=-1)


def make_params(gen):
    P = {"emb": torch.randn(V, D, generator=gen) * 0.02, "norm": torch.ones(D),
         "head": torch.randn(V, D, generator=gen) * 0.02}
    for l in range(L):
        for n, shape in [("q", (D, D)), ("k", (D, D)), ("v", (D, D)), ("o", (D, D)),
                         ("g", (FF, D)), ("u", (FF, D)), ("d", (D, FF))]:
            P["%d%s" % (l, n)] = torch.randn(*shape, generator=gen) * 0.02
        P["%dn1" % l] = torch.ones(D)
        P["%dn2" % l] = torch.ones(D)
    for p in P.values():
        p.requires_grad_(True)
    return P


def forward(P, tokens, cos, sin, mask, cache=None):
    """Logits of the T new tokens; with a cache (a list of per-layer
    (k, v)), the keys and values are appended and attention covers them."""
    T = tokens.shape[0]
    x = P["emb"][tokens]
    for l in range(L):
        h = rmsnorm(x, P["%dn1" % l])
        q = (h @ P["%dq" % l].T).view(T, H, HD).transpose(0, 1)
        k = (h @ P["%dk" % l].T).view(T, H, HD).transpose(0, 1)
        v = (h @ P["%dv" % l].T).view(T, H, HD).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        causal = True
        if cache is not None:
            if len(cache) > l:
                k = torch.cat((cache[l][0], k), 1)
                v = torch.cat((cache[l][1], v), 1)
                cache[l] = (k, v)
                causal = T > 1
            else:
                cache.append((k, v))
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        else:
            s = (q @ k.transpose(1, 2)) / math.sqrt(HD)
            if causal:
                s = s.masked_fill(mask, float("-inf"))
            a = torch.softmax(s, dim=-1) @ v
        x = x + a.transpose(0, 1).reshape(T, D) @ P["%do" % l].T
        h = rmsnorm(x, P["%dn2" % l])
        x = x + (F.silu(h @ P["%dg" % l].T) * (h @ P["%du" % l].T)) @ P["%dd" % l].T
    x = rmsnorm(x, P["norm"])
    return x @ P["head"].T


def step(P, tokens, cos, sin, mask):
    logits = forward(P, tokens, cos, sin, mask)
    loss = F.cross_entropy(logits[:-1].float(), tokens[1:], reduction="sum")
    loss.backward()
    return loss.item()


def prefill(P, tokens, cos, sin, mask):
    with torch.no_grad():
        logits = forward(P, tokens, cos, sin, mask).float()
        lp = torch.log_softmax(logits[:-1], -1).gather(1, tokens[1:, None])
    return lp.sum().item()


def decode(P, tokens, cos, sin, mask, new=64):
    """Greedy decoding of new tokens after the prompt (cos/sin cover
    prompt + new positions)."""
    T = tokens.shape[0]
    with torch.no_grad():
        cache = []
        logits = forward(P, tokens, cos[:T], sin[:T], mask, cache)
        nxt = logits[-1].argmax()
        t0 = time.perf_counter()
        for i in range(new):
            p = T + i
            logits = forward(P, nxt[None], cos[p:p + 1], sin[p:p + 1], mask, cache)
            nxt = logits[-1].argmax()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--mode", choices=["train", "prefill", "decode"], default="train")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(1)
    P = make_params(gen)
    T = args.T
    new = 64 if args.mode == "decode" else 0
    if args.mode == "decode":
        T = 512
    tokens = torch.randint(0, V, (T,), generator=gen)
    inv = 1.0 / (10000 ** (torch.arange(0, HD, 2).float() / HD))
    f = torch.arange(T + new).float()[:, None] * inv[None, :]
    emb = torch.cat((f, f), -1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    amp = torch.autocast("cpu", dtype=torch.bfloat16) if args.dtype == "bf16" else contextlib.nullcontext()
    with amp:
        if args.mode == "decode":
            decode(P, tokens, cos, sin, mask, 2)  # warm-up
            c0 = time.process_time()
            el = sum(decode(P, tokens, cos, sin, mask, new) for _ in range(args.steps))
            cpu = (time.process_time() - c0) / args.steps
            s = el / args.steps
            print("torch %s decode %s prompt=%d new=%d threads=%d tokens/s %.1f (s/step %.3f, cpu-s/step %.3f incl. prefill)" % (
                torch.__version__, args.dtype, T, new, args.threads, new / s, s, cpu))
            return
        fn = step if args.mode == "train" else prefill
        fn(P, tokens, cos, sin, mask)  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            for p in P.values():
                p.grad = None
            fn(P, tokens, cos, sin, mask)
    s = (time.perf_counter() - t0) / args.steps
    cpu = (time.process_time() - c0) / args.steps
    print("torch %s %s %s T=%d threads=%d tokens/s %.1f (s/step %.3f, cpu-s/step %.3f)" % (torch.__version__, args.mode, args.dtype, T, args.threads, T / s, s, cpu))

if __name__ == "__main__":
    main()
