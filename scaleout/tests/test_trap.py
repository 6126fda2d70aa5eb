"""The packed-sequence trap: a LongRecipe row with position gaps must be
ONE causal span. transformers, given position_ids and no attention mask,
splits a batch-1 row at every gap (find_packed_sequence_indices); our
training path must not. Checked against the eager path with an explicit 4-D
causal mask and against `longrecipe score` (the Go model)."""

import json

import numpy as np
import pytest
import torch

from conftest import run
from longrecipe_torch import data
from longrecipe_torch.model import RowLoss, load_model, logprobs


def gapped_row(shards):
    ds = data.Dataset(shards)
    for i in range(len(ds)):
        r = ds.row(i)
        if (np.diff(r.position_ids) != 1).sum() >= 1 and r.position_ids[0] == 0:
            return r
    pytest.fail("no row with a position gap")


def eager_logprobs(folder, ids, pos):
    """Eager attention with an explicit additive 4-D causal mask (no packed
    detection is possible: the mask is given)."""
    m = load_model(folder, "eager")
    n = len(ids)
    mask = torch.full((1, 1, n, n), torch.finfo(torch.float32).min).triu(1)
    with torch.no_grad():
        out = m(input_ids=torch.tensor(ids)[None], position_ids=torch.tensor(pos)[None], attention_mask=mask)
        lp = torch.log_softmax(out.logits[0].float(), -1)
    return lp[:-1].gather(1, torch.tensor(ids)[1:, None])[:, 0]


def go_score(lr, folder, ids, pos, work):
    import uuid

    tag = uuid.uuid4().hex[:8]
    inp = work / f"score-in-{tag}.jsonl"
    inp.write_text(json.dumps({"input_ids": ids, "position_ids": pos}) + "\n")
    out = work / f"score-out-{tag}.jsonl"
    run(lr, "score", "--precision", "fp32", "--model", folder, "--input", str(inp), "--output", str(out))
    return torch.tensor(json.loads(out.read_text().splitlines()[0])["logprobs"])


@pytest.mark.parametrize("name", ["llama", "qwen2"])
def test_gapped_row_is_one_causal_span(name, models, shards, lr, work):
    r = gapped_row(shards)
    ids, pos = r.input_ids.tolist(), r.position_ids.tolist()
    ours = logprobs(load_model(models[name], "sdpa"), ids, pos)
    eager = eager_logprobs(models[name], ids, pos)
    go = go_score(lr, models[name], ids, pos, work)
    assert ours.shape == eager.shape == go.shape == (len(ids) - 1,)
    assert (ours - eager).abs().max() < 1e-4
    assert (ours - go).abs().max() < 1e-4
    eager_ours = logprobs(load_model(models[name], "eager"), ids, pos)
    assert (eager_ours - eager).abs().max() < 1e-4


def test_the_trap_is_real(models, shards):
    """Without our explicit mask transformers cuts the row at its gaps:
    the logits after the first gap change. (If this ever stops failing,
    transformers dropped the inference; the guard above stays harmless.)"""
    r = gapped_row(shards)
    m = load_model(models["llama"], "sdpa")
    ids, pos = torch.tensor(r.input_ids)[None], torch.tensor(r.position_ids)[None]
    with torch.no_grad():
        naive = m(input_ids=ids, position_ids=pos).logits[0]
        h = RowLoss(m).hidden(ids, pos)
        ours = m.lm_head(h)[0]
    first_gap = int(np.argmax(np.diff(r.position_ids) != 1)) + 1
    assert (naive[:first_gap] - ours[:first_gap]).abs().max() < 1e-5
    assert (naive[first_gap:] - ours[first_gap:]).abs().max() > 1e-3


def test_chunked_loss_equals_full_cross_entropy(models, shards):
    r = gapped_row(shards)
    m = load_model(models["qwen2"], "sdpa")
    ids, pos = torch.tensor(r.input_ids)[None], torch.tensor(r.position_ids)[None]
    tg = torch.full_like(ids, -100)
    tg[0, :-1] = ids[0, 1:]
    tg[0, 5] = -100
    full = RowLoss(m, ce_chunk=10**6)(ids, pos, tg)
    full.backward()
    g_full = m.model.embed_tokens.weight.grad.clone()
    m.zero_grad()
    chunked = RowLoss(m, ce_chunk=7)(ids, pos, tg)
    chunked.backward()
    ref = torch.nn.functional.cross_entropy(m(input_ids=ids, position_ids=pos, attention_mask=torch.ones_like(ids)).logits[0], tg[0], ignore_index=-100, reduction="sum")
    assert abs(full.item() - chunked.item()) < 1e-4 * abs(full.item())
    assert abs(float(ref) - float(chunked)) < 1e-4 * abs(float(ref))
    diff = (m.model.embed_tokens.weight.grad - g_full).abs().max()
    assert diff < 1e-5 * g_full.abs().max(), (diff, g_full.abs().max())
