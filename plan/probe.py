import json
from importlib import metadata

out = {"versions": {}, "fsdp2_error": "", "cuda_devices": 0, "min_device_gib": 0.0}
for name in ("torch", "transformers", "accelerate", "flash-attn", "flash_attn"):
    try:
        out["versions"][name.replace("_", "-")] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
try:
    import torch
    try:
        from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard  # noqa: F401
    except ImportError as e:
        out["fsdp2_error"] = str(e)
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        out["cuda_devices"] = n
        out["min_device_gib"] = min(torch.cuda.get_device_properties(i).total_memory for i in range(n)) / 2**30
except ImportError as e:
    out["fsdp2_error"] = "torch: " + str(e)
print(json.dumps(out))
