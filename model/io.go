package model

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/longrecipe/longrecipe/hf"
)

// Load reads a Hugging Face model folder (config.json and model.safetensors
// or its shards) into a model with fp32 master weights, whatever the
// stored dtype (F32, BF16, F16, F64). Every parameter the config implies
// must be present with the right shape; lm_head.weight may be absent only
// when tie_word_embeddings is set (it is then ignored if present, as
// transformers does). A tensor the model does not know is an error.
func Load(dir string) (*Model, error) {
	cfg, ck, err := hf.ReadModelDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	defer ck.Close()
	m, err := newEmpty(cfg)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	known := map[string]bool{}
	for _, p := range m.params {
		known[p.Name] = true
		info, ok := ck.Info(p.Name)
		if !ok {
			return nil, fmt.Errorf("load model %s: tensor %s is missing", dir, p.Name)
		}
		if !slices.Equal(info.Shape, p.Shape) {
			return nil, fmt.Errorf("load model %s: tensor %s has shape %v, the config implies %v", dir, p.Name, info.Shape, p.Shape)
		}
		if !info.DType.IsFloat() {
			return nil, fmt.Errorf("load model %s: tensor %s has dtype %s, want a float type", dir, p.Name, info.DType)
		}
		if err := ck.Float32Into(p.Name, p.W); err != nil {
			return nil, fmt.Errorf("load model %s: %w", dir, err)
		}
	}
	for _, name := range ck.Names() {
		if known[name] {
			continue
		}
		if name == "lm_head.weight" && m.dims.tied {
			continue
		}
		if isBufferName(name) {
			continue
		}
		return nil, fmt.Errorf("load model %s: unexpected tensor %s for a %s model with this config", dir, name, cfg.ModelType)
	}
	return m, nil
}

// isBufferName reports tensors that some checkpoints carry but that are
// not parameters (RoPE caches from old transformers versions).
func isBufferName(name string) bool {
	return filepath.Base(name) == "rotary_emb.inv_freq" || len(name) > 23 && name[len(name)-23:] == "rotary_emb.inv_freq"
}

// Save writes the model to dir (created if needed) as a Hugging Face
// folder: config.json (with torch_dtype set) and model.safetensors (shards
// of at most 5 GB when larger), the tensors converted to dtype ("f32",
// "bf16", "f16", or their torch spellings). Tied embeddings are written
// once, without lm_head.weight. Files are written atomically.
func (m *Model) Save(dir string, dtype string) error {
	dt, err := hf.ParseDType(dtype)
	if err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	torchName := map[hf.DType]string{hf.F32: "float32", hf.BF16: "bfloat16", hf.F16: "float16"}[dt]
	if torchName == "" {
		return fmt.Errorf("save model %s: dtype %s is not one of f32, bf16, f16", dir, dtype)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	srcs := make([]hf.TensorSource, 0, len(m.params))
	for _, p := range m.params {
		w := p.W
		srcs = append(srcs, hf.TensorSource{
			Name: p.Name, Shape: slices.Clone(p.Shape), DType: dt,
			Float32: func() ([]float32, error) { return w, nil },
		})
	}
	if err := hf.WriteCheckpoint(dir, srcs, hf.WriteOptions{MaxShardBytes: hf.DefaultMaxShardBytes}); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	cfg := m.Cfg.Clone()
	cfg.TorchDtype = torchName
	cfg.HeadDim, cfg.NumKeyValueHeads = m.dims.HD, m.dims.KV
	if err := cfg.Save(filepath.Join(dir, hf.ConfigFileName)); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	return nil
}
