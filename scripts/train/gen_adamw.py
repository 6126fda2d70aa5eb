#!/usr/bin/python3
"""Writes train/testdata/adamw.json: reference AdamW trajectories from
torch.optim.AdamW (single-tensor path) with torch.nn.utils.clip_grad_norm_
and Hugging Face Trainer parameter groups (no weight decay for biases and
norm weights). Run from the repository root (Debian python3-torch 1.13):
/usr/bin/python3 scripts/train/gen_adamw.py
"""
import json
import math

import torch


def cosine_with_min_lr(step, peak, warmup, total, min_lr):
    # transformers get_cosine_with_min_lr_schedule_with_warmup (num_cycles=0.5)
    if step < warmup:
        return peak * step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
    rate = min_lr / peak
    return peak * (factor * (1 - rate) + rate)


def case(name, seed, beta1, beta2, eps, wd, clip, lrs, gscale):
    g = torch.Generator().manual_seed(seed)
    specs = [("model.layers.0.mlp.up_proj.weight", [3, 4]),
             ("model.layers.0.self_attn.q_proj.bias", [3]),
             ("model.layers.0.input_layernorm.weight", [4])]
    params, decayed, nodecay = [], [], []
    out = {"name": name, "beta1": beta1, "beta2": beta2, "eps": eps,
           "weight_decay": wd, "grad_clip": clip, "lrs": lrs, "params": []}
    for pname, shape in specs:
        w = torch.randn(shape, generator=g, dtype=torch.float32)
        p = torch.nn.Parameter(w.clone())
        params.append(p)
        nd = ("bias" in pname) or ("norm" in pname)
        (nodecay if nd else decayed).append(p)
        out["params"].append({"name": pname, "shape": shape, "w0": w.flatten().tolist()})
    opt = torch.optim.AdamW([{"params": decayed, "weight_decay": wd},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=lrs[0], betas=(beta1, beta2), eps=eps,
                            foreach=False)
    out["grads"], out["after"], out["norms"] = [], [], []
    for step, lr in enumerate(lrs):
        for grp in opt.param_groups:
            grp["lr"] = lr
        grads = []
        for p in params:
            p.grad = torch.randn(p.shape, generator=g, dtype=torch.float32) * gscale
            grads.append(p.grad.flatten().tolist())
        out["grads"].append(grads)
        if clip > 0:
            n = torch.nn.utils.clip_grad_norm_(params, clip)
        else:
            n = torch.norm(torch.stack([torch.norm(p.grad, 2.0) for p in params]), 2.0)
        out["norms"].append(float(n))
        opt.step()
        out["after"].append([p.detach().flatten().tolist() for p in params])
    return out


def main():
    lrs_a = [cosine_with_min_lr(s, 1e-2, 2, 5, 1e-3) for s in range(5)]
    cases = [
        case("paper-stage1-clip", 1, 0.9, 0.999, 1e-8, 0.1, 1.0, lrs_a, 1.0),
        case("beta2-0.95-noclip", 2, 0.9, 0.95, 1e-6, 0.01, 0.0, [3e-2] * 5, 0.1),
        case("tiny-grads-eps", 3, 0.8, 0.99, 1e-3, 0.5, 0.5, [1e-1, 5e-2, 5e-2, 2e-2, 1e-2], 1e-4),
    ]
    doc = {"generator": "scripts/train/gen_adamw.py", "torch": torch.__version__,
           "cosine_schedule": {"lr": 1e-2, "warmup": 2, "total": 5, "min_lr": 1e-3},
           "cases": cases}
    with open("train/testdata/adamw.json", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
