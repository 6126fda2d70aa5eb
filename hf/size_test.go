package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sizeBase = `"model_type":"llama","hidden_size":8,"intermediate_size":16,"num_attention_heads":2,"tie_word_embeddings":true`

// sizeFolder writes a config with the given extra fields and only the
// embedding matrix [8, 8] and one norm of layer 0 as weights.
func sizeFolder(t *testing.T, fields string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte("{"+sizeBase+","+fields+"}"), 0o644); err != nil {
		t.Fatal(err)
	}
	emb := Tensor{Name: "model.embed_tokens.weight", Shape: []int{8, 8}, DType: F32, F32: make([]float32, 64)}
	norm := Tensor{Name: "model.layers.0.input_layernorm.weight", Shape: []int{8}, DType: F32, F32: make([]float32, 8)}
	if err := WriteSafetensors(filepath.Join(dir, SingleFileName), []Tensor{emb, norm}, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHugeConfigRefused is the regression test of F2: a config.json whose
// sizes are absurd (vocab_size 1e12) or disagree with the weights on disk is
// refused with a one-line error before anything of its size is allocated
// (before, loading it died with "fatal error: out of memory").
func TestHugeConfigRefused(t *testing.T) {
	tests := []struct {
		name, fields, want string
	}{
		{"vocab 1e12", `"vocab_size":1000000000000,"num_hidden_layers":1`, "imply 1.6e+13 parameters, more than the limit"},
		{"hidden and vocab overflow int64", `"vocab_size":1000000000000,"num_hidden_layers":1,"hidden_size":4000000000000,"num_attention_heads":1`, "more than the limit"},
		{"window 1e12", `"vocab_size":8,"num_hidden_layers":1,"max_position_embeddings":1000000000000`, "max_position_embeddings 1000000000000 is more than the limit"},
		{"layers 1e10", `"vocab_size":8,"num_hidden_layers":10000000000`, "more than the limit"},
		{"vocab differs from the weights", `"vocab_size":5000000,"num_hidden_layers":1`, "vocab_size 5000000 and hidden_size 8, but model.embed_tokens.weight on disk has shape [8 8]"},
		{"intermediate differs from the weights", `"vocab_size":8,"num_hidden_layers":1,"intermediate_size":100000000`, "implies 2400000344 parameters (intermediate_size 100000000, num_hidden_layers 1, ...), the weights on disk hold only 72"},
		{"layers differ from the weights", `"vocab_size":8,"num_hidden_layers":1000`, "num_hidden_layers 1000, but no tensor of model.layers.999 is on disk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := sizeFolder(t, tc.fields)
			_, ck, err := ReadModelDir(dir)
			if err == nil {
				ck.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ReadModelDir: %v\nwant %q", err, tc.want)
			}
		})
	}
}

// TestInspectFlagsMismatch: inspect still summarises a folder whose config
// disagrees with its weights, and lists the problem.
func TestInspectFlagsMismatch(t *testing.T) {
	s, err := Inspect(sizeFolder(t, `"vocab_size":5000000,"num_hidden_layers":1`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "vocab_size 5000000") || s.Parameters != 72 {
		t.Errorf("problems %q, parameters %d", s.Problems, s.Parameters)
	}
	if s, err := Inspect(sizeFolder(t, `"vocab_size":8,"num_hidden_layers":0`)); err == nil {
		t.Errorf("invalid config accepted: %+v", s)
	}
}

func TestCheckMemory(t *testing.T) {
	if memTotal() == 0 {
		t.Skip("no /proc/meminfo")
	}
	c, err := ParseConfig([]byte(`{`+sizeBase+`,"vocab_size":100000000,"hidden_size":4096,"num_attention_heads":32,"num_hidden_layers":1}`), "big")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckMemory(4); err == nil || !strings.Contains(err.Error(), "more than this machine's") {
		t.Errorf("410e9 parameters: %v", err)
	}
	small, err := ParseConfig([]byte(`{`+sizeBase+`,"vocab_size":8,"num_hidden_layers":1}`), "small")
	if err != nil {
		t.Fatal(err)
	}
	if err := small.CheckMemory(4); err != nil {
		t.Error(err)
	}
}

// TestWriteCheckpointRemovesStale: the temporaries of a killed write into a
// model folder (up to a shard each) are removed by the next write.
func TestWriteCheckpointRemovesStale(t *testing.T) {
	dir := t.TempDir()
	stale := []string{".model.safetensors.tmp-1", ".model-00001-of-00002.safetensors.tmp-2", ".config.json.tmp-3"}
	for _, s := range stale {
		os.WriteFile(filepath.Join(dir, s), make([]byte, 100), 0o644)
	}
	os.WriteFile(filepath.Join(dir, ".notes.txt.tmp-4"), nil, 0o644)
	src := TensorSource{Name: "w", Shape: []int{2}, DType: F32, Float32: func() ([]float32, error) { return []float32{1, 2}, nil }}
	if err := WriteCheckpoint(dir, []TensorSource{src}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range stale {
		if _, err := os.Stat(filepath.Join(dir, s)); err == nil {
			t.Errorf("%s is still there", s)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".notes.txt.tmp-4")); err != nil {
		t.Error("another file's temporary was removed")
	}
}
