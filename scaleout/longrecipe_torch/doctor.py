"""Versions of the Python side, for `longrecipe doctor` (printed as JSON)."""

import importlib
import importlib.metadata as md
import sys


def _ver(pkg):
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def report() -> dict:
    r = {"python": sys.version.split()[0]}
    for pkg in ("torch", "transformers", "accelerate", "deepspeed", "flash-attn", "ring-flash-attn", "safetensors", "pyarrow"):
        r[pkg] = _ver(pkg)
    try:
        torch = importlib.import_module("torch")
        r["cuda"] = bool(torch.cuda.is_available())
        r["cuda_version"] = torch.version.cuda
        r["devices"] = torch.cuda.device_count() if r["cuda"] else 0
        r["device_names"] = [torch.cuda.get_device_name(i) for i in range(r["devices"])]
    except Exception as e:  # torch missing or broken
        r["torch_error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
    return r
