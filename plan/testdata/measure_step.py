"""Measures the CPU memory of one training step of a tiny Llama, the way the
torch backend (scaleout/longrecipe_torch) trains: every decoder layer
checkpointed (transformers gradient checkpointing, non-reentrant), SDPA
attention, the LM head + cross-entropy computed ce_chunk tokens at a time and
recomputed in backward, AdamW.

Usage: python measure_step.py '[{"config": {...LlamaConfig kwargs...},
       "tokens": 2048, "precision": "fp32"|"bf16", "ce_chunk": 512,
       "autocast_cache": false}, ...]'

precision "bf16" is autocast(bfloat16) over fp32 parameters (the backend's
"bf16" on CUDA, run here on the CPU), with autocast's weight cache on or off
as autocast_cache says (torch's default, and the backend's today, is on).
Prints one JSON line per case, bytes:
  params, grads, optimizer   -- counted from the tensors after a step (exact)
  peak_fwd_bwd               -- MemTracker peak over forward+backward of a
                                second step, each parameter gradient dropped
                                as soon as it is accumulated (so the peak is
                                the activations'), all categories
  peak_categories            -- that peak by MemTracker category (act + temp
                                are the activations)
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
    torch.set_num_threads(1)
    for case in json.loads(sys.argv[1]):
        print(json.dumps(measure(case)), flush=True)


def measure(args):
    torch.manual_seed(0)
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
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp, cache_enabled=bool(args.get("autocast_cache"))):
            loss = loss_of(model, ids, pos, args["ce_chunk"])
        loss.backward()

    fwd_bwd()  # untracked: the gradients and, after a step, m and v to count
    opt.step()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    opt.zero_grad(set_to_none=True)
    # Drop every parameter gradient as soon as it is accumulated, so that the
    # tracked peak is the activations' own (as under FSDP, where a GPU keeps
    # only its gradient shard), not where the full gradients happen to peak.
    hooks = [p.register_post_accumulate_grad_hook(lambda p: setattr(p, "grad", None)) for p in model.parameters()]
    mt = MemTracker()
    mt.track_external(model, opt)
    with mt:
        fwd_bwd()
    for h in hooks:
        h.remove()
    peak = mt.get_tracker_snapshot("peak")[torch.device("cpu")]
    cats = {str(k).split(".")[-1].lower(): v for k, v in peak.items()}
    nbytes = lambda ts: sum(t.numel() * t.element_size() for t in ts)
    return {
        "params": nbytes(model.parameters()),
        "grads": nbytes(grads),
        "optimizer": nbytes(v for st in opt.state.values() for v in st.values() if torch.is_tensor(v) and v.dim() > 0),
        "peak_fwd_bwd": cats.get("total", 0),
        "peak_categories": cats,
    }


if __name__ == "__main__":
    main()
