"""The Go trainer's optimisation rules (train/schedule.go, adamw.go, clip.go).

schedule_at is train.Schedule.At; no_decay is train.NoDecay; the optimizer is
torch.optim.AdamW (single-tensor, foreach=False: the arithmetic the Go AdamW
copies) with two parameter groups; clip_ is torch's clip_grad_norm_ rule
(coefficient max/(norm+1e-6), applied only below 1; max <= 0 disables) on
a norm summed in float64 across ranks.
"""

from __future__ import annotations

import math

import torch


def schedule_at(kind: str, lr: float, warmup: int, min_lr: float, total: int, step: int) -> float:
    """Learning rate of 0-based optimizer step `step` (transformers' formulas
    with a min-lr floor, exactly as train.Schedule.At)."""
    if step < warmup:
        return lr * step / max(1, warmup)
    if kind == "constant":
        return lr
    if kind == "cosine":
        progress = (step - warmup) / max(1, total - warmup)
        f = max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))
        if progress >= 1:
            f = 0.0
    elif kind == "linear":
        f = max(0.0, (total - step) / max(1, total - warmup))
    else:
        raise ValueError(f"schedule: unknown kind {kind!r} (want constant, cosine or linear)")
    return min_lr + (lr - min_lr) * f


def no_decay(name: str) -> bool:
    """Biases and normalisation weights are not decayed (train.NoDecay)."""
    n = name.lower()
    if "bias" in n:
        return True
    mod = n.rsplit(".", 1)[0] if "." in n else n
    mod = mod.rsplit(".", 1)[-1]
    return "norm" in mod


def make_adamw(named_params, adamw: dict) -> torch.optim.AdamW:
    """AdamW with the Go trainer's betas/eps/decay and no-decay groups."""
    decay, keep = [], []
    for name, p in named_params:
        if not p.requires_grad:
            continue
        (decay if adamw.get("decay_all") or not no_decay(name) else keep).append(p)
    groups = [{"params": decay, "weight_decay": adamw["weight_decay"]}, {"params": keep, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    return torch.optim.AdamW(groups, lr=0.0, betas=(adamw["beta1"], adamw["beta2"]), eps=adamw["eps"], foreach=False)


def _local(t: torch.Tensor) -> torch.Tensor:
    return t.to_local() if hasattr(t, "to_local") else t


def grad_norm(params, sharded: bool) -> float:
    """Global L2 norm of the gradients, summed in float64. With sharded
    (FSDP) parameters each rank holds a disjoint shard and the squares are
    summed across ranks; replicated (DDP) gradients are summed locally."""
    ss = torch.zeros((), dtype=torch.float64)
    for p in params:
        if p.grad is not None:
            g = _local(p.grad).detach().to("cpu", torch.float64)
            ss += (g * g).sum()
    if sharded and torch.distributed.is_initialized():
        dev = _comm_device()
        t = ss.to(dev)
        torch.distributed.all_reduce(t)
        ss = t.cpu()
    return math.sqrt(float(ss))


def scale_grads(params, c: float) -> None:
    for p in params:
        if p.grad is not None:
            _local(p.grad).mul_(c)


def clip_(params, max_norm: float, sharded: bool) -> float:
    """Clip like train.ClipGradNorm; returns the norm before clipping."""
    norm = grad_norm(params, sharded)
    if max_norm <= 0 or math.isnan(norm) or math.isinf(norm):
        return norm
    coef = max_norm / (norm + 1e-6)
    if coef < 1:
        scale_grads(params, coef)
    return norm


def _comm_device():
    if torch.distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
