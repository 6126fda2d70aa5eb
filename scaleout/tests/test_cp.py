"""Context parallelism (longrecipe_torch.cp) is exact: a gapped LongRecipe
row of 4k+ tokens (odd length, so it is padded) split over 2 and 4 gloo
ranks gives the per-token log-probs and parameter gradients of one process
within 1e-5 (fp32, activation checkpointing on, as in training). Negative
controls: a split the ring does not expect (contiguous instead of zigzag:
a wrong causal mask) and local position ids instead of the row's (a wrong
RoPE offset) must fail the same comparison."""

import json
import multiprocessing as mp
import os
import socket

import numpy as np
import pytest
import torch

from longrecipe_torch import cp
from longrecipe_torch.model import RowLoss

TOL = 1e-5


def tiny_lm(attn, arch="llama", **extra):
    from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                              Qwen2ForCausalLM)

    cls = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM),
           "mistral": (MistralConfig, MistralForCausalLM)}[arch]
    cfg = cls[0](vocab_size=256, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=16384, rope_theta=10000.0,
                 attn_implementation=attn, **extra)
    torch.manual_seed(11)
    lm = cls[1](cfg).float()
    with torch.no_grad():  # larger weights than the initialiser's, so attention is far from uniform
        for p in lm.parameters():
            if p.dim() == 2:
                p.mul_(4.0)
    lm.config.use_cache = False
    lm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    lm.train()
    return lm


def gapped_row(n, seed):
    """LongRecipe-like: a few contiguous segments at increasing offsets with
    gaps between them; some targets masked."""
    g = np.random.default_rng(seed)
    ids = g.integers(1, 256, n)
    cuts = np.sort(g.choice(np.arange(1, n), 5, replace=False))
    pos, at, prev = [], 0, 0
    for c in list(cuts) + [n]:
        pos.extend(range(at, at + c - prev))
        at += c - prev + int(g.integers(100, 2000))
        prev = c
    tg = np.full(n, -100)
    tg[:-1] = ids[1:]
    tg[g.random(n) < 0.1] = -100
    return (torch.tensor(ids)[None], torch.tensor(pos)[None], torch.tensor(tg)[None])


def logprobs_and_grads(model, ids, pos, tg, ring=None):
    """Per-position log p(target) (0 where no target) and the gradients of
    the summed NLL, through RowLoss as the trainer runs it."""
    model.zero_grad(set_to_none=True)
    loss = model(ids, pos, tg, ring)
    loss.backward()
    with torch.no_grad():
        h = model.hidden(ids, pos, ring)[0]
        lp = torch.log_softmax(model.lm.lm_head(h), -1)
        t = tg[0].clamp(min=0)
        lp = lp.gather(1, t[:, None])[:, 0] * (tg[0] != -100)
    return float(loss.detach()), lp, {k: p.grad.clone() for k, p in model.named_parameters()}


