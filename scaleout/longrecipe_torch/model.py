"""Model loading and the loss of one row, with one causal span per row.

The trap this module closes: transformers infers *packed sequences* from
position_ids when no attention mask is given (masking_utils.
find_packed_sequence_indices for sdpa/eager, _is_packed_sequence for
flash_attention_2). LongRecipe/PoSE rows have gaps in their position ids by
design, so a gapped row would be cut into several causal blocks. We always
pass an explicit all-ones 2-D attention mask (sdpa/eager: one causal span,
no packed detection) and, for flash_attention_2, explicit varlen lengths
cu_seq_lens = [0, n] (one span whatever the positions).

Cross-entropy is computed in chunks of ``ce_chunk`` tokens from the final
hidden states: each chunk's LM head + log-softmax is recomputed in the
backward pass (torch.utils.checkpoint), so full [n, vocab] logits never
exist at once.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

SUPPORTED = ("llama", "mistral", "qwen2")


def pick_attention(requested: str, device: torch.device) -> str:
    """'auto' → flash_attention_2 on CUDA when flash_attn is importable,
    else sdpa."""
    if requested and requested != "auto":
        if requested == "flash_attention_2" and device.type != "cuda":
            raise ValueError("attn_implementation flash_attention_2 needs a CUDA device; use sdpa or eager on CPU")
        if requested == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
            raise ValueError("attn_implementation flash_attention_2: flash-attn is not installed (pip install flash-attn --no-build-isolation), or use sdpa")
        return requested
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def load_model(folder: str, attn: str, dtype=torch.float32, meta: bool = False):
    """AutoModelForCausalLM from a llama/mistral/qwen2 folder, weights in
    `dtype` (fp32 master weights). meta: the model's structure only, on the
    meta device (no memory; the weights come later, see full_state)."""
    import json
    import os

    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bar per rank would garble the launcher's log

    cfg_path = os.path.join(folder, "config.json")
    try:
        with open(cfg_path) as f:
            mt = json.load(f).get("model_type")
    except OSError as e:
        raise ValueError(f"model folder {folder}: {e}") from None
    if mt not in SUPPORTED:
        raise ValueError(f"{cfg_path}: model_type {mt!r} is not supported (want one of {', '.join(SUPPORTED)})")
    if meta:
        from transformers import AutoConfig

        cfg = AutoConfig.from_pretrained(folder)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation=attn)
    else:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, attn_implementation=attn)
    model.config.use_cache = False
    return model


def full_state(folder: str, lm, prefix: str = "lm.") -> dict:
    """The folder's weights as fp32 CPU tensors under the model's own names
    (prefix + the checkpoint's), one safetensors file at a time; a tied LM
    head gets the embedding's tensor. Names the first tensor the model has
    and the folder lacks."""
    import glob
    import os

    from safetensors.torch import load_file

    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    if not files:
        raise ValueError(f"model folder {folder}: no *.safetensors file")
    out = {}
    for f in files:
        for k, v in load_file(f).items():
            out[prefix + k] = v.float()
    want = set(lm.state_dict(keep_vars=True))
    want = {prefix + k for k in want}
    head, emb = prefix + "lm_head.weight", prefix + "model.embed_tokens.weight"
    if head in want and head not in out and getattr(lm.config, "tie_word_embeddings", False) and emb in out:
        out[head] = out[emb]
    missing = sorted(want - set(out))
    if missing:
        raise ValueError(f"model folder {folder}: no tensor {missing[0][len(prefix):]} in its safetensors ({len(missing)} missing)")
    return {k: out[k] for k in want}


def reset_rope_buffers(lm, device) -> None:
    """Recomputes the rotary embeddings' non-persistent buffers (inv_freq),
    which a model built on the meta device and moved with to_empty holds
    as garbage, on `device` (the compute device, also under offload)."""
    for mod in lm.modules():
        if hasattr(mod, "inv_freq") and hasattr(mod, "config"):
            fresh = type(mod)(mod.config)
            for name, b in fresh.named_buffers(recurse=False):
                mod._buffers[name] = b.to(device)
            if hasattr(fresh, "attention_scaling"):
                mod.attention_scaling = fresh.attention_scaling


class RowLoss(torch.nn.Module):
    """Wraps a causal LM: forward(ids, pos, targets) returns the summed
    next-token NLL of one row (batch 1). targets[t] is the id predicted at
    t, or -100. Being a module of its own lets FSDP shard the whole LM under
    one root whose hooks cover the chunked LM head."""

    def __init__(self, lm, ce_chunk: int = 4096):
        super().__init__()
        self.lm = lm
        self.ce_chunk = max(1, int(ce_chunk))

    def hidden(self, ids: torch.Tensor, pos: torch.Tensor, ring=None) -> torch.Tensor:
        if ring is not None:  # context parallel: this rank's part of the row (longrecipe_torch.cp)
            return self.lm.model(input_ids=ids, position_ids=pos, use_cache=False, cp_ring=ring).last_hidden_state
        n = ids.shape[1]
        mask = torch.ones_like(ids)
        kw = {}
        if getattr(self.lm.config, "_attn_implementation", "") == "flash_attention_2":
            cu = torch.tensor([0, n], dtype=torch.int32, device=ids.device)
            kw = dict(cu_seq_lens_q=cu, cu_seq_lens_k=cu, max_length_q=n, max_length_k=n)
            mask = None  # explicit varlen lengths instead (one span)
        out = self.lm.model(input_ids=ids, position_ids=pos, attention_mask=mask, use_cache=False, **kw)
        return out.last_hidden_state

    def forward(self, ids: torch.Tensor, pos: torch.Tensor, targets: torch.Tensor, ring=None) -> torch.Tensor:
        h = self.hidden(ids, pos, ring)[0]
        head = self.lm.lm_head
        total = h.new_zeros((), dtype=torch.float32)
        n = h.shape[0]
        for s in range(0, n, self.ce_chunk):
            e = min(n, s + self.ce_chunk)
            tg = targets[0, s:e]
            if bool((tg == -100).all()):
                continue
            total = total + checkpoint(_chunk_nll, h[s:e], head.weight, tg, use_reentrant=False)
        if ring is not None and total.grad_fn is None:
            # No target in this rank's part of the row: its backward must still
            # run through every parameter (LM head included), as the ring's
            # backward and FSDP's gradient reductions need every rank.
            total = total + 0.0 * (h.sum() + head.weight.sum())
        return total


def _chunk_nll(h: torch.Tensor, w: torch.Tensor, tg: torch.Tensor) -> torch.Tensor:
    logits = F.linear(h, w).float()
    return F.cross_entropy(logits, tg, ignore_index=-100, reduction="sum")


def targets_of(ids, mask):
    """Per-input-position targets: ids[t+1] where token t+1 is predicted
    (mask None or mask[t+1]), else -100; the last position predicts nothing."""
    import numpy as np

    n = len(ids)
    tg = np.full(n, -100, dtype=np.int64)
    if n > 1:
        tg[:-1] = ids[1:]
        if mask is not None:
            tg[:-1][~mask[1:]] = -100
    return tg


def logprobs(model, ids, pos) -> torch.Tensor:
    """log p(x[t+1] | x[..t]) for one row through RowLoss.hidden (the
    training path): n-1 values in float32."""
    rl = model if isinstance(model, RowLoss) else RowLoss(model)
    with torch.no_grad():
        ids_t = torch.as_tensor(ids, dtype=torch.long)[None]
        pos_t = torch.as_tensor(pos, dtype=torch.long)[None]
        h = rl.hidden(ids_t, pos_t)[0]
        lp = torch.log_softmax(rl.lm.lm_head(h).float(), dim=-1)
        return lp[:-1].gather(1, ids_t[0, 1:, None])[:, 0]
