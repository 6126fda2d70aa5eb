"""FSDP2 as the layout says, and safe stops and resumes, on the CPU (gloo).

* one rank and two ranks with cpu_offload: every parameter is a DTensor
  sharded over the mesh with FSDP2's CPUOffloadPolicy (read back from the
  wrapped model into torch-layout.json), and 5 steps equal the Go trainer;
* kill -9 of two ranks resumes to bit-identical weights; 2 -> 1 and 1 -> 2
  rank resumes continue the same run (DCP resharding);
* SIGTERM to the launcher during a slow step leaves a checkpoint, exit 143;
* a rank that raises is reported as (rank, error) within 10 s;
* a damaged checkpoint is refused in one line naming the file.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import GO_FLAGS, ROOT
from longrecipe_torch import trainer
from test_parity import compare, job, metrics, weights

PYENV = {"LONGRECIPE_ROOT": ROOT, "LONGRECIPE_PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}


def layout(out):
    with open(os.path.join(out, trainer.LAYOUT)) as f:
        return json.load(f)


def assert_offloaded(out, world):
    lay = layout(out)
    assert lay["sharding"] == "fsdp" and lay["world"] == world and lay["mesh_size"] == world, lay
    assert lay["offload_policy"] == "CPUOffloadPolicy", lay
    assert lay["sharded_parameters"] == lay["parameters"] > 0, lay
    assert lay["parameter_devices"] == ["cpu"] and lay["parameter_dtypes"] == ["torch.float32"], lay


def launch_file(work, name, **kw):
    p = str(work / f"{name}.json")
    with open(p, "w") as f:
        json.dump({"attn_implementation": "sdpa", **kw}, f)
    return p


def go_train(lr, model, shards, out, *extra, env=None, **popen):
    cmd = [lr, "train", "--backend", "torch", "--model", model, "--data", shards, "--output", out, *GO_FLAGS, *extra]
    return subprocess.Popen(cmd, env={**os.environ, **PYENV, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def finish(p, timeout=600):
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


@pytest.fixture(scope="session")
def offload1(models, shards, work):
    o = str(work / "off1")
    trainer.run(job(models["llama"], shards, o, cpu_offload=True))
    return o


@pytest.fixture(scope="session")
def offload2(lr, models, shards, work):
    o = str(work / "off2")
    cfg = launch_file(work, "off2", cpu_offload=True)
    rc, out, err = finish(go_train(lr, models["llama"], shards, o, "--nproc", "2", "--launch-config", cfg))
    assert rc == 0, err[-3000:]
    return o


def test_one_rank_offload_equals_go(go_runs, offload1):
    assert_offloaded(offload1, 1)
    compare(go_runs["llama"], offload1, "go vs torch x1 fsdp offload")


def test_two_ranks_offload_equal_go(go_runs, offload2):
    assert_offloaded(offload2, 2)
    compare(go_runs["llama"], offload2, "go vs torch x2 fsdp offload")


def torchrun(j, work, name, nproc, slow=0.0):
    """Starts nproc ranks on job j directly under torchrun, in a session of
    their own (so that the whole group can be killed)."""
    path = str(work / f"{name}-job.json")
    with open(path, "w") as f:
        json.dump(j, f)
    env = {**os.environ, **PYENV, "PYTHONPATH": os.path.join(ROOT, "scaleout"), "LONGRECIPE_TEST_SLOW_ROW": str(slow)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port", str(free_port()),
           "-m", "longrecipe_torch", "train", "--job", path]
    if nproc == 1:
        cmd = [sys.executable, "-m", "longrecipe_torch", "train", "--job", path]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_steps(out, n, p, timeout=300):
    path = os.path.join(out, "metrics.jsonl")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and len(open(path).read().splitlines()) >= n:
            return
        assert p.poll() is None, p.communicate()[1][-3000:]
        time.sleep(0.02)
    raise AssertionError(f"{out}: fewer than {n} steps in {timeout} s")


@pytest.fixture(scope="session")
def killed2(models, shards, work):
    """Two ranks with a checkpoint every step, killed with SIGKILL (the
    whole group) after their third step."""
    o = str(work / "killed2")
    j = job(models["llama"], shards, o, cpu_offload=True)
    j["checkpoint_every"] = 1
    p = torchrun(j, work, "killed2", 2, slow=1.0)
    wait_steps(o, 3, p)
    kill9(p)
    assert not os.path.exists(os.path.join(o, "model.safetensors"))
    return o, j


def kill9(p):
    """SIGKILL to torchrun's group and to its ranks (each in a session of
    its own), as when a machine goes away."""
    kids = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == p.pid:
                    kids.append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    for k in kids:
        os.kill(k, signal.SIGKILL)
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate()


def resume(src, j, work, name, nproc):
    o = str(work / name)
    shutil.copytree(src, o)
    j = {**j, "output": o}
    p = torchrun(j, work, name, nproc)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    res = json.loads(out.split("LRRESULT ", 1)[1].splitlines()[0])
    assert 2 <= res["resumed_from"] < 5, res
    return o


def test_kill9_two_ranks_resumes_bit_identical(killed2, offload2, work):
    src, j = killed2
    o = resume(src, j, work, "resume22", 2)
    compare(offload2, o, "kill -9 x2 resumed x2 vs uninterrupted x2")
    wa, wb = weights(offload2), weights(o)
    assert max(float(np.abs(wa[k] - wb[k]).max()) for k in wa) == 0.0


def test_two_to_one_rank_resume_continues(killed2, go_runs, work):
    src, j = killed2
    o = resume(src, j, work, "resume21", 1)
    assert_offloaded(o, 1)
    compare(go_runs["llama"], o, "kill -9 x2 resumed x1 vs go")


def test_one_to_two_rank_resume_continues(models, shards, go_runs, work):
    o = str(work / "killed1")
    j = job(models["llama"], shards, o, cpu_offload=True)
    j["checkpoint_every"] = 1
    p = torchrun(j, work, "killed1", 1, slow=0.5)
    wait_steps(o, 3, p)
    kill9(p)
    o2 = resume(o, j, work, "resume12", 2)
    assert_offloaded(o2, 2)
    compare(go_runs["llama"], o2, "kill -9 x1 resumed x2 vs go")


def test_sigterm_checkpoints_and_exits_143(lr, models, shards, work):
    """SIGTERM to longrecipe while the ranks sit in a slow row (a step of 2
    rows at 1.5 s each): they stop at the next micro-batch, write the
    checkpoint of the step they are in and exit; longrecipe exits 143."""
    o = str(work / "sigterm")
    p = go_train(lr, models["llama"], shards, o, "--nproc", "2", env={"LONGRECIPE_TEST_SLOW_ROW": "1.5"})
    wait_steps(o, 1, p)
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    rc, out, err = finish(p, timeout=120)
    assert rc == 143, (rc, err[-3000:])
    assert time.time() - t0 < 60
    ck, st = trainer.latest_checkpoint(o)
    assert ck is not None and st["step"] >= 1, err[-2000:]
    assert len(metrics(o)) == st["step"]
    assert "interrupted" in err


def test_failing_rank_is_reported_within_10s(lr, models, shards, work):
    """Rank 1 raises before its first row while rank 0 waits for it in a
    collective: longrecipe exits 1 with rank 1's error within 10 s of the
    error's line (not after the collective timeout)."""
    o = str(work / "raise")
    p = go_train(lr, models["llama"], shards, o, "--nproc", "2", env={"LONGRECIPE_TEST_RAISE_RANK": "1"})
    seen, lines = None, []
    for line in p.stderr:
        lines.append(line)
        if seen is None and "LRERROR" in line:
            seen = time.time()
    p.wait(timeout=60)
    end = time.time()
    err = "".join(lines)
    assert p.returncode == 1, err[-3000:]
    assert "rank=1: RuntimeError: test failure injected" in err.strip().splitlines()[-1], err[-3000:]
    assert seen is not None and end - seen < 10, (end - seen, err[-3000:])


