#!/usr/bin/env python3
"""Generates model/testdata fixtures: a plain-PyTorch reference of the
Hugging Face Llama / Mistral / Qwen2 modeling code (rotate_half RoPE and its
scaling variants, repeat_kv GQA, RMSNorm, SwiGLU, causal and sliding-window
masks), evaluated in float64 on small random models at non-contiguous
position ids, plus three torch.optim.AdamW steps on a tiny model.

Also writes three cases under PyTorch's bf16 autocast (float32 weights,
bfloat16 matmuls), for the bf16 precision of the Go model.

Run from the repository root:  PY=$(bash scripts/pyenv.sh); $PY scripts/model/gen_fixtures.py
(ONLY_BF16=1 writes only the autocast cases; the float64 ones were made with torch 1.13.)
Outputs: model/testdata/<case>.json + <case>.bin, <case>-bf16.json + .bin,
model/testdata/adamw-tiny.json.
See model/testdata/README.md for the format.
"""
import json
import math
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "model", "testdata")
torch.set_default_dtype(torch.float64)


# ---------------------------------------------------------------- RoPE ----
def inv_freq_for(cfg, max_pos):
    """Inverse frequencies and attention factor (transformers' rope init
    functions), for a sequence whose largest position id is max_pos."""
    hd = cfg["head_dim"]
    base = cfg["rope_theta"]
    rs = cfg.get("rope_scaling")
    def plain(b):
        return 1.0 / (b ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    if rs is None:
        return plain(base), 1.0
    kind = rs["rope_type"]
    factor = rs["factor"]
    if kind == "linear":
        return plain(base) / factor, 1.0
    if kind == "dynamic":
        L0 = cfg["max_position_embeddings"]  # transformers ignores original_max_position_embeddings here
        n = max_pos + 1
        if n > L0:
            base = base * ((factor * n / L0) - (factor - 1)) ** (hd / (hd - 2))
        return plain(base), 1.0
    if kind == "yarn":
        L0 = rs.get("original_max_position_embeddings") or cfg["max_position_embeddings"]
        attn = rs.get("attention_factor") or (0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0)
        beta_fast = rs.get("beta_fast") or 32
        beta_slow = rs.get("beta_slow") or 1
        def corr_dim(rot):
            return (hd * math.log(L0 / (rot * 2 * math.pi))) / (2 * math.log(base))
        low = max(math.floor(corr_dim(beta_fast)), 0)
        high = min(math.ceil(corr_dim(beta_slow)), hd - 1)
        if low == high:
            high += 0.001
        pos_freqs = base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        extra = 1.0 / pos_freqs
        inter = 1.0 / (factor * pos_freqs)
        ramp = torch.clamp((torch.arange(hd // 2, dtype=torch.float64) - low) / (high - low), 0, 1)
        extra_factor = 1 - ramp
        return inter * (1 - extra_factor) + extra * extra_factor, attn
    if kind == "llama3":
        inv = plain(base)
        lf, hf = rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wave, high_wave = old / lf, old / hf
        wave = 2 * math.pi / inv
        out = torch.where(wave > low_wave, inv / factor, inv)
        smooth = (old / wave - lf) / (hf - lf)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wave < high_wave) * ~(wave > low_wave)
        return torch.where(medium, smoothed, out), 1.0
    raise ValueError(kind)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


# --------------------------------------------------------------- model ----
def param_names(cfg):
    names = [("model.embed_tokens.weight", (cfg["vocab_size"], cfg["hidden_size"]))]
    D, hd = cfg["hidden_size"], cfg["head_dim"]
    QD, KVD, FF = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd, cfg["intermediate_size"]
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        names.append((p + "input_layernorm.weight", (D,)))
        names.append((p + "self_attn.q_proj.weight", (QD, D)))
        if cfg.get("attention_bias"):
            names.append((p + "self_attn.q_proj.bias", (QD,)))
        names.append((p + "self_attn.k_proj.weight", (KVD, D)))
        if cfg.get("attention_bias"):
            names.append((p + "self_attn.k_proj.bias", (KVD,)))
        names.append((p + "self_attn.v_proj.weight", (KVD, D)))
        if cfg.get("attention_bias"):
            names.append((p + "self_attn.v_proj.bias", (KVD,)))
        names.append((p + "self_attn.o_proj.weight", (D, QD)))
        names.append((p + "post_attention_layernorm.weight", (D,)))
        names.append((p + "mlp.gate_proj.weight", (FF, D)))
        names.append((p + "mlp.up_proj.weight", (FF, D)))
        names.append((p + "mlp.down_proj.weight", (D, FF)))
    names.append(("model.norm.weight", (D,)))
    if not cfg["tie_word_embeddings"]:
        names.append(("lm_head.weight", (cfg["vocab_size"], D)))
    return names


def random_params(cfg, gen):
    P = {}
    for name, shape in param_names(cfg):
        if name.endswith("norm.weight"):
            t = 1 + 0.2 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            t = 0.2 * torch.randn(shape, generator=gen)
        else:
            t = 0.25 * torch.randn(shape, generator=gen)
        # Values are exactly representable in float32, as the Go model's.
        P[name] = t.float().double().requires_grad_(True)
    return P


def rmsnorm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def forward(cfg, P, tokens, positions):
    """Logits (T, V) of one sequence."""
    T = len(tokens)
    D, H, KV, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    pos = torch.tensor(positions, dtype=torch.float64)
    inv, attn_factor = inv_freq_for(cfg, max(positions))
    freqs = pos[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos() * attn_factor, emb.sin() * attn_factor
    # Round cos/sin to float32 as the Go code does (then to the weights' dtype).
    dt = P["model.embed_tokens.weight"].dtype
    cos, sin = cos.float().to(dt), sin.float().to(dt)
    i = torch.arange(T)
    mask = i[None, :] <= i[:, None]  # key j <= query i
    W = cfg.get("sliding_window") or 0
    if W:
        mask = mask & (i[:, None] - i[None, :] < W)
    x = P["model.embed_tokens.weight"][torch.tensor(tokens)]
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = rmsnorm(x, P[p + "input_layernorm.weight"], eps)
        def proj(n):
            y = h @ P[p + "self_attn.%s_proj.weight" % n].T
            if cfg.get("attention_bias"):
                y = y + P[p + "self_attn.%s_proj.bias" % n]
            return y
        q = proj("q").view(T, H, hd).transpose(0, 1)
        k = proj("k").view(T, KV, hd).transpose(0, 1)
        v = proj("v").view(T, KV, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = H // KV
        k = k.repeat_interleave(rep, dim=0)  # repeat_kv
        v = v.repeat_interleave(rep, dim=0)
        s = (q @ k.transpose(1, 2)) * hd ** -0.5
        s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        a = a.transpose(0, 1).reshape(T, H * hd)
        x = x + a @ P[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = h @ P[p + "mlp.gate_proj.weight"].T
        u = h @ P[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ P[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return x @ head.T


def batch_loss(cfg, P, tokens, positions, masks):
    """Summed NLL over predicted tokens, count, per-sequence logits and
    log-probabilities of the next tokens."""
    total, count, logits_all, logp_all = 0, 0, [], []
    for s, toks in enumerate(tokens):
        pos = positions[s] if positions[s] is not None else list(range(len(toks)))
        # The loss in the weights' dtype (as transformers upcasts logits).
        logits = forward(cfg, P, toks, pos).to(P["model.embed_tokens.weight"].dtype)
        lp = torch.log_softmax(logits, dim=-1)
        tgt = torch.tensor(toks[1:])
        nll = -lp[:-1].gather(1, tgt[:, None])[:, 0]
        keep = torch.ones(len(toks) - 1, dtype=torch.bool)
        if masks[s] is not None:
            keep = torch.tensor(masks[s][:-1])
        total = total + nll[keep].sum()
        count += int(keep.sum())
        logits_all.append(logits.detach())
        logp_all.append((-nll).detach())
    return total, count, logits_all, logp_all


# ---------------------------------------------------------------- cases ----
def base_cfg(**kw):
    cfg = {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"],
        "vocab_size": 40, "hidden_size": 32, "intermediate_size": 40,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
        "head_dim": 8, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": 4096, "tie_word_embeddings": False,
        "attention_bias": False, "hidden_act": "silu", "initializer_range": 0.02,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
        "rope_scaling": None,
    }
    cfg.update(kw)
    return cfg


# Non-contiguous positions: contiguous runs with gaps, as LongRecipe makes.
POS0 = [0, 1, 2, 3, 10, 11, 12, 40, 41, 42, 43, 44, 90, 91, 92, 93]
POS_FAR = [0, 1, 2, 3, 700, 701, 702, 2100, 2101, 2102, 2103, 2104, 5000, 5001, 5002, 6000]

CASES = [
    ("llama-untied", base_cfg(), POS0),
    ("llama-tied", base_cfg(tie_word_embeddings=True, num_key_value_heads=2), POS0),
    ("qwen2-bias", base_cfg(model_type="qwen2", architectures=["Qwen2ForCausalLM"], attention_bias=True,
                            num_key_value_heads=2, rope_theta=1000000.0), POS0),
    ("mistral-window", base_cfg(model_type="mistral", architectures=["MistralForCausalLM"],
                                num_key_value_heads=1, sliding_window=5), POS0),
    ("rope-linear", base_cfg(rope_scaling={"rope_type": "linear", "factor": 4.0}), POS0),
    ("rope-dynamic", base_cfg(max_position_embeddings=32,
                              rope_scaling={"rope_type": "dynamic", "factor": 4.0}), POS0),
    ("rope-yarn", base_cfg(max_position_embeddings=8192,
                           rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                         "original_max_position_embeddings": 2048}), POS_FAR),
    ("rope-llama3", base_cfg(rope_theta=500.0, max_position_embeddings=131072,
                             rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
     POS_FAR),
]


def write_case(name, cfg, pos0, seed):
    gen = torch.Generator().manual_seed(seed)
    P = random_params(cfg, gen)
    V = cfg["vocab_size"]
    tokens = [torch.randint(0, V, (16,), generator=gen).tolist(), torch.randint(0, V, (11,), generator=gen).tolist()]
    positions = [pos0, None]
    masks = [None, [True, True, False, True, True, True, False, False, True, True, False]]
    loss, count, logits, logp = batch_loss(cfg, P, tokens, positions, masks)
    loss.backward()
    blob = bytearray()
    index = []
    def put(kind, tname, t):
        t = t.detach().reshape(-1).float()
        index.append({"kind": kind, "name": tname, "shape": list(t.shape), "offset": len(blob) // 4})
        blob.extend(struct.pack("<%df" % t.numel(), *t.tolist()))
    for n, _ in param_names(cfg):
        put("weight", n, P[n])
    for n, _ in param_names(cfg):
        put("grad", n, P[n].grad)
    put("logits", "seq0", logits[0])
    for s in range(2):
        put("logprobs", "seq%d" % s, logp[s])
    for e in index:
        e["shape"] = []
    shapes = dict(param_names(cfg))
    for e in index:
        if e["kind"] in ("weight", "grad"):
            e["shape"] = list(shapes[e["name"]])
        elif e["kind"] == "logits":
            e["shape"] = [len(tokens[0]), V]
        else:
            e["shape"] = [len(tokens[int(e["name"][3:])]) - 1]
    cfg_out = {k: v for k, v in cfg.items() if v is not None}
    man = {
        "config": cfg_out, "tokens": tokens, "positions": positions, "loss_mask": masks,
        "loss_sum": loss.item(), "n_tokens": count, "tensors": index,
        "binary": name + ".bin",
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(man, f, indent=1)
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(bytes(blob))
    print("%-16s loss_sum %.6f over %d tokens, %d bytes" % (name, loss.item(), count, len(blob)))


# Cases also written under PyTorch's bf16 autocast (<case>-bf16.json/.bin).
BF16_CASES = ["llama-tied", "qwen2-bias", "mistral-window"]


def write_case_bf16(name, cfg, pos0, seed):
    """The case's model (same seed, so the same weights) in float32 under
    torch.autocast("cpu", dtype=torch.bfloat16): every matmul with bfloat16
    operands, as a PyTorch user's one-line mixed precision. The loss and the
    float32 parameter gradients are what that user gets."""
    gen = torch.Generator().manual_seed(seed)
    P64 = random_params(cfg, gen)
    P = {n: P64[n].detach().float().requires_grad_(True) for n in P64}
    V = cfg["vocab_size"]
    tokens = [torch.randint(0, V, (16,), generator=gen).tolist(), torch.randint(0, V, (11,), generator=gen).tolist()]
    positions = [pos0, None]
    masks = [None, [True, True, False, True, True, True, False, False, True, True, False]]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, count, logits, logp = batch_loss(cfg, P, tokens, positions, masks)
    loss = loss.float()
    loss.backward()
    blob = bytearray()
    index = []
    shapes = dict(param_names(cfg))
    def put(kind, tname, t, shape):
        t = t.detach().reshape(-1).float()
        index.append({"kind": kind, "name": tname, "shape": shape, "offset": len(blob) // 4})
        blob.extend(struct.pack("<%df" % t.numel(), *t.tolist()))
    for n, _ in param_names(cfg):
        put("weight", n, P[n], list(shapes[n]))
    for n, _ in param_names(cfg):
        put("grad", n, P[n].grad, list(shapes[n]))
    for s in range(2):
        put("logprobs", "seq%d" % s, logp[s], [len(tokens[s]) - 1])
    man = {
        "config": {k: v for k, v in cfg.items() if v is not None}, "tokens": tokens,
        "positions": positions, "loss_mask": masks, "loss_sum": loss.item(), "n_tokens": count,
        "tensors": index, "binary": name + "-bf16.bin", "torch_version": torch.__version__,
        "precision": "torch.autocast(cpu, bfloat16), float32 weights",
    }
    with open(os.path.join(OUT, name + "-bf16.json"), "w") as f:
        json.dump(man, f, indent=1)
    with open(os.path.join(OUT, name + "-bf16.bin"), "wb") as f:
        f.write(bytes(blob))
    print("%-16s bf16 autocast loss_sum %.6f over %d tokens, %d bytes" % (name, loss.item(), count, len(blob)))


def write_adamw():
    cfg = base_cfg(vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                   num_attention_heads=2, num_key_value_heads=1, head_dim=4)
    gen = torch.Generator().manual_seed(2027)
    P = random_params(cfg, gen)
    names = [n for n, _ in param_names(cfg)]
    # torch.optim.AdamW in float32, as a trainer's fp32 master weights.
    W = {n: P[n].detach().float().clone().requires_grad_(True) for n in names}
    opt = torch.optim.AdamW([W[n] for n in names], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    tokens = [torch.randint(0, 16, (8,), generator=gen).tolist()]
    positions = [[0, 1, 2, 9, 10, 11, 30, 31]]
    init = {n: W[n].detach().reshape(-1).tolist() for n in names}
    grads = {n: [] for n in names}
    after = {n: [] for n in names}
    losses = []
    for step in range(3):
        opt.zero_grad()
        Pd = {n: W[n].double() for n in names}
        for n in names:
            Pd[n].retain_grad()
        loss, count, _, _ = batch_loss(cfg, Pd, tokens, positions, [None])
        mean = loss / count
        mean.backward()
        for n in names:
            W[n].grad = Pd[n].grad.float()
            grads[n].append(W[n].grad.reshape(-1).tolist())
        opt.step()
        for n in names:
            after[n].append(W[n].detach().reshape(-1).tolist())
        losses.append(mean.item())
    doc = {
        "optimizer": "torch.optim.AdamW", "torch_version": torch.__version__,
        "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1,
        "steps": 3, "decay_all_params": True,
        "loss": "mean next-token NLL over the sequence (model in float64)",
        "config": {k: v for k, v in cfg.items() if v is not None},
        "tokens": tokens, "positions": positions, "losses": losses,
        "params": [{"name": n, "shape": list(dict(param_names(cfg))[n]), "init": init[n],
                    "grads": grads[n], "after": after[n]} for n in names],
    }
    with open(os.path.join(OUT, "adamw-tiny.json"), "w") as f:
        json.dump(doc, f)
    print("adamw-tiny      losses", losses)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    only_bf16 = os.environ.get("ONLY_BF16") == "1"
    for i, (name, cfg, pos0) in enumerate(CASES):
        if not only_bf16:
            write_case(name, cfg, pos0, 1000 + i)
        if name in BF16_CASES:
            write_case_bf16(name, cfg, pos0, 1000 + i)
    if not only_bf16:
        write_adamw()
