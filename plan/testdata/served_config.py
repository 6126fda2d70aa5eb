"""Loads a model folder's config the way a server does and reports what it
sees at the target length: python served_config.py DIR TARGET.

AutoConfig.from_pretrained (transformers) reads config.json; the rotary
embedding of the model class is built from it (no weights) and evaluated at
positions 0 and TARGET-1. Prints one JSON object: model_type,
max_position_embeddings, rope_parameters, inv_freq (list), cos_sin_finite."""
import json
import sys

import torch
from transformers import AutoConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding


def main():
    folder, target = sys.argv[1], int(sys.argv[2])
    cfg = AutoConfig.from_pretrained(folder)
    rope = LlamaRotaryEmbedding(cfg)
    x = torch.zeros(1, 2, cfg.hidden_size)
    cos, sin = rope(x, torch.tensor([[0, target - 1]]))
    print(json.dumps({
        "model_type": cfg.model_type,
        "max_position_embeddings": cfg.max_position_embeddings,
        "rope_parameters": getattr(cfg, "rope_parameters", None),
        "inv_freq": rope.inv_freq.tolist(),
        "attention_scaling": float(rope.attention_scaling),
        "cos_sin_finite": bool(torch.isfinite(cos).all() and torch.isfinite(sin).all()),
    }))


if __name__ == "__main__":
    main()
