"""Measures the CPU memory of one training step of a tiny Llama, the way the
torch backend (scaleout/longrecipe_torch) trains: every decoder layer
checkpointed (transformers gradient checkpointing, non-reentrant), SDPA
attention, the LM head + cross-entropy computed ce_chunk tokens at a time and
recomputed in backward, AdamW.

Usage: python measure_step.py '{"config": {...LlamaConfig kwargs...},
       "tokens": 2048, "precision": "fp32"|"bf16", "ce_chunk": 512}'

precision "bf16" is autocast(bfloat16) over fp32 parameters (the backend's
"bf16" on CUDA, run here on the CPU). Prints one JSON object, bytes:
  params, grads, optimizer   -- counted from the tensors after a step (exact)
  peak_fwd_bwd               -- MemTracker peak over forward+backward of the
                                second step (optimizer states present, grads
                                freed by zero_grad), all categories
  peak_activations           -- peak of (activation + temp) over the same span
"""
import json
import sys

import torch
import torch.nn.functional as F
from torch.distributed._tools.mem_tracker import MemTracker
from torch.utils.checkpoint import checkpoint
from transformers import LlamaConfig, LlamaForCausalLM


def chunk_nll(h, w, tg):
    logits = F.linear(h, w).float()
    return F.cross_entropy(logits, tg, reduction="sum")


def loss_of(model, ids, pos, chunk):
    h = model.model(input_ids=ids, position_ids=pos, attention_mask=torch.ones_like(ids), use_cache=False).last_hidden_state[0]
    tg = torch.roll(ids[0], -1)
    total = h.new_zeros((), dtype=torch.float32)
    for s in range(0, h.shape[0], chunk):
        e = min(h.shape[0], s + chunk)
        total = total + checkpoint(chunk_nll, h[s:e], model.lm_head.weight, tg[s:e], use_reentrant=False)
    return total


def main():
    args = json.loads(sys.argv[1])
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = LlamaConfig(**args["config"], attn_implementation="sdpa", use_cache=False)
    model = LlamaForCausalLM(cfg)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=False)
    n = args["tokens"]
    ids = torch.randint(0, cfg.vocab_size, (1, n))
    # LongRecipe-like gapped positions: strictly increasing, spanning 3.3 n.
    pos = torch.sort(torch.randperm(int(3.3 * n))[:n]).values[None]
    amp = args["precision"] == "bf16"

    def fwd_bwd():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = loss_of(model, ids, pos, args["ce_chunk"])
        loss.backward()

    fwd_bwd()
    opt.step()
    opt.zero_grad(set_to_none=True)
    mt = MemTracker()
    mt.track_external(model, opt)
    with mt:
        fwd_bwd()
    peak = mt.get_tracker_snapshot("peak")[torch.device("cpu")]
    cats = {str(k).split(".")[-1].lower(): v for k, v in peak.items()}
    nbytes = lambda ts: sum(t.numel() * t.element_size() for t in ts)
    out = {
        "params": nbytes(model.parameters()),
        "grads": nbytes(p.grad for p in model.parameters() if p.grad is not None),
        "optimizer": nbytes(v for st in opt.state.values() for v in st.values() if torch.is_tensor(v) and v.dim() > 0),
        "peak_fwd_bwd": cats.get("total", 0),
        "peak_categories": cats,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