def test_damaged_checkpoint_is_one_line(lr, killed2, work):
    src, j = killed2
    o = str(work / "damaged")
    shutil.copytree(src, o)
    ck, _ = trainer.latest_checkpoint(o)
    shard = sorted(f for f in os.listdir(ck) if f.endswith(".distcp"))[0]
    with open(os.path.join(ck, shard), "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0x40]))
    j = {**j, "output": o}
    p = torchrun(j, work, "damaged", 2)
    out, err = p.communicate(timeout=300)
    assert p.returncode != 0
    lines = [ln for ln in err.splitlines() if "LRERROR" in ln]
    assert lines and f"{shard} does not match its manifest checksum" in lines[0], err[-3000:]


def test_bf16_is_fsdp_mixed_precision(models, shards, work, offload1):
    """bf16 under fsdp: FSDP2's MixedPrecisionPolicy (bf16 compute, fp32
    reduction) over fp32 master weights, no autocast; every step's loss
    within bf16's tolerance of the fp32 run's."""
    o = str(work / "bf16")
    trainer.run(job(models["llama"], shards, o, cpu_offload=True, precision="bf16"))
    lay = layout(o)
    assert lay["mp_policy"] == {"param_dtype": "torch.bfloat16", "reduce_dtype": "torch.float32"}, lay
    assert lay["parameter_dtypes"] == ["torch.float32"] and not lay["autocast"], lay
    for a, b in zip(metrics(offload1), metrics(o)):
        assert abs(a["loss"] - b["loss"]) <= 2e-2 * abs(a["loss"]), (a, b)
    w32, w16 = weights(offload1), weights(o)
    assert max(float(np.abs(w32[k] - w16[k]).max()) for k in w32) > 0, "bf16 ran in fp32"


def test_binary_outside_the_clone_trains(lr, models, shards, go_runs, work):
    """The binary, run from a folder outside the clone with no
    LONGRECIPE_ROOT, unpacks its embedded Python side into the cache and
    trains with it."""
    cache, elsewhere = work / "cache-outside", work / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("LONGRECIPE_ROOT", "PYTHONPATH")}
    env.update(LONGRECIPE_CACHE=str(cache), LONGRECIPE_PYTHON=sys.executable, OMP_NUM_THREADS="1")
    o = str(work / "outside")
    cmd = [lr, "train", "--backend", "torch", "--model", models["llama"], "--data", shards, "--output", o, *GO_FLAGS]
    p = subprocess.run(cmd, env=env, cwd=str(elsewhere), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    unpacked = [d for d in os.listdir(cache) if d.startswith("scaleout-")]
    assert len(unpacked) == 1 and os.path.isfile(os.path.join(cache, unpacked[0], "longrecipe_torch", "trainer.py"))
    compare(go_runs["llama"], o, "binary outside the clone vs go")


def test_gpu_check_dry_run(lr):
    """The GPU check's --dry-run on the CPU: both layouts train, plan is
    asked for each, and the gapped-row check passes while its negative
    control (the unguarded call) fails it."""
    env = {**os.environ, **PYENV, "PYTHONPATH": os.path.join(ROOT, "scaleout")}
    p = subprocess.run([sys.executable, "-m", "longrecipe_torch.gpu_check", "--dry-run", "--longrecipe", lr],
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "gpu_check: PASS" in p.stdout, p.stdout[-3000:] + p.stderr[-2000:]
    par = [ln for ln in p.stdout.splitlines() if ln.strip().startswith("parity:")][0]
    vals = json.loads(par.split(":", 1)[1].strip().replace("'", '"'))
    assert vals["guarded_mean_abs"] < vals["tolerance"] <= vals["unguarded_mean_abs"], vals
    assert "'offload_policy': 'CPUOffloadPolicy'" in p.stdout and "'plan_allocated_bytes': None" not in p.stdout
