#!/usr/bin/env python3
"""Times PyTorch (CPU, fp32, 2 threads by default) forward+backward of the
benchmark model of model/bench_test.go: Llama, 6 layers, d=384, 6 heads of
64, intermediate 1024, vocab 8192, one sequence of T tokens, summed
next-token cross-entropy. Plain torch (no transformers): RMSNorm, RoPE,
causal softmax attention via F.scaled_dot_product_attention when present
(torch >= 2.0), otherwise explicit softmax(QK^T)V, SwiGLU, untied LM head.

Usage: /usr/bin/python3 scripts/model/bench_torch.py [--T 1024] [--steps 3] [--threads 2]
Prints: torch 1.13.0 T=1024 threads=2 tokens/s 123.4 (s/step 8.3, cpu-s/step 16.1)
"""
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


def step(P, tokens, cos, sin, mask):
    T = tokens.shape[0]
    x = P["emb"][tokens]
    for l in range(L):
        h = rmsnorm(x, P["%dn1" % l])
        q = (h @ P["%dq" % l].T).view(T, H, HD).transpose(0, 1)
        k = (h @ P["%dk" % l].T).view(T, H, HD).transpose(0, 1)
        v = (h @ P["%dv" % l].T).view(T, H, HD).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q @ k.transpose(1, 2)) / math.sqrt(HD)
            s = s.masked_fill(mask, float("-inf"))
            a = torch.softmax(s, dim=-1) @ v
        x = x + a.transpose(0, 1).reshape(T, D) @ P["%do" % l].T
        h = rmsnorm(x, P["%dn2" % l])
        x = x + (F.silu(h @ P["%dg" % l].T) * (h @ P["%du" % l].T)) @ P["%dd" % l].T
    x = rmsnorm(x, P["norm"])
    logits = x @ P["head"].T
    loss = F.cross_entropy(logits[:-1], tokens[1:], reduction="sum")
    loss.backward()
    return loss.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(1)
    P = make_params(gen)
    T = args.T
    tokens = torch.randint(0, V, (T,), generator=gen)
    inv = 1.0 / (10000 ** (torch.arange(0, HD, 2).float() / HD))
    f = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((f, f), -1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    step(P, tokens, cos, sin, mask)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        for p in P.values():
            p.grad = None
        step(P, tokens, cos, sin, mask)
    s = (time.perf_counter() - t0) / args.steps
    cpu = (time.process_time() - c0) / args.steps
    print("torch %s T=%d threads=%d tokens/s %.1f (s/step %.3f, cpu-s/step %.3f)" % (torch.__version__, T, args.threads, T / s, s, cpu))


if __name__ == "__main__":
    main()
