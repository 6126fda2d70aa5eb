"""Proof of equality: the Go trainer and the torch backend (one process,
and two processes with FSDP over gloo) train the same tiny Llama and Qwen2
on the same LongRecipe shard folder for 5 steps: every step's loss within
1e-4 relative, the final weights within 1e-4 max abs. Also: a kill -9 in
the middle of a torch run resumes to the same weights."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from conftest import GO_FLAGS, ROOT, run
from longrecipe_torch import data, trainer

HYPER = {"steps": 5, "batch": 1, "grad_accum": 2, "schedule": "cosine", "lr": 1e-2, "warmup": 1, "min_lr": 1e-3,
         "grad_clip": 1.0, "seed": 2027, "adamw": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}}

def metrics(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def weights(out):
    w = {}
    for f in sorted(glob.glob(os.path.join(out, "*.safetensors"))):
        w.update(load_file(f))
    return w


def job(model, shards, out, **kw):
    return {"from": model, "data": shards, "output": out, "checkpoint_every": 2, "hyper": json.loads(json.dumps(HYPER)),
            "launch": {"attn_implementation": "sdpa", **kw}}


def compare(a, b, what):
    ma, mb = metrics(a), metrics(b)
    assert [m["step"] for m in ma] == [m["step"] for m in mb] == [1, 2, 3, 4, 5], what
    for x, y in zip(ma, mb):
        assert abs(x["loss"] - y["loss"]) <= 1e-4 * abs(x["loss"]), (what, x, y)
        assert abs(x["grad_norm"] - y["grad_norm"]) <= 1e-4 * abs(x["grad_norm"]) + 1e-6, (what, x, y)
        assert (x["lr"], x["tokens"], x["predicted"]) == pytest.approx((y["lr"], y["tokens"], y["predicted"])), what
    wa, wb = weights(a), weights(b)
    assert sorted(wa) == sorted(wb), what
    worst = max(float(np.abs(wa[k].astype(np.float64) - wb[k]).max()) for k in wa)
    assert worst <= 1e-4, (what, worst)
    moved = max(float(np.abs(wa[k].astype(np.float64) - w0).max()) for k, w0 in wa.items())
    return worst, moved


@pytest.fixture(scope="session")
def torch1_runs(models, shards, work):
    out = {}
    for name, m in models.items():
        o = str(work / f"t1-{name}")
        trainer.run(job(m, shards, o))
        out[name] = o
    return out


@pytest.mark.parametrize("name", ["llama", "qwen2"])
def test_one_process_equals_go(name, go_runs, torch1_runs, models):
    compare(go_runs[name], torch1_runs[name], f"{name} go vs torch x1")
    w0 = weights(models[name])
    w1 = weights(torch1_runs[name])
    assert max(float(np.abs(w1[k] - w0[k]).max()) for k in w0) > 1e-3, "training should move the weights"


def test_fingerprint_equals_go(go_runs, shards):
    st = glob.glob(os.path.join(go_runs["llama"], "checkpoints", "*", "state.json"))
    assert st, "no Go checkpoint state"
    with open(st[0]) as f:
        go = json.load(f)
    assert go["data_sample"] == data.fingerprint(data.Dataset(shards))


def test_two_processes_fsdp_equal_go(lr, go_runs, models, shards, work):
    """Through the Go launcher: longrecipe train --backend torch --nproc 2
    (torchrun, FSDP2 over gloo), both models at once."""
    env = {**os.environ, "LONGRECIPE_ROOT": ROOT, "LONGRECIPE_PYTHON": sys.executable}
    procs = {}
    for name, m in models.items():
        o = str(work / f"t2-{name}")
        cmd = [lr, "train", "--backend", "torch", "--nproc", "2", "--model", m, "--data", shards, "--output", o, *GO_FLAGS]
        procs[name] = (o, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for name, (o, p) in procs.items():
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, f"{name}: {out[-2000:]}\n{err[-3000:]}"
        assert "trained 5 steps" in out, out
        compare(go_runs[name], o, f"{name} go vs torch x2 fsdp")
        cfg = json.load(open(os.path.join(o, "config.json")))
        assert cfg["rope_theta"] == json.load(open(os.path.join(models[name], "config.json")))["rope_theta"]
        assert os.path.exists(os.path.join(o, "tokenizer.json"))


def test_kill9_resumes_to_the_same_weights(models, shards, work, torch1_runs):
    """A separate process (a fork would break autograd's threads) trains
    with a checkpoint every step, its rows slowed down, and is killed with
    SIGKILL after its third step; rerunning the same job resumes and ends with the
    same weights, bit for bit, as the uninterrupted run."""
    o = str(work / "kill9")
    j = job(models["llama"], shards, o)
    j["checkpoint_every"] = 1
    metrics_path = os.path.join(o, "metrics.jsonl")
    path = str(work / "kill9-job.json")
    with open(path, "w") as f:
        json.dump(j, f)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "scaleout"), "OMP_NUM_THREADS": "1",
           "LONGRECIPE_TEST_SLOW_ROW": "0.2"}  # time to be killed after step 3
    p = subprocess.Popen([sys.executable, "-m", "longrecipe_torch", "train", "--job", path], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if os.path.exists(metrics_path) and len(open(metrics_path).read().splitlines()) >= 3:
            break
        time.sleep(0.01)
    p.kill()
    assert p.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not os.path.exists(os.path.join(o, "model.safetensors"))
    assert len(open(metrics_path).read().splitlines()) < 5
    res = trainer.run(j)[0]
    assert 2 <= res["resumed_from"] < 5, res  # the step-3 checkpoint may not have been finished
    compare(torch1_runs["llama"], o, "kill -9 resume vs uninterrupted")
    wa, wb = weights(torch1_runs["llama"]), weights(o)
    assert max(float(np.abs(wa[k] - wb[k]).max()) for k in wa) == 0.0
