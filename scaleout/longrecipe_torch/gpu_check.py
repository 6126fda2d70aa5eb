"""GPU check of the torch backend (for the accelerator machine).

    python -m longrecipe_torch.gpu_check            # one GPU: ~125M Llama, 16k-token rows, bf16
    python -m longrecipe_torch.gpu_check --dry-run  # CPU, tiny model, fp32: checks the script itself

Needs no network: the model is initialised from a config (random weights,
saved as a folder) and the rows are synthetic token ids with LongRecipe-style
position ids (Ls real tokens spread over a window Lt: two chunks with one gap,
as prepare --method longrecipe writes). It trains a few steps through the
real entry point (trainer.run: the same code as longrecipe train --backend
torch) and prints:

  * tokens/s (steady state: steps after the first), peak GPU memory;
  * MFU = model FLOPs / (time x peak), model FLOPs per token = 6N + 6·L·d·T
    (causal attention, forward + backward; recomputation not counted);
  * the bf16 parity check: loss of a gapped row under bf16 autocast with the
    chosen attention vs fp32 eager with an explicit causal mask (relative
    difference), and, when flash-attn is installed, FA2 log-probs vs SDPA on
    a gapped row (the packed-sequence trap) plus what FA2 gives without our
    one-span guard.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch


def longrecipe_positions(ls: int, lt: int, rng) -> list[int]:
    """Ls positions over a window Lt: 0..a-1 then b..b+Ls-a-1 (one gap)."""
    a = int(rng.integers(ls // 4, 3 * ls // 4))
    b = int(rng.integers(a, lt - (ls - a) + 1))
    return list(range(a)) + list(range(b, b + ls - a))


def make_model(folder: str, a) -> int:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.intermediate,
                      num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                      max_position_embeddings=a.window, rope_theta=a.rope_theta, tie_word_embeddings=False,
                      torch_dtype="bfloat16" if not a.dry_run else "float32")
    torch.manual_seed(0)
    m = LlamaForCausalLM(cfg)
    m.save_pretrained(folder)
    return sum(p.numel() for p in m.parameters())


def make_rows(path: str, a) -> None:
    rng = np.random.default_rng(1)
    with open(path, "w") as f:
        for _ in range(a.steps):
            ids = rng.integers(0, a.vocab, a.seq).tolist()
            f.write(json.dumps({"input_ids": ids, "position_ids": longrecipe_positions(a.seq, a.window, rng)}) + "\n")


def parity(folder: str, a, device) -> dict:
    """bf16 (chosen attention) vs fp32 eager on one gapped row."""
    from .model import RowLoss, load_model, logprobs, pick_attention

    rng = np.random.default_rng(2)
    n = min(a.seq, a.parity_len)
    ids = torch.tensor(rng.integers(0, a.vocab, n))[None].to(device)
    pos = torch.tensor(longrecipe_positions(n, a.window, rng))[None].to(device)
    tg = torch.full_like(ids, -100)
    tg[0, :-1] = ids[0, 1:]
    out = {}
    attn = pick_attention(a.attn, device)
    ref = load_model(folder, "eager").to(device)
    mask = torch.full((1, 1, n, n), torch.finfo(torch.float32).min, device=device).triu(1)
    with torch.no_grad():
        logits = ref(input_ids=ids, position_ids=pos, attention_mask=mask).logits[0].float()
        ref_loss = torch.nn.functional.cross_entropy(logits, tg[0], ignore_index=-100, reduction="sum").item()
        del ref, logits
        m = load_model(folder, attn).to(device)
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
        with ctx:
            loss = RowLoss(m, a.ce_chunk)(ids, pos, tg).item()
    out["attn"] = attn
    out["loss_fp32_eager"] = ref_loss / (n - 1)
    out["loss_run"] = loss / (n - 1)
    out["loss_rel_diff"] = abs(loss - ref_loss) / abs(ref_loss)
    if device.type == "cuda" and attn == "flash_attention_2":
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            fa = logprobs(m, ids[0].tolist(), pos[0].tolist()).float()
            sd = logprobs(load_model(folder, "sdpa").to(device), ids[0].tolist(), pos[0].tolist()).float()
            naive = torch.log_softmax(m(input_ids=ids, position_ids=pos).logits[0].float(), -1)[:-1]
            naive = naive.gather(1, ids[0, 1:, None])[:, 0]
        out["fa2_vs_sdpa_max_abs_logprob"] = (fa - sd).abs().max().item()
        out["fa2_unguarded_vs_sdpa_max_abs_logprob"] = (naive - sd).abs().max().item()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny model, fp32 (tests the script)")
    ap.add_argument("--seq", type=int, default=16384, help="tokens per row (Ls)")
    ap.add_argument("--window", type=int, default=65536, help="Lt: the positions span [0, Lt)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--intermediate", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--rope-theta", type=float, default=500000.0)
    ap.add_argument("--attn", default="auto")
    ap.add_argument("--ce-chunk", type=int, default=4096)
    ap.add_argument("--parity-len", type=int, default=4096, help="row length of the parity check (the fp32 eager reference holds an n x n mask)")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200 SXM: 989)")
    ap.add_argument("--workdir", default="")
    a = ap.parse_args(argv)
    if a.dry_run:
        a.seq, a.window, a.steps, a.hidden, a.intermediate, a.layers, a.heads, a.kv_heads, a.vocab = 256, 1024, 3, 64, 128, 2, 4, 2, 512
        a.parity_len, a.ce_chunk = 256, 64
        os.environ["LONGRECIPE_CPU"] = "1"
    elif not torch.cuda.is_available():
        print("gpu_check: no CUDA device (use --dry-run on a CPU)")
        return 1
    device = torch.device("cpu") if a.dry_run else torch.device("cuda", 0)
    from . import trainer

    work = a.workdir or tempfile.mkdtemp(prefix="lr-gpucheck-")
    folder, rows = os.path.join(work, "model"), os.path.join(work, "rows.jsonl")
    n_params = make_model(folder, a)
    make_rows(rows, a)
    out = os.path.join(work, "run")
    job = {"from": folder, "data": rows, "output": out, "checkpoint_every": 0, "save_dtype": "bfloat16",
           "hyper": {"steps": a.steps, "batch": 1, "grad_accum": 1, "schedule": "constant", "lr": 1e-4, "grad_clip": 1.0},
           "launch": {"attn_implementation": a.attn, "ce_chunk_tokens": a.ce_chunk, "sharding": "none"}}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    trainer.run(job)
    wall = time.time() - t0
    with open(os.path.join(out, "metrics.jsonl")) as f:
        ms = [json.loads(l) for l in f]
    steady = ms[1:] or ms
    tps = sum(m["tokens"] for m in steady) / sum(m["tokens"] / m["tokens_per_s"] for m in steady)
    flops_tok = 6 * n_params + 6 * a.layers * a.hidden * a.seq
    rep = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu (dry run)",
           "params": n_params, "row_tokens": a.seq, "window": a.window, "steps": a.steps,
           "losses": [round(m["loss"], 4) for m in ms], "tokens_per_s": tps, "wall_s": wall}
    if device.type == "cuda":
        rep["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        rep["mfu"] = tps * flops_tok / (a.peak_tflops * 1e12)
    rep["parity"] = parity(folder, a, device)
    for k, v in rep.items():
        print(f"{k:>14}: {v}")
    ok = rep["parity"]["loss_rel_diff"] < (1e-4 if a.dry_run else 2e-2)
    ok = ok and rep["parity"].get("fa2_vs_sdpa_max_abs_logprob", 0) < 0.1
    print("gpu_check:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
