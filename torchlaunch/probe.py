# What a Python environment offers the torch backend, as one JSON line
# (torchlaunch.Env). It never fails: a missing package is left out of
# "versions", a torch that does not import is "torch_error".
import json
import sys
from importlib import metadata

out = {
    "python": sys.version.split()[0],
    "versions": {},
    "torch_error": "",
    "fsdp2_error": "",
    "cuda": False,
    "cuda_version": "",
    "cuda_devices": 0,
    "device_names": [],
    "min_device_gib": 0.0,
}
for name in ("torch", "transformers", "accelerate", "deepspeed", "flash-attn", "ring-flash-attn", "safetensors", "pyarrow"):
    for dist in (name, name.replace("-", "_")):
        try:
            out["versions"][name] = metadata.version(dist)
            break
        except Exception:
            pass
try:
    import torch

    out["cuda"] = torch.cuda.is_available()
    out["cuda_version"] = torch.version.cuda or ""
    if out["cuda"]:
        n = torch.cuda.device_count()
        out["cuda_devices"] = n
        out["device_names"] = [torch.cuda.get_device_name(i) for i in range(n)]
        out["min_device_gib"] = min(torch.cuda.get_device_properties(i).total_memory for i in range(n)) / 2**30
    try:
        from torch.distributed.fsdp import CPUOffloadPolicy, fully_shard  # noqa: F401
    except ImportError as e:
        out["fsdp2_error"] = str(e)
except Exception as e:
    msg = (str(e).splitlines() or [type(e).__name__])[0]
    out["torch_error"] = msg
    out["fsdp2_error"] = "torch: " + msg
print(json.dumps(out))
