package gguf

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/longrecipe/longrecipe/hf"
)

// architectures maps general.architecture to the transformers class.
var architectures = map[string]string{
	"llama":   "LlamaForCausalLM",
	"mistral": "MistralForCausalLM",
	"qwen2":   "Qwen2ForCausalLM",
}

// meta reads typed metadata and remembers the first problem.
type meta struct {
	h    *Header
	name string
	err  error
}

func (m *meta) fail(key, format string, args ...any) {
	if m.err == nil {
		m.err = fmt.Errorf("gguf %s: metadata %q: %s", m.name, key, fmt.Sprintf(format, args...))
	}
}

// int reads an integer key; def < 0 means required.
func (m *meta) int(key string, def int64) int64 {
	v, ok := m.h.Get(key)
	if !ok {
		if def < 0 {
			m.fail(key, "missing")
		}
		return def
	}
	n, isInt := v.Int()
	if !isInt || n < 0 || n > 1<<40 {
		m.fail(key, "want a non-negative integer, got %s %s", v.Type, v)
	}
	return n
}

// float reads a float key as the shortest decimal of its float32 value
// (1e-05, not 9.999999747378752e-06), which converts back to the same
// float32.
func (m *meta) float(key string, def float64) float64 {
	v, ok := m.h.Get(key)
	if !ok {
		return def
	}
	f, isNum := v.Float()
	if !isNum {
		m.fail(key, "want a number, got %s", v.Type)
		return def
	}
	if v.Type == TypeFloat32 {
		f, _ = strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
	}
	return f
}

func (m *meta) str(key string) string {
	v, ok := m.h.Get(key)
	if !ok {
		return ""
	}
	s, isStr := v.Str()
	if !isStr {
		m.fail(key, "want a string, got %s", v.Type)
	}
	return s
}

// Architecture returns general.architecture, or an error naming it when it
// is not llama, mistral or qwen2.
func Architecture(h *Header, name string) (string, error) {
	m := &meta{h: h, name: name}
	arch := m.str("general.architecture")
	if m.err != nil {
		return "", m.err
	}
	if _, ok := architectures[arch]; !ok {
		return "", fmt.Errorf("gguf %s: unsupported architecture %q (want llama, mistral or qwen2)", name, arch)
	}
	return arch, nil
}

// BuildConfig returns the config.json a GGUF model's metadata describes.
// vocab is the embedding's row count, tied whether output.weight is absent,
// dtype the torch_dtype to record.
func BuildConfig(h *Header, name string, vocab int64, tied bool, dtype string) (*hf.Config, error) {
	arch, err := Architecture(h, name)
	if err != nil {
		return nil, err
	}
	m := &meta{h: h, name: name}
	k := func(s string) string { return arch + "." + s }
	heads := m.int(k("attention.head_count"), -1)
	hidden := m.int(k("embedding_length"), -1)
	c := map[string]any{
		"architectures":           []string{architectures[arch]},
		"model_type":              arch,
		"vocab_size":              vocab,
		"hidden_size":             hidden,
		"intermediate_size":       m.int(k("feed_forward_length"), -1),
		"num_hidden_layers":       m.int(k("block_count"), -1),
		"num_attention_heads":     heads,
		"num_key_value_heads":     m.int(k("attention.head_count_kv"), heads),
		"rms_norm_eps":            m.float(k("attention.layer_norm_rms_epsilon"), 1e-6),
		"rope_theta":              m.float(k("rope.freq_base"), 10000),
		"max_position_embeddings": m.int(k("context_length"), -1),
		"tie_word_embeddings":     tied,
		"hidden_act":              "silu",
		"torch_dtype":             dtype,
	}
	if kl := m.int(k("attention.key_length"), 0); kl > 0 && heads > 0 && kl != hidden/heads {
		c["head_dim"] = kl
	}
	addTokenIDs(c, m)
	if err := addRopeScaling(c, m, k); err != nil {
		return nil, err
	}
	if m.err != nil {
		return nil, m.err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("gguf %s: encode config: %w", name, err)
	}
	cfg, err := hf.ParseConfig(data, name+" (config from metadata)")
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func addTokenIDs(c map[string]any, m *meta) {
	for _, f := range [][2]string{{"bos_token_id", "tokenizer.ggml.bos_token_id"}, {"eos_token_id", "tokenizer.ggml.eos_token_id"}} {
		if _, ok := m.h.Get(f[1]); ok {
			c[f[0]] = m.int(f[1], 0)
		}
	}
	if arch, _ := c["model_type"].(string); arch == "qwen2" {
		c["use_sliding_window"] = false
	}
}

// addRopeScaling maps llama.cpp's rope.scaling.* keys (linear, yarn) to
// rope_scaling.
func addRopeScaling(c map[string]any, m *meta, k func(string) string) error {
	typ := m.str(k("rope.scaling.type"))
	if typ == "" || typ == "none" {
		if f := m.float(k("rope.scale_linear"), 0); f > 0 && f != 1 {
			c["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": f}
		}
		return nil
	}
	factor := m.float(k("rope.scaling.factor"), 0)
	if factor <= 0 {
		return fmt.Errorf("gguf %s: metadata %q: rope scaling %q without a positive factor", m.name, k("rope.scaling.factor"), typ)
	}
	s := map[string]any{"rope_type": typ, "factor": factor}
	switch typ {
	case "linear":
	case "yarn":
		if orig := m.int(k("rope.scaling.original_context_length"), 0); orig > 0 {
			s["original_max_position_embeddings"] = orig
		}
	default:
		return fmt.Errorf("gguf %s: metadata %q: unsupported rope scaling %q (want linear or yarn)", m.name, k("rope.scaling.type"), typ)
	}
	c["rope_scaling"] = s
	return nil
}
