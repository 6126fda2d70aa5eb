"""FSDP2 memory of the torch backend's step, per rank, on the CPU (gloo).

torchrun --nproc-per-node 2 fsdp_mem.py TOKENS [fp32|bf16]: a tiny Llama (4 layers, h 256),
fully_shard on every decoder layer and on the root (as
scaleout/longrecipe_torch/trainer.py wraps), fp32, checkpointed layers,
SDPA, cross-entropy in chunks of 256 tokens, AdamW (foreach=False), in fp32
or bf16 through FSDP2's MixedPrecisionPolicy(param_dtype=bf16,
reduce_dtype=fp32) over fp32 master weights (as the backend does); the
second step is tracked with torch.distributed._tools.fsdp2_mem_tracker.
Prints one JSON line per rank: P, layer and root parameter counts, and the
peak by FSDPMemTracker category (bytes)."""
import json, sys, warnings
warnings.filterwarnings("ignore")
import torch, torch.distributed as dist
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed._tools.fsdp2_mem_tracker import FSDPMemTracker
from transformers import LlamaConfig, LlamaForCausalLM

dist.init_process_group("gloo")
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=2000, hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
                  num_key_value_heads=4, max_position_embeddings=16384, attn_implementation="sdpa", use_cache=False)

class Row(torch.nn.Module):
    def __init__(self, lm):
        super().__init__(); self.lm = lm
    def forward(self, ids, pos):
        h = self.lm.model(input_ids=ids, position_ids=pos, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
        tg = torch.roll(ids[0], -1); tot = h.new_zeros(())
        for s in range(0, h.shape[0], 256):
            tot = tot + checkpoint(lambda a, w, t: F.cross_entropy(F.linear(a, w).float(), t, reduction="sum"), h[s:s+256], self.lm.lm_head.weight, tg[s:s+256], use_reentrant=False)
        return tot

lm = LlamaForCausalLM(cfg)
lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
P = sum(p.numel() for p in lm.parameters())
layer = sum(p.numel() for p in lm.model.layers[0].parameters())
m = Row(lm)
kw = {}
if len(sys.argv) > 2 and sys.argv[2] == "bf16":
    kw["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
for l in lm.model.layers:
    fully_shard(l, **kw)
fully_shard(m, **kw)
opt = torch.optim.AdamW(m.parameters(), lr=1e-4, foreach=False)
T = int(sys.argv[1])
ids = torch.randint(0, 2000, (1, T)); pos = torch.arange(T)[None]
m(ids, pos).backward(); opt.step(); opt.zero_grad(set_to_none=False)
mt = FSDPMemTracker(m, opt); mt.track_inputs((ids, pos))
with mt:
    m(ids, pos).backward(); opt.step(); opt.zero_grad(set_to_none=False)
pk = mt.get_tracker_snapshot("peak")[torch.device("cpu")]
root = P - len(lm.model.layers) * layer
out = {"rank": dist.get_rank(), "P": P, "layer": layer, "root": root, "peak": {str(k).split(".")[-1]: v for k, v in pk.items()}}
print(json.dumps(out), flush=True)
dist.destroy_process_group()
