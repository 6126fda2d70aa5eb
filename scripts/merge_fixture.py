"""Writes merge/testdata: tiny Llama-shaped model folders and the weighted
averages PyTorch computes for them, in safetensors files written here by
hand from the format specification (independently of the Go writer).
Run: /usr/bin/python3 scripts/merge_fixture.py
"""
import json
import os
import struct

import torch

OUT = "merge/testdata"
torch.manual_seed(2027)

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 16,
    "intermediate_size": 32,
    "max_position_embeddings": 256,
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_hidden_layers": 1,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "vocab_size": 40,
}
SHAPES = {
    "model.embed_tokens.weight": [40, 16],
    "model.layers.0.input_layernorm.weight": [16],
    "model.layers.0.self_attn.q_proj.weight": [16, 16],
    "model.layers.0.self_attn.k_proj.weight": [8, 16],
    "model.layers.0.self_attn.v_proj.weight": [8, 16],
    "model.layers.0.self_attn.o_proj.weight": [16, 16],
    "model.layers.0.post_attention_layernorm.weight": [16],
    "model.layers.0.mlp.gate_proj.weight": [32, 16],
    "model.layers.0.mlp.up_proj.weight": [32, 16],
    "model.layers.0.mlp.down_proj.weight": [16, 32],
    "model.norm.weight": [16],
    "lm_head.weight": [40, 16],
}
DT = {torch.float32: ("F32", torch.int32), torch.bfloat16: ("BF16", torch.int16), torch.float16: ("F16", torch.int16)}


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        code, view = DT[t.dtype]
        b = t.contiguous().view(view).numpy().astype("<" + t.contiguous().view(view).numpy().dtype.str[1:]).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def model(folder, dtype, scale, shards=1, theta=10000.0):
    os.makedirs(folder, exist_ok=True)
    ts = {n: (torch.randn(s) * scale).to(dtype) for n, s in SHAPES.items()}
    cfg = dict(CONFIG, torch_dtype={torch.float32: "float32", torch.bfloat16: "bfloat16"}[dtype], rope_theta=theta)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 256, "from": os.path.basename(folder)}, f)
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), ts)
        return ts
    names = list(ts)
    per = (len(names) + shards - 1) // shards
    wm, total = {}, 0
    for i in range(shards):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
        part = {n: ts[n] for n in names[i * per:(i + 1) * per]}
        write_safetensors(os.path.join(folder, fn), part)
        for n, t in part.items():
            wm[n] = fn
            total += t.numel() * t.element_size()
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=2, sort_keys=True)
    return ts


def average(models, weights, dtype):
    s = sum(weights)
    w = [x / s for x in weights]
    out = {}
    for n in models[0]:
        acc = torch.zeros(models[0][n].shape, dtype=torch.float64)
        for m, wk in zip(models, w):
            acc = acc + m[n].double() * wk
        out[n] = acc.float().to(dtype)
    return out


a = model(f"{OUT}/bf16-a", torch.bfloat16, 0.5, theta=48.9e6)
b = model(f"{OUT}/bf16-b-sharded", torch.bfloat16, 0.3, shards=3)
write_safetensors(f"{OUT}/expected-bf16-a7-b3.safetensors", average([a, b], [7, 3], torch.bfloat16))
write_safetensors(f"{OUT}/expected-f32-a7-b3.safetensors", average([a, b], [7, 3], torch.float32))
c = model(f"{OUT}/f32-c", torch.float32, 1.0)
d = model(f"{OUT}/f32-d", torch.float32, 2.0, shards=2)
e = model(f"{OUT}/f32-e", torch.float32, 0.1)
write_safetensors(f"{OUT}/expected-f32-c1-d2-e1.safetensors", average([c, d, e], [1, 2, 1], torch.float32))
write_safetensors(f"{OUT}/expected-f16-c1-d2-e1.safetensors", average([c, d, e], [1, 2, 1], torch.float16))
print("ok")
