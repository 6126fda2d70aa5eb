"""The scorer worker: model calls of the Go evaluation engine on PyTorch.

Started once per model by the Go client (torchlaunch.StartScorer):

    python -m longrecipe_torch.worker --model DIR [--device cpu|cuda|auto]
        [--dtype float32|bfloat16] [--chunk N]

Protocol: JSON lines, one request on stdin answered by one line on stdout
(nothing else is written to stdout; diagnostics go to stderr).

- First line written, before any request is read:
  {"ready": true, "device": "cpu", "dtype": "float32", "model_type": "llama"}
  or, when the model cannot be loaded or the device is absent,
  {"error": "<one line>"} and exit status 1.
- Request {"op": "logprobs", "tokens": [ids...], "positions": [ids...]}
  (positions optional, default 0..n-1; gaps allowed; an optional "chunk"
  overrides --chunk for this request) is answered with
  {"logprobs": [n-1 floats]}: entry t is log p(tokens[t+1] | tokens[..t]).
- Request {"op": "continuations", "prompt": [ids...], "conts": [[ids...], ...]}
  is answered with {"logprobs": [[...], ...]}: entry j of result i is
  log p(conts[i][j] | prompt, conts[i][:j]); the prompt is prefilled once
  and each continuation runs from its KV cache (cropped back after each).
- Request {"op": "generate", "tokens": [ids...], "max_new": N} is answered
  with {"tokens": [N ids]}: the greedy continuation (the client cuts it at
  its first stop token).
- A bad request is answered with {"error": "<one line>"}; the worker keeps
  serving. End of stdin ends the worker.

Long rows are prefilled in chunks of --chunk tokens through the KV cache,
with an explicit all-ones attention mask (one causal span whatever the
position ids, see model.py); only one chunk's logits exist at a time, so
memory is the cache plus one chunk.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: CUDA is not available to torch " + torch.__version__)
    if name not in ("cpu", "cuda"):
        raise ValueError(f"--device {name!r}: want cpu, cuda or auto")
    return torch.device(name)


class Scorer:
    """One loaded model answering logprobs requests."""

    def __init__(self, folder: str, device: torch.device, dtype: torch.dtype, chunk: int):
        from .model import load_model

        self.device, self.chunk = device, max(1, chunk)
        self.model = load_model(folder, "sdpa", dtype=dtype).to(device).eval()
        self.model_type = self.model.config.model_type

    @torch.no_grad()
    def logprobs(self, tokens, positions=None, chunk=None) -> list[float]:
        from transformers import DynamicCache

        n, step = len(tokens), max(1, int(chunk or self.chunk))
        if n == 0:
            raise ValueError("tokens is empty")
        if positions is None:
            positions = list(range(n))
        if len(positions) != n:
            raise ValueError(f"positions has {len(positions)} entries for {n} tokens")
        vocab = self.model.config.vocab_size
        if any(not (0 <= t < vocab) for t in tokens):
            raise ValueError(f"a token id is outside the vocabulary [0, {vocab})")
        ids = torch.as_tensor(tokens, dtype=torch.long, device=self.device)[None]
        pos = torch.as_tensor(positions, dtype=torch.long, device=self.device)[None]
        cache = DynamicCache(config=self.model.config)
        out = torch.empty(n - 1, dtype=torch.float32)
        for s in range(0, n, step):
            e = min(n, s + step)
            mask = torch.ones(1, e, dtype=torch.long, device=self.device)
            r = self.model(input_ids=ids[:, s:e], position_ids=pos[:, s:e], attention_mask=mask,
                           past_key_values=cache, use_cache=True)
            cache = r.past_key_values
            lp = torch.log_softmax(r.logits[0].float(), dim=-1)
            last = min(e, n - 1)  # positions s..last-1 predict tokens s+1..last
            if last > s:
                tg = ids[0, s + 1:last + 1, None]
                out[s:last] = lp[: last - s].gather(1, tg)[:, 0].cpu()
            del r, lp
        return out.tolist()


    def _check(self, tokens):
        vocab = self.model.config.vocab_size
        if len(tokens) == 0:
            raise ValueError("tokens is empty")
        if any(not (0 <= t < vocab) for t in tokens):
            raise ValueError(f"a token id is outside the vocabulary [0, {vocab})")

    def _prefill(self, tokens):
        """Runs tokens at positions 0..n-1 in chunks; returns the cache and
        the last position's log-probabilities."""
        from transformers import DynamicCache

        ids = torch.as_tensor(tokens, dtype=torch.long, device=self.device)[None]
        cache, n = DynamicCache(config=self.model.config), len(tokens)
        for s in range(0, n, self.chunk):
            e = min(n, s + self.chunk)
            r = self.model(input_ids=ids[:, s:e], position_ids=torch.arange(s, e, device=self.device)[None],
                           attention_mask=torch.ones(1, e, dtype=torch.long, device=self.device),
                           past_key_values=cache, use_cache=True, logits_to_keep=1)
            cache, last = r.past_key_values, torch.log_softmax(r.logits[0, -1].float(), dim=-1)
        return cache, last

    def _step(self, cache, tokens, start):
        ids = torch.as_tensor(tokens, dtype=torch.long, device=self.device)[None]
        n = len(tokens)
        r = self.model(input_ids=ids, position_ids=torch.arange(start, start + n, device=self.device)[None],
                       attention_mask=torch.ones(1, start + n, dtype=torch.long, device=self.device),
                       past_key_values=cache, use_cache=True)
        return r.past_key_values, torch.log_softmax(r.logits[0].float(), dim=-1)

    @torch.no_grad()
    def continuations(self, prompt, conts) -> list[list[float]]:
        self._check(prompt)
        for c in conts:
            if c:
                self._check(c)
        cache, last = self._prefill(prompt)
        n, out = len(prompt), []
        for c in conts:
            if not c:
                out.append([])
                continue
            vals = [float(last[c[0]])]
            if len(c) > 1:
                cache, lp = self._step(cache, c[:-1], n)
                vals += lp.gather(1, torch.as_tensor(c[1:], device=self.device)[:, None])[:, 0].tolist()
                cache.crop(-(len(c) - 1))  # back to the prompt
            out.append(vals)
        return out

    @torch.no_grad()
    def generate(self, tokens, max_new) -> list[int]:
        self._check(tokens)
        cache, last = self._prefill(tokens)
        out, n = [], len(tokens)
        for i in range(max(0, int(max_new))):
            t = int(last.argmax())
            out.append(t)
            if i + 1 < max_new:
                cache, lp = self._step(cache, [t], n + i)
                last = lp[-1]
        return out


