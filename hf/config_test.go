package hf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadConfigReal(t *testing.T) {
	tests := []struct {
		file string
		want Config
	}{
		{"llama3-8b-instruct.json", Config{ModelType: "llama", VocabSize: 128256, HiddenSize: 4096, IntermediateSize: 14336,
			NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 8, HeadDim: 128, RMSNormEps: 1e-5, RopeTheta: 500000,
			MaxPositionEmbeddings: 8192, HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: 128000, EOSTokenID: 128009,
			EOSTokenIDs: []int{128009}, TorchDtype: "bfloat16"}},
		{"llama31-8b-instruct.json", Config{ModelType: "llama", VocabSize: 128256, HiddenSize: 4096, IntermediateSize: 14336,
			NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 8, HeadDim: 128, RMSNormEps: 1e-5, RopeTheta: 500000,
			RopeScaling:           &RopeScaling{Type: "llama3", Factor: 8, OriginalMaxPositionEmbeddings: 8192, LowFreqFactor: 1, HighFreqFactor: 4},
			MaxPositionEmbeddings: 131072, HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: 128000, EOSTokenID: 128001,
			EOSTokenIDs: []int{128001, 128008, 128009}, TorchDtype: "bfloat16"}},
		{"mistral-7b-v0.1.json", Config{ModelType: "mistral", VocabSize: 32000, HiddenSize: 4096, IntermediateSize: 14336,
			NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 8, HeadDim: 128, RMSNormEps: 1e-5, RopeTheta: 10000,
			MaxPositionEmbeddings: 32768, SlidingWindow: 4096, HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: 1, EOSTokenID: 2,
			EOSTokenIDs: []int{2}, TorchDtype: "bfloat16"}},
		{"mistral-7b-instruct-v0.2.json", Config{ModelType: "mistral", VocabSize: 32000, HiddenSize: 4096, IntermediateSize: 14336,
			NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 8, HeadDim: 128, RMSNormEps: 1e-5, RopeTheta: 1e6,
			MaxPositionEmbeddings: 32768, SlidingWindow: 0, HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: 1, EOSTokenID: 2,
			EOSTokenIDs: []int{2}, TorchDtype: "bfloat16"}},
		{"qwen2-7b.json", Config{ModelType: "qwen2", VocabSize: 152064, HiddenSize: 3584, IntermediateSize: 18944,
			NumHiddenLayers: 28, NumAttentionHeads: 28, NumKeyValueHeads: 4, HeadDim: 128, RMSNormEps: 1e-6, RopeTheta: 1e6,
			MaxPositionEmbeddings: 131072, AttentionBias: true, HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: 151643,
			EOSTokenID: 151643, EOSTokenIDs: []int{151643}, TorchDtype: "bfloat16"}},
		{"qwen2-0.5b-yarn.json", Config{ModelType: "qwen2", VocabSize: 151936, HiddenSize: 896, IntermediateSize: 4864,
			NumHiddenLayers: 24, NumAttentionHeads: 14, NumKeyValueHeads: 2, HeadDim: 64, RMSNormEps: 1e-6, RopeTheta: 1e6,
			RopeScaling:           &RopeScaling{Type: "yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32768, BetaFast: 32, BetaSlow: 1},
			MaxPositionEmbeddings: 131072, TieWordEmbeddings: true, AttentionBias: true, SlidingWindow: 32768, MaxWindowLayers: 21,
			HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: 151643, EOSTokenID: 151643, EOSTokenIDs: []int{151643}, TorchDtype: "bfloat16"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			c, err := LoadConfig(filepath.Join("testdata/configs", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := *c
			got.Raw = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
				if got.RopeScaling != nil && tc.want.RopeScaling != nil {
					t.Errorf("rope got %+v want %+v", *got.RopeScaling, *tc.want.RopeScaling)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type":"llama","vocab_size":100,"hidden_size":64,"intermediate_size":128,
		"num_hidden_layers":2,"num_attention_heads":4}`), "mini.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.NumKeyValueHeads != 4 || c.HeadDim != 16 || c.RopeTheta != 10000 || c.RMSNormEps != 1e-6 ||
		c.MaxPositionEmbeddings != 2048 || c.HiddenAct != "silu" || c.BOSTokenID != 1 || c.EOSTokenID != 2 ||
		c.AttentionBias || c.SlidingWindow != 0 || c.TieWordEmbeddings {
		t.Errorf("llama defaults wrong: %+v", c)
	}
	m, err := ParseConfig([]byte(`{"model_type":"mistral","vocab_size":100,"hidden_size":64,"intermediate_size":128,
		"num_hidden_layers":2,"num_attention_heads":4}`), "mini.json")
	if err != nil {
		t.Fatal(err)
	}
	if m.SlidingWindow != 4096 || m.MaxPositionEmbeddings != 131072 {
		t.Errorf("mistral defaults wrong: %+v", m)
	}
	q, err := ParseConfig([]byte(`{"model_type":"qwen2","vocab_size":100,"hidden_size":64,"intermediate_size":128,
		"num_hidden_layers":2,"num_attention_heads":4,"sliding_window":4096,"head_dim":32}`), "mini.json")
	if err != nil {
		t.Fatal(err)
	}
	if !q.AttentionBias || q.SlidingWindow != 0 || q.HeadDim != 32 || q.MaxPositionEmbeddings != 32768 || q.BOSTokenID != -1 {
		t.Errorf("qwen2 defaults wrong: %+v", q)
	}
}

func TestConfigErrors(t *testing.T) {
	base := `"vocab_size":100,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4`
	tests := []struct {
		name, json, want string
	}{
		{"bad json", `{"model_type":"llama",`, "bad JSON"},
		{"not object", `[1,2]`, "not a JSON object"},
		{"no model type", `{` + base + `}`, "missing model_type"},
		{"unsupported", `{"model_type":"gpt2",` + base + `}`, `unsupported model_type "gpt2"`},
		{"missing hidden", `{"model_type":"llama","vocab_size":100,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4}`, "missing required field hidden_size"},
		{"wrong type", `{"model_type":"llama",` + base + `,"num_key_value_heads":"two"}`, `field "num_key_value_heads"`},
		{"heads not dividing hidden", `{"model_type":"llama","vocab_size":100,"hidden_size":66,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4}`, "not divisible by num_attention_heads"},
		{"kv heads", `{"model_type":"llama",` + base + `,"num_key_value_heads":3}`, "not divisible by num_key_value_heads 3"},
		{"zero heads", `{"model_type":"llama","vocab_size":100,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":0}`, "num_attention_heads = 0"},
		{"gelu", `{"model_type":"llama",` + base + `,"hidden_act":"gelu"}`, `hidden_act "gelu"`},
		{"odd head dim", `{"model_type":"llama",` + base + `,"head_dim":15}`, "head_dim 15 is odd"},
		{"negative theta", `{"model_type":"llama",` + base + `,"rope_theta":-1}`, "rope_theta"},
		{"unknown rope", `{"model_type":"llama",` + base + `,"rope_scaling":{"rope_type":"longrope","factor":2}}`, `unsupported rope_type "longrope"`},
		{"rope no type", `{"model_type":"llama",` + base + `,"rope_scaling":{"factor":2}}`, "missing rope_type"},
		{"linear no factor", `{"model_type":"llama",` + base + `,"rope_scaling":{"type":"linear"}}`, `requires "factor"`},
		{"llama3 missing low", `{"model_type":"llama",` + base + `,"rope_scaling":{"rope_type":"llama3","factor":8,"high_freq_factor":4,"original_max_position_embeddings":8192}}`, `requires "low_freq_factor"`},
		{"llama3 missing orig", `{"model_type":"llama",` + base + `,"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4}}`, `requires "original_max_position_embeddings"`},
		{"llama3 low>high", `{"model_type":"llama",` + base + `,"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":4,"high_freq_factor":1,"original_max_position_embeddings":8192}}`, "low_freq_factor < high_freq_factor"},
		{"factor zero", `{"model_type":"llama",` + base + `,"rope_scaling":{"rope_type":"dynamic","factor":0}}`, "factor 0"},
		{"eos string", `{"model_type":"llama",` + base + `,"eos_token_id":"x"}`, "eos_token_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.json), "dir/config.json")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "dir/config.json") {
				t.Errorf("error %q does not contain %q and the file name", err, tc.want)
			}
		})
	}
}

func TestRopeDefaultTypeIsNone(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type":"llama","vocab_size":100,"hidden_size":64,"intermediate_size":128,
		"num_hidden_layers":2,"num_attention_heads":4,"rope_scaling":{"rope_type":"default"}}`), "x")
	if err != nil || c.RopeScaling != nil {
		t.Fatalf("default rope: %v %+v", err, c)
	}
}

func TestSaveKeepsUnknownFields(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig("testdata/configs/qwen2-7b.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	// Unchanged: the saved file parses to the same config and has the same
	// key set.
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := *c, *back
	a.Raw, b.Raw = nil, nil
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the config:\n%+v\n%+v", a, b)
	}
	if !reflect.DeepEqual(sortedKeys(c.Raw), sortedKeys(back.Raw)) {
		t.Errorf("keys changed: %v → %v", sortedKeys(c.Raw), sortedKeys(back.Raw))
	}
	// Changed: new rope and window, unknown fields kept.
	d := c.Clone()
	d.SetRope(13.5e6, nil, 131072*2)
	d.SlidingWindow = 4096
	d.MaxWindowLayers = 10
	d.EOSTokenID = 7
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	if c.RopeTheta != 1e6 {
		t.Fatal("Clone shares state with the original")
	}
	back, err = LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.RopeTheta != 13.5e6 || back.MaxPositionEmbeddings != 262144 || back.SlidingWindow != 4096 ||
		back.MaxWindowLayers != 10 || back.EOSTokenID != 7 {
		t.Errorf("saved changes lost: %+v", back)
	}
	data, _ := os.ReadFile(path)
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["transformers_version"] != "4.37.2" || raw["use_cache"] != true || raw["architectures"] == nil {
		t.Errorf("unknown fields lost: %s", data)
	}
	if !strings.HasPrefix(string(data), "{\n  \"architectures\"") {
		t.Errorf("not sorted with 2-space indent: %.60s", data)
	}
}

func TestSetRopeScaling(t *testing.T) {
	c, err := LoadConfig("testdata/configs/llama3-8b-instruct.json")
	if err != nil {
		t.Fatal(err)
	}
	s := &RopeScaling{Type: "yarn", Factor: 10, OriginalMaxPositionEmbeddings: 8192, BetaFast: 32, BetaSlow: 1}
	c.SetRope(500000, s, 81920)
	s.Factor = 99 // SetRope must copy
	path := filepath.Join(t.TempDir(), "config.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := RopeScaling{Type: "yarn", Factor: 10, OriginalMaxPositionEmbeddings: 8192, BetaFast: 32, BetaSlow: 1}
	if back.RopeScaling == nil || *back.RopeScaling != want || back.MaxPositionEmbeddings != 81920 {
		t.Errorf("got %+v", back.RopeScaling)
	}
}

// TestDefaultRopeTheta compares the rule with the bases the LongRecipe
// paper used (method note §3).
func TestDefaultRopeTheta(t *testing.T) {
	tests := []struct {
		model             string
		theta             float64
		headDim           int
		orig, target      int
		paper             float64
		maxRelDiffPercent float64
	}{
		{"Llama-3-8B 8k→80k (paper 48.9M)", 500000, 128, 8192, 81920, 48.9e6, 0.2},
		{"Llama-3-8B 8k→128k (paper 131.5M)", 500000, 128, 8192, 131072, 131.5e6, 0.1},
		{"Qwen2-7B 32k→128k (paper 13.5M)", 1e6, 128, 32768, 131072, 13.5e6, 0.5},
	}
	for _, tc := range tests {
		got := DefaultRopeTheta(tc.theta, tc.headDim, tc.orig, tc.target)
		diff := 100 * math.Abs(got-tc.paper) / tc.paper
		t.Logf("%s: rule %.4gM, paper %.4gM, %.2f%% off", tc.model, got/1e6, tc.paper/1e6, diff)
		if diff > tc.maxRelDiffPercent {
			t.Errorf("%s: rule gives %.4g, paper %.4g (%.2f%% off)", tc.model, got, tc.paper, diff)
		}
	}
	if got := DefaultRopeTheta(500000, 128, 8192, 8192); got != 500000 {
		t.Errorf("no extension changed theta to %v", got)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"llama31-8b-instruct.json", "qwen2-0.5b-yarn.json", "mistral-7b-v0.1.json"} {
		data, err := os.ReadFile(filepath.Join("testdata/configs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.json")
		if err != nil {
			return
		}
		// An accepted config validates, saves and reads back the same.
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig(out, "again.json")
		if err != nil {
			t.Fatalf("re-encoded config refused: %v\n%s", err, out)
		}
		a, b := *c, *back
		a.Raw, b.Raw = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", a, b)
		}
	})
}

// TestRopeParameters reads the transformers v5 spelling, where rope_theta
// and the scaling live in "rope_parameters".
func TestRopeParameters(t *testing.T) {
	base := `"model_type":"llama","vocab_size":100,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4`
	c, err := ParseConfig([]byte(`{`+base+`,"rope_parameters":{"rope_theta":500000.0,"rope_type":"default"}}`), "v5.json")
	if err != nil || c.RopeTheta != 500000 || c.RopeScaling != nil {
		t.Fatalf("default: %v %+v", err, c)
	}
	c, err = ParseConfig([]byte(`{`+base+`,"rope_parameters":{"rope_theta":500000.0,"rope_type":"llama3","factor":8.0,
		"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}}`), "v5.json")
	if err != nil || c.RopeTheta != 500000 || c.RopeScaling == nil || c.RopeScaling.Type != "llama3" || c.RopeScaling.Factor != 8 {
		t.Fatalf("llama3: %v %+v", err, c)
	}
	c.SetRope(48.9e6, nil, 81920)
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig(out, "saved.json")
	if err != nil || back.RopeTheta != 48.9e6 || back.RopeScaling != nil || back.MaxPositionEmbeddings != 81920 {
		t.Fatalf("after SetRope: %v %+v\n%s", err, back, out)
	}
}

// TestSaveConfigBuiltInCode saves configs that have no Raw and reads them
// back.
func TestSaveConfigBuiltInCode(t *testing.T) {
	for _, typ := range []string{"llama", "mistral", "qwen2"} {
		c := &Config{ModelType: typ, VocabSize: 50, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2,
			NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 8, RMSNormEps: 1e-5, RopeTheta: 1e6,
			MaxPositionEmbeddings: 4096, HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: 1, EOSTokenID: 2,
			EOSTokenIDs: []int{2}, TorchDtype: "float32", AttentionBias: typ == "qwen2"}
		if typ == "mistral" {
			c.SlidingWindow = 1024
		}
		path := filepath.Join(t.TempDir(), "config.json")
		if err := c.Save(path); err != nil {
			t.Fatal(err)
		}
		back, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		back.Raw = nil
		if !reflect.DeepEqual(*c, *back) {
			data, _ := os.ReadFile(path)
			t.Errorf("%s: saved %s\nread back %+v", typ, data, *back)
		}
	}
	bad := &Config{ModelType: "llama", VocabSize: 50, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 8, RMSNormEps: 1e-5, RopeTheta: 1e6,
		MaxPositionEmbeddings: 4096, HiddenAct: "silu", SlidingWindow: 7}
	if err := bad.Save(filepath.Join(t.TempDir(), "c.json")); err == nil {
		t.Error("llama with a sliding window saved")
	}
}
