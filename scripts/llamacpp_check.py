"""Driver of scripts/llamacpp-check.sh: for each model folder, exports GGUF
files (f32, q8_0, q6_k, q4_k), scores prompts of the given lengths with
`longrecipe score --precision fp32` on the folder and with llama.cpp on each
file, and prints one Markdown table row per (model, type, length): max and
mean |Δ log-prob| per token, and the file size.

    $LPY scripts/llamacpp_check.py LONGRECIPE_BIN WORKDIR NAME=FOLDER:LEN,LEN,... ...
"""

import gzip
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from llamacpp_logprobs import logprobs  # noqa: E402

TYPES = ["f32", "q8_0", "q6_k", "q4_k"]


def run(*args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{p.stderr[-2000:]}")
    return p.stdout


def prompt(lr, folder, n, work, name):
    """The first n tokens of the State of the Union corpus (concatenated)."""
    texts = []
    with gzip.open(os.path.join(ROOT, "assets", "sotu.jsonl.gz"), "rt") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
            if sum(map(len, texts)) > 8 * n:
                break
    inp, out = os.path.join(work, f"{name}-text.jsonl"), os.path.join(work, f"{name}-ids.jsonl")
    with open(inp, "w") as w:
        w.write(json.dumps({"text": "\n\n".join(texts)}) + "\n")
    run(lr, "tokenize", "--tokenizer", os.path.join(folder, "tokenizer.json"), "--input", inp, "--output", out, "--force")
    ids = json.loads(open(out).readline())["input_ids"]
    assert len(ids) >= n, (len(ids), n)
    return ids[:n]


def score(lr, folder, ids, work, tag):
    inp, out = os.path.join(work, f"{tag}-in.jsonl"), os.path.join(work, f"{tag}-out.jsonl")
    with open(inp, "w") as w:
        w.write(json.dumps({"input_ids": ids}) + "\n")
    run(lr, "score", "--precision", "fp32", "--model", folder, "--input", inp, "--output", out, "--force")
    return np.array(json.loads(open(out).readline())["logprobs"])


def main():
    lr, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    print("| model | type | tensor types | file | tokens | max abs d | mean abs d | mean NLL (llama.cpp) | mean NLL (score) |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for spec in sys.argv[3:]:
        name, rest = spec.split("=", 1)
        folder, lens = rest.rsplit(":", 1)
        lens = [int(x) for x in lens.split(",")]
        ids_all = prompt(lr, folder, max(lens), work, name)
        want = {n: score(lr, folder, ids_all[:n], work, f"{name}-{n}") for n in lens}
        for typ in TYPES:
            path = os.path.join(work, f"{name}-{typ}.gguf")
            summary = run(lr, "export", "--gguf", path, "--model", folder, "--type", typ, "--force").strip()
            types = summary[summary.index("(") + 1: summary.index(")")]
            size = os.path.getsize(path) / 2**20
            for n in lens:
                got = np.array(logprobs(path, ids_all[:n]))
                d = np.abs(got - want[n])
                print(f"| {name} | {typ} | {types} | {size:.1f} MiB | {n} | {d.max():.2e} | {d.mean():.2e} | "
                      f"{-got.mean():.4f} | {-want[n].mean():.4f} |", flush=True)


if __name__ == "__main__":
    main()
