package hf

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestParameterCount compares with the parameter counts the model cards
// and transformers' num_parameters() report.
func TestParameterCount(t *testing.T) {
	tests := []struct {
		file string
		want int64
	}{
		{"llama3-8b-instruct.json", 8_030_261_248},
		{"mistral-7b-v0.1.json", 7_241_732_096},
		{"qwen2-7b.json", 7_615_616_512},
		{"qwen2-0.5b-yarn.json", 494_032_768},
	}
	for _, tc := range tests {
		c, err := LoadConfig(filepath.Join("testdata/configs", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ParameterCount(); got != tc.want {
			t.Errorf("%s: %d parameters, want %d", tc.file, got, tc.want)
		}
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"model_type":"qwen2","vocab_size":10,"hidden_size":8,"intermediate_size":12,"num_hidden_layers":1,
		"num_attention_heads":4,"num_key_value_heads":2,"tie_word_embeddings":true,"rope_theta":1e6,
		"rope_scaling":{"type":"yarn","factor":4,"original_max_position_embeddings":32768}}`
	c, err := ParseConfig([]byte(cfg), "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	// Write exactly the tensors the config predicts.
	q, kv := 8, 4
	shapes := map[string][]int{
		"model.embed_tokens.weight":                      {10, 8},
		"model.layers.0.self_attn.q_proj.weight":         {q, 8},
		"model.layers.0.self_attn.q_proj.bias":           {q},
		"model.layers.0.self_attn.k_proj.weight":         {kv, 8},
		"model.layers.0.self_attn.k_proj.bias":           {kv},
		"model.layers.0.self_attn.v_proj.weight":         {kv, 8},
		"model.layers.0.self_attn.v_proj.bias":           {kv},
		"model.layers.0.self_attn.o_proj.weight":         {8, q},
		"model.layers.0.mlp.gate_proj.weight":            {12, 8},
		"model.layers.0.mlp.up_proj.weight":              {12, 8},
		"model.layers.0.mlp.down_proj.weight":            {8, 12},
		"model.layers.0.input_layernorm.weight":          {8},
		"model.layers.0.post_attention_layernorm.weight": {8},
		"model.norm.weight":                              {8},
	}
	var srcs []TensorSource
	for name, shape := range shapes {
		n := 1
		for _, d := range shape {
			n *= d
		}
		dt := BF16
		if strings.Contains(name, "norm") {
			dt = F32
		}
		srcs = append(srcs, TensorSource{Name: name, Shape: shape, DType: dt, Float32: func() ([]float32, error) { return make([]float32, n), nil }})
	}
	if err := WriteCheckpoint(dir, srcs, WriteOptions{MaxShardBytes: 300}); err != nil {
		t.Fatal(err)
	}
	s, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Parameters != s.ConfigParameters || s.Parameters != c.ParameterCount() {
		t.Errorf("parameters %d, config %d", s.Parameters, s.ConfigParameters)
	}
	if s.GQAGroup != 2 || !s.TiedEmbedding || s.RopeScaling == nil || s.RopeScaling.Type != "yarn" || len(s.Shards) < 2 {
		t.Errorf("summary %+v", s)
	}
	if s.DTypes[F32].Tensors != 3 || s.DTypes[F32].Bytes != 4*8*3 || s.DTypes[BF16].Tensors != 11 {
		t.Errorf("dtypes %+v", s.DTypes)
	}
	if _, err := Inspect(t.TempDir()); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty folder: %v", err)
	}
}
