"""One training stage: the loop of train.Run (Go) on a transformers model.

Reads a job JSON (see longrecipe_torch.__doc__), trains with FSDP2
full-shard (or DDP / a single process), writes metrics.jsonl, atomic
checkpoints and the final Hugging Face folder into the output folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import time
from contextlib import nullcontext

import numpy as np
import torch
import torch.distributed as dist

from . import cp as lrcp
from . import data as lrdata
from . import optim as lropt
from .model import RowLoss, full_state, load_model, pick_attention, reset_rope_buffers, targets_of

CKPT_DIR = "checkpoints"
LAYOUT = "torch-layout.json"
METRICS = "metrics.jsonl"
STATE = "state.json"
STATE_FORMAT = "longrecipe-torch-1"


class StageError(RuntimeError):
    """A failure with a one-line message for the user."""


def emit(line: str, stream=None) -> None:
    """Writes one protocol line (LRMETRIC, LRRESULT, LRRSS, LRERROR) with a
    single write call. The ranks share torchrun's stdout and stderr pipes and
    run unbuffered (python -u), where print writes the text and its newline
    separately, so two ranks' lines could interleave; one write of at most
    PIPE_BUF (4096) bytes to a pipe is atomic."""
    stream = stream or sys.stdout
    stream.write(line + "\n")
    stream.flush()

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- job

def read_job(path: str) -> dict:
    try:
        with open(path) as f:
            job = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise StageError(f"job file {path}: {e}") from None
    return normalize(job, f"job file {path}")


def normalize(job: dict, where: str = "job") -> dict:
    """Checks a job and fills in the defaults (those of longrecipe train)."""
    for k in ("from", "data", "output", "hyper"):
        if not job.get(k):
            raise StageError(f"{where}: {k!r} is required")
    h = job["hyper"]
    h.setdefault("batch", 1)
    h.setdefault("grad_accum", 1)
    h.setdefault("schedule", "constant")
    h.setdefault("warmup", 0)
    h.setdefault("min_lr", 0.0)
    h.setdefault("grad_clip", 1.0)
    h.setdefault("seed", 2027)
    h.setdefault("steps", 0)
    a = h.setdefault("adamw", {})
    for k, v in (("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8), ("weight_decay", 0.1), ("decay_all", False)):
        a.setdefault(k, v)
    la = job.setdefault("launch", {})
    for k, v in (("sharding", "fsdp"), ("precision", "auto"), ("activation_checkpointing", True),
                 ("attn_implementation", "auto"), ("ce_chunk_tokens", 4096), ("context_parallel", 1),
                 ("cpu_offload", False), ("collective_timeout_s", 1800)):
        if la.get(k) in (None, "", 0):
            la[k] = v
    if "sequence_parallel" in la:
        raise StageError(f"{where}: launch key sequence_parallel was replaced by context_parallel")
    _check_cp(la, where)
    if la["sharding"] not in ("fsdp", "ddp", "none"):
        raise StageError(f"sharding {la['sharding']!r}: want fsdp, ddp or none (DeepSpeed ZeRO-3 is not supported)")
    if la["cpu_offload"] and la["sharding"] != "fsdp":
        raise StageError(f"cpu_offload needs sharding fsdp (FSDP2 CPUOffloadPolicy), not {la['sharding']}")
    if not la["collective_timeout_s"] > 0:
        raise StageError(f"collective_timeout_s {la['collective_timeout_s']}: want > 0")
    return job


def _check_cp(la: dict, where: str) -> None:
    """Context parallelism (longrecipe_torch.cp): a positive degree that
    divides the world size, with fsdp sharding."""
    c = la["context_parallel"]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if not isinstance(c, int) or c < 1:
        raise StageError(f"{where}: context_parallel {c!r}: want a positive integer")
    if c > 1 and la["sharding"] != "fsdp":
        raise StageError(f"{where}: context_parallel {c} needs sharding fsdp, not {la['sharding']}")
    if world % c:
        raise StageError(f"{where}: context_parallel {c} does not divide the world size {world}")


# ---------------------------------------------------------------- distributed

class Dist:
    """The ranks of this run. A process group exists whenever one is needed:
    several ranks, or FSDP with one rank (FSDP2 shards over a mesh of one,
    so that cpu_offload and the bf16 MixedPrecisionPolicy apply there too).
    Every collective waits at most timeout_s (init_process_group timeout):
    a rank that stops answering fails the others instead of hanging them."""

    def __init__(self, group: bool = False, timeout_s: float = 1800.0):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() and os.environ.get("LONGRECIPE_CPU") != "1"
        self.device = torch.device("cuda", self.local) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        self.on = self.world > 1
        self.group = self.on or group
        if self.group and not dist.is_initialized():
            from datetime import timedelta

            kw = {"timeout": timedelta(seconds=timeout_s)}
            if not self.on and "MASTER_ADDR" not in os.environ:
                kw.update(store=dist.HashStore(), rank=0, world_size=1)  # one process: no rendezvous
            dist.init_process_group("nccl" if cuda else "gloo", **kw)

    def sum_(self, vals):
        t = torch.tensor(vals, dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        if self.on:
            dist.all_reduce(t)
        return t.cpu().tolist()

    def barrier(self):
        if self.on:
            dist.barrier()

    def close(self):
        if self.group and dist.is_initialized():
            dist.destroy_process_group()


def needs_group(jobs) -> bool:
    return any(j["launch"]["sharding"] == "fsdp" for j in jobs)


def wrap(model: RowLoss, job: dict, d: Dist, prec: str):
    """Shard (FSDP2, any number of ranks) or replicate (DDP) the model.
    Under fsdp, bf16 is FSDP2's MixedPrecisionPolicy (bf16 compute copies
    gathered per unit, fp32 gradient reduction, fp32 master weights and
    optimizer states) and cpu_offload its CPUOffloadPolicy. Returns the
    model and whether its parameters are sharded."""
    la = job["launch"]
    if la["activation_checkpointing"]:
        if hasattr(model.lm, "activation_checkpointing_enable"):
            model.lm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if la["sharding"] == "none":
        if d.on:
            raise StageError("sharding none needs a single process")
        return model.to(d.device), False
    if la["sharding"] == "ddp":
        if la["cpu_offload"]:
            raise StageError("cpu_offload needs sharding fsdp (FSDP2 CPUOffloadPolicy), not ddp")
        model.to(d.device)
        if not d.on:
            return model, False
        from torch.nn.parallel import DistributedDataParallel as DDP

        return DDP(model, device_ids=[d.local] if d.device.type == "cuda" else None), False
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard

    kw = {}
    if la["cpu_offload"]:
        kw["offload_policy"] = CPUOffloadPolicy(pin_memory=d.device.type == "cuda")
    if prec == "bf16":
        kw["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    # Shard while the full weights are still on the CPU (or on the meta
    # device), then move only this rank's shards (and the buffers) to its
    # device.
    for layer in model.lm.model.layers:
        fully_shard(layer, **kw)
    fully_shard(model, **kw)
    if _is_meta(model):
        load_weights(model, job["from"], d, la["cpu_offload"])
    elif not la["cpu_offload"]:
        model.to(d.device)
    return model, True


def _is_meta(model) -> bool:
    return any(p.is_meta for p in model.parameters())


def load_weights(model, folder: str, d: Dist, offload: bool) -> None:
    """Weights for a model sharded on the meta device: storage for this
    rank's shards only (on the CPU with offload), then rank 0 alone reads
    the folder and broadcasts each tensor, every rank keeping its shard —
    host memory holds one copy of the model per node, not one per rank."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    model.to_empty(device="cpu" if offload else d.device)
    full = full_state(folder, model.lm) if d.rank == 0 else {}
    set_model_state_dict(model, full, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    del full
    reset_rope_buffers(model.lm, d.device)


def layout_of(model, d: Dist, prec: str, autocast: bool) -> dict:
    """What actually runs, read back from the wrapped model (written to
    OUTPUT/torch-layout.json): sharding, mesh size, offload and mixed
    precision policies, where and in which dtype the parameters live."""
    from torch.distributed.tensor import DTensor

    params = list(model.parameters())
    dt = [p for p in params if isinstance(p, DTensor)]
    out = {"world": d.world, "device": str(d.device), "precision": prec, "autocast": autocast,
           "parameters": len(params), "sharded_parameters": len(dt),
           "parameter_dtypes": sorted({str(p.dtype) for p in params}),
           "parameter_devices": sorted({(p.to_local() if isinstance(p, DTensor) else p).device.type for p in params})}
    if dt:
        out["mesh_size"] = dt[0].device_mesh.size()
        out["placements"] = sorted({str(p.placements) for p in dt})
    state = getattr(model, "_get_fsdp_state", None)
    if state is not None:
        st = state()
        out["sharding"] = "fsdp"
        out["offload_policy"] = type(st._fsdp_param_group.offload_policy).__name__
        mp = st._mp_policy
        out["mp_policy"] = {"param_dtype": str(mp.param_dtype), "reduce_dtype": str(mp.reduce_dtype)}
    else:
        out["sharding"] = "ddp" if hasattr(model, "module") else "none"
    return out


# ---------------------------------------------------------------- checkpoints

MANIFEST = "manifest.json"


def latest_checkpoint(out: str):
    """The newest complete checkpoint (its manifest.json, written last,
    exists) and its state; (None, None) when there is none."""
    root = os.path.join(out, CKPT_DIR)
    if not os.path.isdir(root):
        return None, None
    best = None
    for name in os.listdir(root):
        if name.startswith("step-") and name[5:].isdigit():
            step = int(name[5:])
            if best is None or step > best[0]:
                best = (step, os.path.join(root, name))
    if best is None:
        return None, None
    for f in (MANIFEST, STATE):
        if not os.path.isfile(os.path.join(best[1], f)):
            raise StageError(f"checkpoint {best[1]} has no {f} (incomplete, or written by an older version): "
                             f"refusing to resume from it; delete that folder to start the stage over")
    try:
        with open(os.path.join(best[1], STATE)) as f:
            return best[1], json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise StageError(f"checkpoint {best[1]}: {STATE}: {e}") from None


def _sha256(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(8 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def _files(folder: str) -> list:
    return sorted(os.path.relpath(os.path.join(dp, f), folder) for dp, _, fs in os.walk(folder) for f in fs
                  if f != MANIFEST)


def _hash_share(folder: str, names: list, d: Dist) -> dict:
    """Every rank hashes its share of the files (names[rank::world]); the
    digests of all ranks, joined."""
    mine = {n: {"bytes": os.path.getsize(os.path.join(folder, n)), "sha256": _sha256(os.path.join(folder, n))}
            for n in names[d.rank::d.world]}
    if not d.on:
        return mine
    parts = [None] * d.world
    dist.all_gather_object(parts, mine)
    return {k: v for p in parts for k, v in p.items()}


def save_checkpoint(out, model, opt, st, d: Dist):
    """DCP checkpoint written to a temporary folder, then renamed: a kill -9
    leaves either the old or the new checkpoint, never half of one. Its
    manifest.json (bytes and SHA-256 of every file) is written last."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    root = os.path.join(out, CKPT_DIR)
    final = os.path.join(root, f"step-{st['step']:08d}")
    tmp = os.path.join(root, f".tmp-step-{st['step']:08d}")
    if d.rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    d.barrier()
    msd, osd = get_state_dict(model, opt)
    dcp.save({"model": msd, "optim": osd}, checkpoint_id=tmp)
    d.barrier()
    if d.rank == 0:
        with open(os.path.join(tmp, STATE), "w") as f:
            json.dump(st, f)
            f.flush()
            os.fsync(f.fileno())
    d.barrier()
    files = _hash_share(tmp, _files(tmp), d)
    if d.rank == 0:
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump({"format": "longrecipe-torch-checkpoint-1", "files": files}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        fd = os.open(root, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        for name in os.listdir(root):
            p = os.path.join(root, name)
            if p != final and (name.startswith("step-") or name.startswith(".tmp-")):
                shutil.rmtree(p, ignore_errors=True)
    d.barrier()


def verify_checkpoint(path: str, d: Dist) -> None:
    """Checks every file of a checkpoint against its manifest (each rank
    its share); a missing, extra, resized or changed file is a StageError
    naming it."""
    try:
        with open(os.path.join(path, MANIFEST)) as f:
            want = json.load(f)["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StageError(f"checkpoint {path}: {MANIFEST} is unreadable ({e}): refusing to resume; delete the folder to start over") from None
    have = _files(path)
    problem = ""
    if sorted(want) != have:
        extra, missing = sorted(set(have) - set(want)), sorted(set(want) - set(have))
        problem = f"files differ from its manifest (missing {missing}, extra {extra})"
    else:
        got = _hash_share(path, have, d)
        bad = [n for n in have if got[n] != want[n]]
        if bad:
            problem = f"{bad[0]} does not match its manifest checksum (damaged)"
    if problem:
        raise StageError(f"checkpoint {path}: {problem}: refusing to resume from it; delete that folder to start the stage over")


def load_checkpoint(path, model, opt):
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    msd, osd = get_state_dict(model, opt)
    sd = {"model": msd, "optim": osd}
    dcp.load(sd, checkpoint_id=path)
    set_state_dict(model, opt, model_state_dict=sd["model"], optim_state_dict=sd["optim"])


# ---------------------------------------------------------------- final folder

def save_folder(src: str, out: str, model, dtype_name: str, d: Dist):
    """Gather the full weights on rank 0 and write config.json (the input's,
    with its rope_theta / max_position_embeddings and the saved dtype),
    safetensors (sharded above 5 GB) and the tokenizer files."""
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=d.on))
    if d.rank != 0:
        return
    dt = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype_name]
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    tied = bool(cfg.get("tie_word_embeddings", False))
    tensors = {}
    for k, v in full.items():
        name = k[len("lm."):] if k.startswith("lm.") else k
        if tied and name == "lm_head.weight":
            continue
        tensors[name] = v.detach().to("cpu", dt).contiguous()
    for f in os.listdir(out):
        if f.endswith(".safetensors") or f == "model.safetensors.index.json":
            os.remove(os.path.join(out, f))
    limit = 5 * 1024 ** 3
    parts, cur, size = [], {}, 0
    for k in sorted(tensors):
        b = tensors[k].numel() * tensors[k].element_size()
        if cur and size + b > limit:
            parts.append(cur)
            cur, size = {}, 0
        cur[k], size = tensors[k], size + b
    parts.append(cur)
    meta = {"format": "pt"}
    if len(parts) == 1:
        _atomic(os.path.join(out, "model.safetensors"), lambda p: save_file(parts[0], p, metadata=meta))
    else:
        wmap = {}
        for i, part in enumerate(parts):
            name = f"model-{i + 1:05d}-of-{len(parts):05d}.safetensors"
            _atomic(os.path.join(out, name), lambda p, part=part: save_file(part, p, metadata=meta))
            wmap.update({k: name for k in part})
        total = sum(t.numel() * t.element_size() for t in tensors.values())
        _atomic_json(os.path.join(out, "model.safetensors.index.json"), {"metadata": {"total_size": total}, "weight_map": wmap})
    cfg["torch_dtype"] = dtype_name
    if "dtype" in cfg:
        cfg["dtype"] = dtype_name
    _atomic_json(os.path.join(out, "config.json"), cfg)
    for name in os.listdir(src):
        if name.startswith("tokenizer") or name in ("special_tokens_map.json", "generation_config.json", "vocab.json", "merges.txt"):
            shutil.copyfile(os.path.join(src, name), os.path.join(out, name))


def _atomic(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def _atomic_json(path, obj):
    def w(p):
        with open(p, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    _atomic(path, w)


# ---------------------------------------------------------------- loop

_stop = {"flag": False, "signal": 0}


def _on_signal(signum, frame):
    _stop["flag"] = True
    _stop["signal"] = _stop["signal"] or signum


class Interrupted(StageError):
    """The run was told to stop (SIGTERM/SIGINT) and left a checkpoint;
    the process exits 128 + the signal's number."""

    def __init__(self, msg: str, signum: int):
        super().__init__(msg)
        self.exit_code = 128 + (signum or signal.SIGTERM)


def _slow_for_tests() -> None:
    """LONGRECIPE_TEST_SLOW_ROW=S sleeps S seconds before each row (the
    tests' deliberately slow step); LONGRECIPE_TEST_RAISE_RANK=R makes rank
    R raise at its first row."""
    if os.environ.get("LONGRECIPE_TEST_RAISE_RANK") == os.environ.get("RANK", "0"):
        raise RuntimeError("test failure injected by LONGRECIPE_TEST_RAISE_RANK")
    slow = float(os.environ.get("LONGRECIPE_TEST_SLOW_ROW", "0") or 0)
    if slow > 0:
        time.sleep(slow)


def save_dtype_of(job) -> str:
    name = job.get("save_dtype") or ""
    if not name:
        with open(os.path.join(job["from"], "config.json")) as f:
            c = json.load(f)
        name = c.get("torch_dtype") or c.get("dtype") or "float32"
    alias = {"f32": "float32", "fp32": "float32", "bf16": "bfloat16", "f16": "float16", "fp16": "float16"}
    name = alias.get(name, name)
    if name not in ("float32", "bfloat16", "float16"):
        raise StageError(f"save dtype {name!r}: want float32, bfloat16 or float16")
    return name


def run(jobs) -> list:
    """Train the stages described by jobs (one dict or a list, run one
    after the other in the same process group); returns their summaries."""
    import warnings

    warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing_enable.*")
    old = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    _stop["flag"], _stop["signal"] = False, 0
    jobs = [normalize(j) for j in (jobs if isinstance(jobs, list) else [jobs])]
    d = Dist(group=needs_group(jobs), timeout_s=float(jobs[0]["launch"]["collective_timeout_s"]))
    try:
        return [_run(j, d) for j in jobs]
    finally:
        _report_rss(d)
        d.close()
        for sig, h in old.items():
            signal.signal(sig, h)


def _report_rss(d: Dist) -> None:
    """LRRSS {"rank", "peak_rss_mib"} on stdout: this rank's peak resident
    host memory (the launcher prints them together)."""
    import resource

    mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    emit("LRRSS " + json.dumps({"rank": d.rank, "peak_rss_mib": round(mib, 1)}))


def _settings(job):
    """What a resume must match (the Go trainer compares its Hyper)."""
    la = job["launch"]
    return {"hyper": job["hyper"], "precision": la["precision"], "ce_chunk_tokens": la["ce_chunk_tokens"]}


def _run(job: dict, d: Dist) -> dict:
    h, la, out = job["hyper"], job["launch"], job["output"]
    torch.manual_seed(int(h["seed"]))
    ds = lrdata.Dataset(job["data"])
    n = len(ds)
    if n == 0:
        raise StageError(f"training data {job['data']} has no rows")
    rows_per_step = h["batch"] * h["grad_accum"]
    if not h["steps"]:
        h["steps"] = (n + rows_per_step - 1) // rows_per_step
    steps = int(h["steps"])
    dtype_name = save_dtype_of(job)
    if os.path.abspath(job["from"]) == os.path.abspath(out):
        raise StageError(f"output folder {out} is the input model folder (it would be overwritten)")
    os.makedirs(out, exist_ok=True)
    sample = lrdata.fingerprint(ds)

    prec = la["precision"]
    if prec == "auto":
        prec = "bf16" if d.device.type == "cuda" else "fp32"
    attn = pick_attention(la["attn_implementation"], d.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    # FSDP: built on the meta device and loaded by rank 0 only (wrap).
    lm = load_model(job["from"], attn, meta=la["sharding"] == "fsdp")
    # Context parallelism: CP groups of consecutive ranks share a row, rows go to the dp groups.
    ring, dp_rank, dp = lrcp.mesh(d.world, d.rank, la["context_parallel"])
    if ring is not None:
        lrcp.enable(lm)
    model = RowLoss(lm, la["ce_chunk_tokens"])
    model.train()
    model, sharded = wrap(model, job, d, prec)
    # bf16 without FSDP (ddp, none): autocast over the fp32 parameters (on
    # the CPU too: bf16 operands, fp32 accumulation, like the Go trainer's
    # --precision bf16). Under FSDP the MixedPrecisionPolicy does it.
    use_autocast = prec == "bf16" and not sharded
    autocast = torch.autocast(d.device.type, dtype=torch.bfloat16) if use_autocast else nullcontext()
    if d.rank == 0:
        _atomic_json(os.path.join(out, LAYOUT), layout_of(model, d, prec, use_autocast))
    params = [p for p in model.parameters() if p.requires_grad]
    named = [(k[len("module."):] if k.startswith("module.") else k, p) for k, p in model.named_parameters()]
    named = [(k[len("lm."):] if k.startswith("lm.") else k, p) for k, p in named]
    opt = lropt.make_adamw(named, h["adamw"])

    settings = _settings(job)
    st = {"format": STATE_FORMAT, "step": 0, "tokens": 0, "elapsed_s": 0.0, "metrics_bytes": 0,
          "data_rows": n, "data_sample": sample, "settings": settings}
    ck, old = latest_checkpoint(out)
    if old is not None:
        force = bool(job.get("force"))
        if old.get("settings") != settings and not force:
            raise StageError(f"{ck} was made with other settings; use the same settings, --force to continue anyway, or another --output")
        if (old.get("data_rows") != n or old.get("data_sample") != sample) and not force:
            raise StageError(f"{ck} was made with other data ({old.get('data_rows')} rows, fingerprint {old.get('data_sample')}; now {n}, {sample}); use --force to continue anyway")
        if old["step"] > steps:
            raise StageError(f"{ck} is at step {old['step']}, beyond steps {steps}")
        verify_checkpoint(ck, d)
        load_checkpoint(ck, model, opt)
        for k in ("step", "tokens", "elapsed_s", "metrics_bytes"):
            st[k] = old[k]
        if d.rank == 0:
            log(f"train: resuming from {ck} (step {st['step']} of {steps})")
    resumed_from = st["step"]

    mpath = os.path.join(out, METRICS)
    mf = None
    if d.rank == 0:
        mf = open(mpath, "a+b")
        mf.seek(0, 2)
        if mf.tell() < st["metrics_bytes"]:
            raise StageError(f"{mpath} has {mf.tell()} bytes, the checkpoint recorded {st['metrics_bytes']}")
        mf.truncate(st["metrics_bytes"])
        mf.seek(st["metrics_bytes"])

    def checkpoint_now():
        if mf is not None:
            mf.flush()
            os.fsync(mf.fileno())
            st["metrics_bytes"] = mf.tell()
        st["metrics_bytes"] = int(d.sum_([st["metrics_bytes"] if d.rank == 0 else 0])[0])
        save_checkpoint(out, model, opt, st, d)

    every = int(job.get("checkpoint_every") or 0)

    def stop_here():
        """All ranks agree to stop (one small all-reduce): checkpoint the
        state at the start of this step (the weights are not yet updated, a
        partial step's gradients are dropped) and exit."""
        if d.sum_([1.0 if _stop["flag"] else 0.0])[0] == 0:
            return
        if last_ck != st["step"]:
            checkpoint_now()
        raise Interrupted(f"interrupted at step {st['step']} (checkpoint written; rerun the same command to resume)",
                          _stop["signal"])

    run_start, elapsed0 = time.time(), st["elapsed_s"]
    last_loss = float("nan")
    last_ck = st["step"] if old is not None else -1
    while st["step"] < steps:
        stop_here()
        t0 = time.time()
        opt.zero_grad(set_to_none=False)
        loss_sum, n_pred, n_tok = 0.0, 0, 0
        base = st["step"] * rows_per_step
        mine = list(range(dp_rank, rows_per_step, dp))
        passes = (rows_per_step + dp - 1) // dp
        for k in range(passes):
            if k > 0:
                stop_here()  # between micro-batches: a stop waits for one row, not a whole step
            _slow_for_tests()
            j = mine[k] if k < len(mine) else None
            r = ds.row((base + (j if j is not None else 0)) % n)
            tg = targets_of(r.input_ids, r.loss_mask)
            ids = torch.as_tensor(r.input_ids, device=d.device)[None]
            pos = torch.as_tensor(r.position_ids, device=d.device)[None]
            tgt = torch.as_tensor(tg, device=d.device)[None]
            if ring is not None:  # this rank's zigzag part of the row (cp.py); sums added over ranks below
                ids, pos, tgt, _ = lrcp.shard_row(ids, pos, tgt, ring)
            try:
                with autocast:
                    ls = model(ids, pos, tgt, ring)
                (ls * (1.0 if j is not None else 0.0)).backward()
            except torch.OutOfMemoryError:
                raise StageError(f"CUDA out of memory on a row of {len(r.input_ids)} tokens (step {st['step'] + 1}): "
                                 f"lower ce_chunk_tokens (now {la['ce_chunk_tokens']}), keep activation_checkpointing on, "
                                 f"add GPUs (nproc) for FSDP, set cpu_offload or context_parallel, or prepare rows with a smaller --train-length; "
                                 f"run `longrecipe plan` for the memory estimate") from None
            if j is not None:
                loss_sum += float(ls.detach())
                if ring is None or ring.index == 0:  # a row's counts once per CP group
                    n_pred += int((tg != -100).sum())
                    n_tok += len(r.input_ids)
        loss_sum, n_pred, n_tok = d.sum_([loss_sum, n_pred, n_tok])
        n_pred, n_tok = int(n_pred), int(n_tok)
        if n_pred == 0:
            raise StageError(f"step {st['step'] + 1}: no predicted tokens in its {rows_per_step} rows (all masked or one token long)")
        # Gradients are averaged over ranks by FSDP/DDP: undo, then divide
        # by the step's predicted tokens, as the Go trainer does.
        lropt.scale_grads(params, d.world / n_pred)
        loss = loss_sum / n_pred
        norm = lropt.clip_(params, float(h["grad_clip"]), sharded)
        if not math.isfinite(loss) or not math.isfinite(norm):
            where = f"the last good checkpoint is step {last_ck}" if last_ck >= 0 else "no checkpoint was written yet"
            raise StageError(f"step {st['step'] + 1}: loss {loss}, gradient norm {norm}: stopped before updating the weights; {where}")
        lr = lropt.schedule_at(h["schedule"], h["lr"], h["warmup"], h["min_lr"], steps, st["step"])
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        st["step"] += 1
        st["tokens"] += n_tok
        dt = time.time() - t0
        st["elapsed_s"] = elapsed0 + time.time() - run_start
        last_loss = loss
        m = {"step": st["step"], "loss": loss, "lr": lr, "grad_norm": norm, "tokens": n_tok, "predicted": n_pred,
             "tokens_per_s": n_tok / dt if dt > 0 else 0.0, "elapsed_s": st["elapsed_s"]}
        if mf is not None:
            mf.write((json.dumps(m) + "\n").encode())
            mf.flush()
            emit("LRMETRIC " + json.dumps({**m, "total_steps": steps}))
        if st["step"] == steps or (every > 0 and st["step"] % every == 0):
            checkpoint_now()
            last_ck = st["step"]
    if last_ck != st["step"]:
        checkpoint_now()
    save_folder(job["from"], out, model, dtype_name, d)
    if mf is not None:
        mf.close()
    d.barrier()
    res = {"resumed_from": resumed_from, "steps": st["step"], "last_loss": last_loss if math.isfinite(last_loss) else None, "tokens": st["tokens"],
           "elapsed_s": st["elapsed_s"]}
    if d.rank == 0:
        emit("LRRESULT " + json.dumps(res))
    return res