def serve(sc: Scorer, inp, outp) -> None:
    for line in inp:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "logprobs":
                resp = {"logprobs": sc.logprobs(req["tokens"], req.get("positions"), req.get("chunk"))}
            elif op == "continuations":
                resp = {"logprobs": sc.continuations(req["prompt"], req["conts"])}
            elif op == "generate":
                resp = {"tokens": sc.generate(req["tokens"], req["max_new"])}
            else:
                raise ValueError(f"op {op!r}: want logprobs, continuations or generate")
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            resp = {"error": " ".join(f"{type(e).__name__}: {e}".split())}
        outp.write(json.dumps(resp) + "\n")
        outp.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="longrecipe_torch.worker")
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    ap.add_argument("--chunk", type=int, default=2048)
    a = ap.parse_args(argv)
    try:
        dev = _device(a.device)
        sc = Scorer(a.model, dev, getattr(torch, a.dtype), a.chunk)
    except Exception as e:  # noqa: BLE001 — any load failure is one line to the client
        msg = " ".join(f"{type(e).__name__}: {e}".split())
        print(json.dumps({"error": msg}), flush=True)
        return 1
    print(json.dumps({"ready": True, "device": str(dev), "dtype": a.dtype, "model_type": sc.model_type}), flush=True)
    serve(sc, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
