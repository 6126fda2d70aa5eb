"""Shared fixtures: the Go binary and the tiny Llama / Qwen2 folders and
LongRecipe shard folder that every parity and interop test uses (the one
harness both sides are checked against)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scaleout"))

CONFIGS = {
    "llama": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "tie_word_embeddings": False,
              "rope_theta": 10000.0},
    "qwen2": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "tie_word_embeddings": True,
              "rope_theta": 1000000.0},
}
BASE = {"vocab_size": 4096, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
        "rms_norm_eps": 1e-6, "hidden_act": "silu", "initializer_range": 0.02, "torch_dtype": "float32"}


def run(*args, **kw):
    """Run a command; on failure show its output."""
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("lr")


@pytest.fixture(scope="session")
def lr(work):
    """The longrecipe binary, built from this tree ($LONGRECIPE_BIN if set)."""
    if os.environ.get("LONGRECIPE_BIN"):
        return os.environ["LONGRECIPE_BIN"]
    if shutil.which("go") is None:
        pytest.skip("go not found: the parity tests need the Go toolchain")
    out = str(work / "longrecipe")
    run("go", "build", "-o", out, "./cmd/longrecipe", cwd=ROOT)
    return out


@pytest.fixture(scope="session")
def models(lr, work):
    """{'llama': dir, 'qwen2': dir}: tiny random models written by `longrecipe init`."""
    out = {}
    for name, extra in CONFIGS.items():
        cfg = work / f"{name}.json"
        cfg.write_text(json.dumps({**BASE, **extra}))
        d = work / name
        run(lr, "init", "--config", str(cfg), "--output", str(d), "--seed", "7")
        shutil.copy(os.path.join(ROOT, "assets", "tokenizer.json"), d / "tokenizer.json")
        out[name] = str(d)
    return out


@pytest.fixture(scope="session")
def corpus(work):
    import gzip

    path = work / "corpus.jsonl"
    with gzip.open(os.path.join(ROOT, "assets", "sotu.jsonl.gz"), "rt") as f, open(path, "w") as w:
        for i, line in enumerate(f):
            if i == 8:
                break
            w.write(line)
    return str(path)


def prepare(lr, corpus, out, fmt="shards"):
    run(lr, "prepare", "--tokenizer", os.path.join(ROOT, "assets", "tokenizer.json"), "--input", corpus,
        "--method", "longrecipe", "--target-length", "256", "--train-length", "48", "--impactful", "digits",
        "--format", fmt, "--output", out)
    return out


@pytest.fixture(scope="session")
def shards(lr, corpus, work):
    """A shard folder of 8 LongRecipe rows (48 tokens, positions over 256)."""
    return prepare(lr, corpus, str(work / "ds"))


GO_FLAGS = ["--steps", "5", "--batch", "1", "--grad-accum", "2", "--schedule", "cosine", "--lr", "1e-2",
            "--warmup", "1", "--min-lr", "1e-3", "--grad-clip", "1.0", "--weight-decay", "0.1", "--checkpoint-every", "2", "--precision", "fp32"]


@pytest.fixture(scope="session")
def go_runs(lr, models, shards, work):
    out = {}
    for name, m in models.items():
        o = str(work / f"go-{name}")
        run(lr, "train", "--model", m, "--data", shards, "--output", o, *GO_FLAGS)
        out[name] = o
    return out


