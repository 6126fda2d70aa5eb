"""Per-token log-probabilities of token ids under a GGUF file, computed by
llama.cpp (through llama-cpp-python, built by scripts/llamacpp.sh).

    $LPY scripts/llamacpp_logprobs.py MODEL.gguf IN.jsonl OUT.jsonl

IN.jsonl holds {"input_ids": [...]} rows; OUT.jsonl gets {"logprobs": [...]}
rows, log p(ids[i+1] | ids[:i+1]) for each i, as `longrecipe score` writes
them. The KV cache is kept in F32 (llama.cpp's default F16 cache would add
its own rounding), flash attention is off, and the context is the row's
length, so llama.cpp reads the file's RoPE settings and nothing else."""

import json
import sys

import numpy as np
from llama_cpp import Llama

GGML_TYPE_F32 = 0


def logprobs(path, ids):
    llm = Llama(model_path=path, n_ctx=len(ids), n_batch=512, n_ubatch=512, logits_all=True, verbose=False,
                type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32, flash_attn=False, n_threads=2)
    llm.eval(ids)
    logits = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
    m = logits.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    out = [float(logits[i, ids[i + 1]] - lse[i]) for i in range(len(ids) - 1)]
    llm.close()
    return out


def main():
    path, inp, outp = sys.argv[1:4]
    with open(inp) as f, open(outp, "w") as w:
        for line in f:
            ids = json.loads(line)["input_ids"]
            w.write(json.dumps({"logprobs": logprobs(path, ids)}) + "\n")


if __name__ == "__main__":
    main()
