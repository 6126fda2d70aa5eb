"""Interop: transformers loads every folder the Go side writes (init in
f32/bf16/f16, train, merge, sharded) and its log-probs equal `longrecipe
score` within 1e-4."""

import json
import os
import uuid

import pytest
import torch
from transformers import AutoModelForCausalLM

from conftest import run
from longrecipe_torch import data


def score(lr, folder, rows, work):
    tag = uuid.uuid4().hex[:8]
    inp, out = work / f"in-{tag}.jsonl", work / f"out-{tag}.jsonl"
    inp.write_text("".join(json.dumps({"input_ids": r.input_ids.tolist(), "position_ids": r.position_ids.tolist()}) + "\n" for r in rows))
    run(lr, "score", "--precision", "fp32", "--model", folder, "--input", str(inp), "--output", str(out))
    return [torch.tensor(json.loads(l)["logprobs"]) for l in out.read_text().splitlines()]


def hf_logprobs(folder, rows):
    m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    outs = []
    with torch.no_grad():
        for r in rows:
            ids = torch.tensor(r.input_ids)[None]
            logits = m(input_ids=ids, position_ids=torch.tensor(r.position_ids)[None], attention_mask=torch.ones_like(ids)).logits[0]
            lp = torch.log_softmax(logits.float(), -1)
            outs.append(lp[:-1].gather(1, ids[0, 1:, None])[:, 0])
    return outs


@pytest.fixture(scope="module")
def folders(lr, models, go_runs, work):
    """name → folder, for every kind of folder the Go side writes."""
    cfg = json.load(open(os.path.join(models["llama"], "config.json")))
    out = {"init-llama-f32": models["llama"], "init-qwen2-f32": models["qwen2"],
           "train-llama": go_runs["llama"], "train-qwen2": go_runs["qwen2"]}
    src = work / "llama-cfg.json"
    src.write_text(json.dumps(cfg))
    for dt in ("bf16", "f16"):
        d = str(work / f"init-{dt}")
        run(lr, "init", "--config", str(src), "--output", d, "--dtype", dt, "--seed", "3")
        out[f"init-llama-{dt}"] = d
    d = str(work / "merged-sharded")
    run(lr, "merge", "--models", models["llama"], go_runs["llama"], "--max-shard-size", "40KB", "--output", d)
    assert os.path.exists(os.path.join(d, "model.safetensors.index.json")), "merge should have written shards"
    out["merge-llama-sharded"] = d
    return out


KINDS = ["init-llama-f32", "init-qwen2-f32", "init-llama-bf16", "init-llama-f16", "train-llama", "train-qwen2",
         "merge-llama-sharded"]


@pytest.mark.parametrize("kind", KINDS)
def test_transformers_logprobs_equal_score(kind, folders, shards, lr, work):
    ds = data.Dataset(shards)
    rows = [ds.row(i) for i in (0, 4, 6)]
    got, want = hf_logprobs(folders[kind], rows), score(lr, folders[kind], rows, work)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        assert (g - w).abs().max() < 1e-4, (kind, float((g - w).abs().max()))