def _worker(rank, world, port, n, seed, fault, out, arch="llama"):
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        ring, _, _ = cp.mesh(world, rank, world)
        lm = tiny_lm("sdpa", arch, **({"tie_word_embeddings": True} if arch == "qwen2" else {}))
        cp.enable(lm)
        model = RowLoss(lm, ce_chunk=1000)
        ids, pos, tg = gapped_row(n, seed)
        if fault == "head-targets":  # not a fault: ranks whose part of the row predicts nothing
            tg[:, n // 5:] = -100
        if fault == "contiguous":  # the split the ring does not expect
            cp.zigzag_index = lambda n_pad, size, r: torch.arange(r * n_pad // size, (r + 1) * n_pad // size)
        ids, pos, tg, idx = cp.shard_row(ids, pos, tg, ring)
        if fault == "local-positions":  # RoPE from the rank's own offsets
            pos = torch.arange(pos.shape[1])[None]
        loss, lp, grads = logprobs_and_grads(model, ids, pos, tg, ring)
        torch.save({"idx": idx, "loss": loss, "lp": lp, "grads": grads}, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(ps, limit=300):
    """Waits for the ranks; when one fails the others (stuck in the ring)
    are terminated at once, so a failure is reported, not a hang."""
    import time

    deadline = time.monotonic() + limit
    while any(p.exitcode is None for p in ps) and time.monotonic() < deadline:
        if any(p.exitcode not in (None, 0) for p in ps):
            break
        time.sleep(0.05)
    codes = [p.exitcode for p in ps]
    for p in ps:
        if p.exitcode is None:
            p.terminate()
        p.join()
    assert codes == [0] * len(ps), f"rank exit codes {codes} (None: still running, stopped)"


def run_cp(world, n, seed, fault, out, arch="llama"):
    ctx = mp.get_context("fork")
    port = _free_port()
    ps = [ctx.Process(target=_worker, args=(r, world, port, n, seed, fault, str(out), arch)) for r in range(world)]
    for p in ps:
        p.start()
    _join(ps)
    parts = [torch.load(os.path.join(out, f"rank{r}.pt")) for r in range(world)]
    n_pad = cp.padded_len(n, world)
    lp = torch.zeros(n_pad)
    for part in parts:
        lp[part["idx"]] = part["lp"]
    grads = {k: sum(part["grads"][k] for part in parts) for k in parts[0]["grads"]}
    return sum(part["loss"] for part in parts), lp[:n], grads


@pytest.fixture(scope="module")
def reference():
    """One process, sdpa, the whole row: {n: (loss, logprobs, grads)}."""
    model = RowLoss(tiny_lm("sdpa"), ce_chunk=1000)
    out = {}
    for n, seed in ((4097, 1), (4101, 2)):
        out[n] = logprobs_and_grads(model, *gapped_row(n, seed))
    return out


def differences(ref, got):
    """(max |Δ log-prob|, max over tensors of max |Δ grad| / max |grad|)."""
    loss0, lp0, g0 = ref
    _, lp1, g1 = got
    dlp = float((lp0 - lp1).abs().max())
    dg = max(float((g0[k] - g1[k]).abs().max() / g0[k].abs().max()) for k in g0)
    return dlp, dg


@pytest.mark.parametrize("world,n,seed", [(2, 4097, 1), (4, 4101, 2)])
def test_cp_equals_one_process(reference, tmp_path, world, n, seed):
    got = run_cp(world, n, seed, None, tmp_path)
    dlp, dg = differences(reference[n], got)
    print(f"CP {world}, {n} tokens: max |d log-prob| {dlp:.2e}, max relative |d grad| {dg:.2e}")
    assert abs(got[0] - reference[n][0]) <= TOL * abs(reference[n][0])
    assert dlp <= TOL and dg <= TOL, (world, dlp, dg)
    assert cp.padded_len(n, world) > n, "the row should need padding"


@pytest.mark.parametrize("fault", ["contiguous", "local-positions"])
def test_wrong_split_fails(reference, tmp_path, fault):
    dlp, dg = differences(reference[4097], run_cp(2, 4097, 1, fault, tmp_path))
    print(f"fault {fault}: max |d log-prob| {dlp:.2e}, max relative |d grad| {dg:.2e}")
    assert dlp > 100 * TOL and dg > 100 * TOL, (fault, dlp, dg)


def test_rank_without_targets(tmp_path):
    """Targets only in the first fifth of the row: with CP 4 three ranks
    predict nothing, yet they must run the backward (the ring and FSDP need
    them); the gradients still equal one process's."""
    ids, pos, tg = gapped_row(1601, 3)
    tg[:, 1601 // 5:] = -100
    ref = logprobs_and_grads(RowLoss(tiny_lm("sdpa"), ce_chunk=1000), ids, pos, tg)
    dlp, dg = differences(ref, run_cp(4, 1601, 3, "head-targets", tmp_path))
    assert dlp <= TOL and dg <= TOL, (dlp, dg)


def test_qwen2_cp2(tmp_path):
    """Qwen2 (biases on q/k/v, tied embeddings) through the same split."""
    ref = logprobs_and_grads(RowLoss(tiny_lm("sdpa", "qwen2", tie_word_embeddings=True), ce_chunk=1000),
                             *gapped_row(1203, 4))
    dlp, dg = differences(ref, run_cp(2, 1203, 4, None, tmp_path, "qwen2"))
    assert dlp <= TOL and dg <= TOL, (dlp, dg)


def test_sliding_window_refused():
    with pytest.raises(ValueError, match="sliding window"):
        cp.enable(tiny_lm("sdpa", "mistral", sliding_window=64))
    cp.enable(tiny_lm("sdpa", "mistral", sliding_window=None))


def test_mesh_refuses_a_degree_that_does_not_divide():
    with pytest.raises(ValueError, match="context_parallel 3 does not divide the world size 4"):
        cp.mesh(4, 0, 3)


def test_padding_and_split():
    for n, size in ((1, 2), (7, 2), (4101, 4), (64, 4)):
        n_pad = cp.padded_len(n, size)
        assert n_pad >= n and n_pad % (2 * size) == 0 and n_pad - n < 2 * size
        every = torch.cat([cp.zigzag_index(n_pad, size, r) for r in range(size)])
        assert sorted(every.tolist()) == list(range(n_pad))
    assert cp.zigzag_index(8, 2, 0).tolist() == [0, 1, 6, 7]
    assert cp.zigzag_index(8, 2, 1).tolist() == [2, 3, 4, 5]


@pytest.mark.parametrize("how", ["flags", "launch-file"])
def test_fsdp2_cp2_equals_go(lr, go_runs, models, shards, work, how):
    """longrecipe train --backend torch --nproc 4 --context-parallel 2, or
    the same from a launch file (torchrun, FSDP2 over all 4 gloo ranks, two
    CP groups of 2 sharing each row, rows dealt to the 2 groups): 5 steps
    equal the Go trainer within 1e-4 (losses, gradient norms, final
    weights)."""
    import subprocess
    import sys

    from conftest import GO_FLAGS, ROOT
    from test_parity import compare, weights

    env = {**os.environ, "LONGRECIPE_ROOT": ROOT, "LONGRECIPE_PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    o = str(work / f"t4-cp2-{how}")
    topology = ["--nproc", "4", "--context-parallel", "2"]
    if how == "launch-file":
        launch = work / "launch-cp2.json"
        launch.write_text(json.dumps({"nproc_per_node": 4, "context_parallel": 2}))
        topology = ["--launch-config", str(launch)]
    cmd = [lr, "train", "--backend", "torch", *topology, "--model", models["llama"], "--data", shards, "--output", o,
           *GO_FLAGS]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, f"{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    assert "trained 5 steps" in p.stdout, p.stdout
    worst, _ = compare(go_runs["llama"], o, "llama go vs torch fsdp2 x cp2")
    from test_parity import metrics

    dl = max(abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in zip(metrics(go_runs["llama"]), metrics(o)))
    print(f"FSDP 2 x CP 2 ({how}) vs Go: max relative loss difference over 5 steps {dl:.2e}")
    w0, w1 = weights(models["llama"]), weights(o)
    moved = max(float(np.abs(w1[k] - w0[k]).max()) for k in w0)
    print(f"FSDP 2 x CP 2 ({how}) vs Go: worst weight difference {worst:.2e} (weights moved by up to {moved:.2e})")
    assert moved > 1e-3, "training should move the weights"
    with open(os.path.join(o, "torch-job.json")) as f:
        la = json.load(f)["launch"]
    assert la["context_parallel"] == 2 and la["nproc_per_node"] == 4


@pytest.mark.parametrize("world,launch,want", [
    ("4", {"context_parallel": 3}, "context_parallel 3 does not divide the world size 4"),
    ("4", {"context_parallel": 2, "sharding": "ddp"}, "context_parallel 2 needs sharding fsdp, not ddp"),
    ("1", {"context_parallel": 2}, "context_parallel 2 does not divide the world size 1"),
    ("4", {"context_parallel": -2}, "context_parallel -2: want a positive integer"),
    ("4", {"sequence_parallel": 2}, "sequence_parallel was replaced by context_parallel"),
])
def test_job_refuses_bad_cp(monkeypatch, world, launch, want):
    """The ranks check the job before loading anything (the Go launcher
    refuses the same settings before starting them)."""
    from longrecipe_torch import trainer

    monkeypatch.setenv("WORLD_SIZE", world)
    job = {"from": "m", "data": "d", "output": "o", "hyper": {"lr": 1e-3}, "launch": dict(launch)}
    with pytest.raises(trainer.StageError, match=want):
        trainer.normalize(job)
    ok = {"from": "m", "data": "d", "output": "o", "hyper": {"lr": 1e-3}, "launch": {"context_parallel": int(world)}}
    assert trainer.normalize(ok)["launch"]["context_parallel"] == int(world)


def _attn_worker(rank, world, port, dtype, score_bytes, out):
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        cp.SCORE_BYTES = score_bytes
        ring, _, _ = cp.mesh(world, rank, world)
        q, k, v, go = _qkv()
        idx = cp.zigzag_index(q.shape[2], world, rank)
        ql, kl, vl = (x[:, :, idx].to(dtype).requires_grad_() for x in (q, k, v))
        o = cp.ring_attention(ql, kl, vl, ring, 0.25)
        (o.float() * go[:, idx]).sum().backward()
        torch.save({"idx": idx, "o": o.float(), "dq": ql.grad.float(), "dk": kl.grad.float(), "dv": vl.grad.float()},
                   os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _qkv():
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(1, h, 1000, 16, generator=g, dtype=torch.float64) for h in (6, 2, 2))
    return q, k, v, torch.randn(1, 1000, 6, 16, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("dtype,score_bytes,tol", [(torch.float32, 4 * 500 * 6 * 7, 1e-5), (torch.bfloat16, 1 << 28, 3e-2)])
def test_ring_kernel_tiles_and_bf16(tmp_path, dtype, score_bytes, tol):
    """The ring on its own against float64 causal attention (GQA 6/2 heads):
    with tiles of 7 and 14 queries in fp32 (the tiling path) and in bf16 (bf16
    matmuls, float32 statistics, a two-dtype exchange in the backward)."""
    import torch.nn.functional as F

    q, k, v, go = _qkv()
    q, k, v = (x.requires_grad_() for x in (q, k, v))
    o = F.scaled_dot_product_attention(q, k.repeat_interleave(3, 1), v.repeat_interleave(3, 1), is_causal=True, scale=0.25)
    (o.transpose(1, 2) * go).sum().backward()
    want = {"o": o.transpose(1, 2).detach(), "dq": q.grad, "dk": k.grad, "dv": v.grad}
    ctx = mp.get_context("fork")
    port = _free_port()
    ps = [ctx.Process(target=_attn_worker, args=(r, 2, port, dtype, score_bytes, str(tmp_path))) for r in range(2)]
    for p in ps:
        p.start()
    _join(ps)
    for r in range(2):
        got = torch.load(os.path.join(tmp_path, f"rank{r}.pt"))
        i = got["idx"]
        for name, ref in (("o", want["o"][:, i]), ("dq", want["dq"][:, :, i]), ("dk", want["dk"][:, :, i]), ("dv", want["dv"][:, :, i])):
            err = float((got[name].double() - ref).abs().max() / ref.abs().max())
            assert err <= tol, (dtype, r, name, err)
