package hf

import (
	"encoding/json"
	"os"
	"sort"
)

// Summary describes a model folder: what `longrecipe inspect` prints.
type Summary struct {
	Dir           string   `json:"dir"`
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	Layers        int      `json:"num_hidden_layers"`
	Hidden        int      `json:"hidden_size"`
	Intermediate  int      `json:"intermediate_size"`
	Vocab         int      `json:"vocab_size"`
	Heads         int      `json:"num_attention_heads"`
	KVHeads       int      `json:"num_key_value_heads"`
	HeadDim       int      `json:"head_dim"`
	// GQAGroup is heads per key/value head (1: multi-head attention).
	GQAGroup      int  `json:"gqa_group"`
	TiedEmbedding bool `json:"tie_word_embeddings"`
	AttentionBias bool `json:"attention_bias"`
	// Parameters counts the elements of every tensor in the checkpoint;
	// ConfigParameters is what config.json's sizes predict for a
	// Llama-family model (they differ when tensors are missing or extra).
	Parameters       int64 `json:"parameters"`
	ConfigParameters int64 `json:"config_parameters"`
	// DTypes maps each stored dtype to its tensor count and bytes.
	DTypes                map[DType]DTypeCount `json:"dtypes"`
	TorchDtype            string               `json:"torch_dtype,omitempty"`
	MaxPositionEmbeddings int                  `json:"max_position_embeddings"`
	SlidingWindow         int                  `json:"sliding_window"`
	RopeTheta             float64              `json:"rope_theta"`
	RopeScaling           *RopeScaling         `json:"rope_scaling"`
	Shards                []ShardSummary       `json:"shards"`
	TotalBytes            int64                `json:"total_bytes"`
	// Problems lists what would stop the model from loading that the
	// headers show (config sizes that disagree with the weights).
	Problems []string `json:"problems,omitempty"`
}

// DTypeCount is the number of tensors and bytes of one dtype.
type DTypeCount struct {
	Tensors int   `json:"tensors"`
	Bytes   int64 `json:"bytes"`
}

// ShardSummary is one safetensors file of a checkpoint.
type ShardSummary struct {
	File    string `json:"file"`
	Tensors int    `json:"tensors"`
	Bytes   int64  `json:"bytes"` // file size
}

// Inspect reads dir's config.json and safetensors headers (no tensor data)
// and summarises the model.
func Inspect(dir string) (*Summary, error) {
	cfg, ck, err := OpenModelDir(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	var problems []string
	if err := cfg.CheckWeights(ck); err != nil {
		problems = append(problems, err.Error())
	}
	s := &Summary{
		Dir: dir, ModelType: cfg.ModelType, Layers: cfg.NumHiddenLayers, Hidden: cfg.HiddenSize,
		Intermediate: cfg.IntermediateSize, Vocab: cfg.VocabSize, Heads: cfg.NumAttentionHeads,
		KVHeads: cfg.NumKeyValueHeads, HeadDim: cfg.HeadDim, GQAGroup: cfg.NumAttentionHeads / cfg.NumKeyValueHeads,
		TiedEmbedding: cfg.TieWordEmbeddings, AttentionBias: cfg.AttentionBias, TorchDtype: cfg.TorchDtype,
		MaxPositionEmbeddings: cfg.MaxPositionEmbeddings, SlidingWindow: cfg.SlidingWindow,
		RopeTheta: cfg.RopeTheta, RopeScaling: cfg.RopeScaling, DTypes: map[DType]DTypeCount{},
		ConfigParameters: cfg.ParameterCount(), Problems: problems,
	}
	if a, ok := cfg.Raw["architectures"]; ok {
		_ = json.Unmarshal(a, &s.Architectures) // informative only
	}
	for _, f := range ck.files {
		sh := ShardSummary{File: f.path, Tensors: len(f.tensors)}
		if st, err := os.Stat(f.path); err == nil {
			sh.Bytes = st.Size()
		}
		s.Shards = append(s.Shards, sh)
		for _, t := range f.tensors {
			s.Parameters += t.NumElements()
			c := s.DTypes[t.DType]
			c.Tensors++
			c.Bytes += t.Bytes()
			s.DTypes[t.DType] = c
			s.TotalBytes += t.Bytes()
		}
	}
	return s, nil
}

// SortedDTypes returns the dtypes of s.DTypes, largest byte count first.
func (s *Summary) SortedDTypes() []DType {
	var ds []DType
	for d := range s.DTypes {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool {
		if s.DTypes[ds[i]].Bytes != s.DTypes[ds[j]].Bytes {
			return s.DTypes[ds[i]].Bytes > s.DTypes[ds[j]].Bytes
		}
		return ds[i] < ds[j]
	})
	return ds
}

// ParameterCount returns the number of parameters a Llama-family model
// with these sizes has: embeddings, per layer the q/k/v/o projections
// (with q/k/v biases when AttentionBias), gate/up/down projections (with
// biases when MLPBias) and two RMSNorm weights, the final norm, and the
// LM head unless tied.
func (c *Config) ParameterCount() int64 {
	h, v, i := int64(c.HiddenSize), int64(c.VocabSize), int64(c.IntermediateSize)
	q := int64(c.NumAttentionHeads) * int64(c.HeadDim)
	kv := int64(c.NumKeyValueHeads) * int64(c.HeadDim)
	layer := h*q + 2*h*kv + q*h + 3*h*i + 2*h
	if c.AttentionBias {
		layer += q + 2*kv
	}
	if c.MLPBias {
		layer += 2*i + h
	}
	n := v*h + int64(c.NumHiddenLayers)*layer + h
	if !c.TieWordEmbeddings {
		n += v * h
	}
	return n
}
