"""GPU check of the torch backend: one prepared run that fails where it matters.

    python -m longrecipe_torch.gpu_check --longrecipe ./longrecipe    # one GPU, < 10 min
    python -m longrecipe_torch.gpu_check --dry-run [--longrecipe BIN] # CPU, tiny sizes (make test)

Needs no network and no Go toolchain: the model is initialised from a
config (random weights, saved as a folder), the rows are synthetic token ids
with LongRecipe position ids, and `longrecipe plan` comes from a binary
built beforehand (--longrecipe). What it runs and checks:

1. Llama-3-8B's attention shape — 2 layers, hidden 4096, head dim 128,
   32 query / 8 key-value heads, intermediate 14336, vocabulary 128256 —
   trained 3 steps at Ls = 39,322 tokens per row through the real entry point
   (trainer.run, as `longrecipe train --backend torch`), in two layouts on
   one GPU: FSDP2 (one rank) and FSDP2 with CPUOffloadPolicy (the paper's
   one-GPU set-up), bf16 through MixedPrecisionPolicy. For each: peak
   torch.cuda.max_memory_allocated against `plan`'s allocated figure for the
   same layout (total minus headroom), FAIL outside ±15 %; tokens/s of the
   steps after the first and MFU = tokens/s · model FLOPs per token / peak
   (model FLOPs per token = 6·P_matmul + 6·L·n_h·d·Ls, as plan counts).
2. The packed-sequence trap: a gapped row (several gaps, odd length) through
   the training path (RowLoss: one causal span, bf16 weights) against fp32
   eager attention with an explicit causal mask: mean |Δ log-prob| over the
   tokens after the first gap must stay below the tolerance. Negative
   control: the unguarded call (position ids without a mask, so
   transformers cuts the row at each gap) must exceed the same tolerance;
   if it does not, the check cannot see a cut span and FAILs. The query and
   key projections and the LM head are scaled up so that attention is sharp
   and outputs peaked (random weights attend almost uniformly, which would
   hide a cut span). The tolerance (0.05 nats bf16, 1e-4 fp32) is a first
   choice: the GPU run is what tells whether bf16 noise stays under it.

--dry-run does the same on the CPU at tiny sizes in fp32 (no allocator
figure: the plan comparison is printed, not checked). Exit 0 on PASS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch

GPU = dict(layers=2, hidden=4096, intermediate=14336, heads=32, kv_heads=8, vocab=128256, seq=39322,
           window=131072, steps=3, ce_chunk=4096, parity_len=4096, rope_theta=500000.0)
DRY = dict(layers=2, hidden=64, intermediate=128, heads=4, kv_heads=2, vocab=512, seq=509,
           window=4096, steps=3, ce_chunk=128, parity_len=509, rope_theta=500000.0)


def gapped_positions(n: int, window: int, gaps: int, rng) -> list:
    """n increasing positions in [0, window) in gaps+1 contiguous chunks."""
    cuts = sorted(rng.choice(np.arange(1, n), size=gaps, replace=False).tolist())
    sizes = np.diff([0, *cuts, n])
    room = window - n
    jumps = sorted(rng.integers(1, room, size=gaps).tolist())
    jumps = np.diff([0, *jumps]).tolist()
    pos, start = [], 0
    for i, s in enumerate(sizes):
        pos.extend(range(start, start + int(s)))
        start += int(s) + (jumps[i] if i < gaps else 0)
    return pos


def make_model(folder: str, a, dtype: str) -> int:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.intermediate,
                      num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                      head_dim=a.hidden // a.heads, max_position_embeddings=8192, rope_theta=a.rope_theta,
                      tie_word_embeddings=False, torch_dtype=dtype)
    torch.manual_seed(0)
    m = LlamaForCausalLM(cfg)
    # Sharp attention and peaked outputs, so that a cut span shows: with
    # unit-RMS inputs an attention score has variance sigma_qk^2 * hidden
    # (set to 2) and a logit standard deviation sigma_head * sqrt(hidden)
    # (set to 2); the random init (0.02) gives near-uniform attention.
    qk = (2.0 / a.hidden) ** 0.5 / cfg.initializer_range
    head = 2.0 / (cfg.initializer_range * a.hidden ** 0.5)
    with torch.no_grad():
        for layer in m.model.layers:
            layer.self_attn.q_proj.weight.mul_(qk)
            layer.self_attn.k_proj.weight.mul_(qk)
        m.lm_head.weight.mul_(head)
    m.to(getattr(torch, dtype)).save_pretrained(folder)
    return sum(p.numel() for p in m.parameters())


def make_rows(path: str, a) -> None:
    rng = np.random.default_rng(1)
    with open(path, "w") as f:
        for _ in range(a.steps):
            ids = rng.integers(0, a.vocab, a.seq).tolist()
            f.write(json.dumps({"input_ids": ids, "position_ids": gapped_positions(a.seq, a.window, 3, rng)}) + "\n")


def plan_allocated(a, folder: str, offload: bool, prec: str):
    """plan's allocated bytes per GPU (total minus headroom) for this
    layout, or None without a binary."""
    if not a.longrecipe:
        return None
    cmd = [a.longrecipe, "plan", folder, "--target-length", str(a.window), "--train-length", str(a.seq),
           "--gpus", "1", "--gpu-mem", str(a.gpu_mem), "--sharding", "fsdp", "--offload", "on" if offload else "off",
           "--precision", prec, "--ce-chunk", str(a.ce_chunk), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 1) or not p.stdout.strip():
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip().splitlines()[-1:]}")
    m = json.loads(p.stdout)["memory_per_gpu"]
    return m["total"] - m["headroom"]


def train_layout(a, folder, rows, work, offload: bool, prec: str, device) -> dict:
    from . import trainer

    out = os.path.join(work, "run-offload" if offload else "run-fsdp")
    job = {"from": folder, "data": rows, "output": out, "checkpoint_every": 0, "save_dtype": "bfloat16",
           "hyper": {"steps": a.steps, "batch": 1, "grad_accum": 1, "schedule": "constant", "lr": 1e-5, "grad_clip": 1.0},
           "launch": {"attn_implementation": a.attn, "ce_chunk_tokens": a.ce_chunk, "sharding": "fsdp",
                      "cpu_offload": offload, "precision": prec}}
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    trainer.run(job)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        ms = [json.loads(line) for line in f]
    with open(os.path.join(out, trainer.LAYOUT)) as f:
        lay = json.load(f)
    steady = ms[1:] or ms
    tps = sum(m["tokens"] for m in steady) / sum(m["tokens"] / m["tokens_per_s"] for m in steady)
    r = {"layout": "fsdp + CPUOffloadPolicy" if offload else "fsdp", "offload_policy": lay.get("offload_policy"),
         "mp_policy": lay.get("mp_policy"), "losses": [round(m["loss"], 4) for m in ms], "tokens_per_s": tps,
         "wall_s": time.time() - t0, "plan_allocated_bytes": plan_allocated(a, folder, offload, prec)}
    if device.type == "cuda":
        r["peak_allocated_bytes"] = torch.cuda.max_memory_allocated()
    return r


def flops_per_token(a, n_params: int) -> float:
    matmul = n_params - a.vocab * a.hidden  # the input embedding is a lookup (untied head)
    return 6 * matmul + 6 * a.layers * a.heads * (a.hidden // a.heads) * a.seq


def parity(folder: str, a, device, dtype) -> dict:
    """Mean |Δ log-prob| after the first gap: the training path (one span)
    and the unguarded call (cut at each gap) against fp32 eager."""
    from .model import RowLoss, load_model

    rng = np.random.default_rng(2)
    n = a.parity_len
    ids = torch.tensor(rng.integers(0, a.vocab, n))[None].to(device)
    pos_list = gapped_positions(n, a.window, 4, rng)
    first_gap = next(i for i in range(1, n) if pos_list[i] != pos_list[i - 1] + 1)
    pos = torch.tensor(pos_list)[None].to(device)

    def lp(logits):
        lps = torch.log_softmax(logits[0].float(), -1)[:-1]
        return lps.gather(1, ids[0, 1:, None])[:, 0][first_gap:]

    with torch.no_grad():
        ref = load_model(folder, "eager").to(device)
        mask = torch.full((1, 1, n, n), torch.finfo(torch.float32).min, device=device).triu(1)
        want = lp(ref(input_ids=ids, position_ids=pos, attention_mask=mask).logits)
        del ref
        m = load_model(folder, a.attn if a.attn != "auto" else "sdpa", dtype=dtype).to(device)
        rl = RowLoss(m, a.ce_chunk)
        guarded = lp(m.lm_head(rl.hidden(ids, pos)))
        unguarded = lp(m(input_ids=ids, position_ids=pos).logits)
    return {"row_tokens": n, "first_gap": first_gap, "guarded_mean_abs": (guarded - want).abs().mean().item(),
            "unguarded_mean_abs": (unguarded - want).abs().mean().item()}


def arguments(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, fp32 (checks the script)")
    ap.add_argument("--longrecipe", default=os.environ.get("LONGRECIPE_BIN", ""), help="the longrecipe binary (for plan)")
    ap.add_argument("--gpu-mem", type=float, default=0, help="GiB of the GPU for plan (default: the device's)")
    ap.add_argument("--attn", default="auto")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200 SXM: 989)")
    ap.add_argument("--tolerance", type=float, default=0.0, help="mean |Δ log-prob| allowed (default 0.05 bf16, 1e-4 dry run)")
    ap.add_argument("--workdir", default="")
    a = ap.parse_args(argv)
    for k, v in (DRY if a.dry_run else GPU).items():
        setattr(a, k, v)
    a.tolerance = a.tolerance or (1e-4 if a.dry_run else 0.05)
    return a


def main(argv=None) -> int:
    a = arguments(argv)
    if a.dry_run:
        os.environ["LONGRECIPE_CPU"] = "1"
    elif not torch.cuda.is_available():
        print("gpu_check: no CUDA device (use --dry-run on a CPU)")
        return 1
    device = torch.device("cpu") if a.dry_run else torch.device("cuda", 0)
    prec, dtype = ("fp32", "float32") if a.dry_run else ("bf16", "bfloat16")
    if not a.gpu_mem:
        a.gpu_mem = 80.0 if a.dry_run else torch.cuda.get_device_properties(0).total_memory / 2**30
    work = a.workdir or tempfile.mkdtemp(prefix="lr-gpucheck-")
    folder, rows = os.path.join(work, "model"), os.path.join(work, "rows.jsonl")
    n_params = make_model(folder, a, dtype)
    make_rows(rows, a)
    rep = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu (dry run)",
           "params": n_params, "row_tokens": a.seq, "window": a.window, "precision": prec}
    ok, why = True, []
    for offload in (False, True):
        r = train_layout(a, folder, rows, work, offload, prec, device)
        r["mfu"] = r["tokens_per_s"] * flops_per_token(a, n_params) / (a.peak_tflops * 1e12)
        if r["offload_policy"] != ("CPUOffloadPolicy" if offload else "OffloadPolicy"):
            ok = False
            why.append(f"{r['layout']}: ran with {r['offload_policy']}")
        if "peak_allocated_bytes" in r:
            if r["plan_allocated_bytes"] is None:
                ok = False
                why.append("no plan figure (give --longrecipe BIN)")
            else:
                r["peak_vs_plan"] = r["peak_allocated_bytes"] / r["plan_allocated_bytes"] - 1
                if abs(r["peak_vs_plan"]) > 0.15:
                    ok = False
                    why.append(f"{r['layout']}: peak {r['peak_allocated_bytes'] / 2**30:.2f} GiB is {100 * r['peak_vs_plan']:+.1f} % off plan's {r['plan_allocated_bytes'] / 2**30:.2f} GiB")
        rep[r["layout"]] = r
    p = parity(folder, a, device, getattr(torch, dtype))
    p["tolerance"] = a.tolerance
    rep["parity"] = p
    if p["guarded_mean_abs"] >= a.tolerance:
        ok = False
        why.append(f"gapped row: training path off fp32 eager by {p['guarded_mean_abs']:.3g} (tolerance {a.tolerance:g})")
    if p["unguarded_mean_abs"] < a.tolerance:
        ok = False
        why.append(f"negative control: the unguarded path is within the tolerance ({p['unguarded_mean_abs']:.3g}): the check cannot see a cut span")
    for k, v in rep.items():
        print(f"{k:>24}: {v}")
    print("gpu_check:", "PASS" if ok else "FAIL: " + "; ".join(why))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
