package testfix

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// Llama describes a tiny random Llama. A zero field takes the default named
// in its comment, so Llama{} is a 1-layer model over the shipped
// tokenizer's 4096 ids with a 256-token window, saved as float32.
type Llama struct {
	Vocab        int     // vocab_size; 4096 (the shipped tokenizer's)
	Hidden       int     // hidden_size; 32
	Intermediate int     // intermediate_size; 64
	Layers       int     // num_hidden_layers; 1
	Heads        int     // num_attention_heads; 2
	KVHeads      int     // num_key_value_heads; 1
	HeadDim      int     // head_dim; Hidden/Heads
	Window       int     // max_position_embeddings; 256
	RopeTheta    float64 // rope_theta; 10000
	Tied         bool    // tie_word_embeddings
	DType        string  // dtype of the saved weights ("f32", "bf16", "f16"); "f32"
	Seed         int64   // seed of model.New; 0 is a valid seed
	// Stops sets bos_token_id and eos_token_id to the shipped tokenizer's
	// <|bos|> and <|eos|>; otherwise both are null (-1: no stop token).
	Stops bool
	// Tokenizer is written as tokenizer.json; nil writes the shipped one.
	Tokenizer []byte
	// NoTokenizer leaves tokenizer.json out of the folder.
	NoTokenizer bool
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Config returns the hf.Config of l, parsed from the config.json it
// describes (so Raw is set as for a loaded config).
func (l Llama) Config(t testing.TB) *hf.Config {
	t.Helper()
	raw := map[string]any{
		"model_type":              "llama",
		"vocab_size":              orInt(l.Vocab, 4096),
		"hidden_size":             orInt(l.Hidden, 32),
		"intermediate_size":       orInt(l.Intermediate, 64),
		"num_hidden_layers":       orInt(l.Layers, 1),
		"num_attention_heads":     orInt(l.Heads, 2),
		"num_key_value_heads":     orInt(l.KVHeads, 1),
		"max_position_embeddings": orInt(l.Window, 256),
		"rms_norm_eps":            1e-5,
		"rope_theta":              10000.0,
		"tie_word_embeddings":     l.Tied,
		"hidden_act":              "silu",
		"initializer_range":       0.02,
		"bos_token_id":            nil,
		"eos_token_id":            nil,
	}
	if l.HeadDim != 0 {
		raw["head_dim"] = l.HeadDim
	}
	if l.RopeTheta != 0 {
		raw["rope_theta"] = l.RopeTheta
	}
	if l.Stops {
		bos, eos := ShippedStops(t)
		raw["bos_token_id"], raw["eos_token_id"] = bos, eos
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := hf.ParseConfig(b, "testfix")
	if err != nil {
		t.Fatalf("testfix: %v", err)
	}
	return cfg
}

// Model returns the random model that l describes.
func (l Llama) Model(t testing.TB) *model.Model {
	t.Helper()
	m, err := model.New(l.Config(t), l.Seed)
	if err != nil {
		t.Fatalf("testfix: %v", err)
	}
	return m
}

// Write saves the model of l into dir (created if needed), adds
// tokenizer.json unless NoTokenizer, and returns dir.
func (l Llama) Write(t testing.TB, dir string) string {
	t.Helper()
	return l.Save(t, l.Model(t), dir)
}

// Save writes m (typically l.Model, then edited) into dir in l's dtype, adds
// tokenizer.json unless NoTokenizer, and returns dir.
func (l Llama) Save(t testing.TB, m *model.Model, dir string) string {
	t.Helper()
	dtype := l.DType
	if dtype == "" {
		dtype = "f32"
	}
	if err := m.Save(dir, dtype); err != nil {
		t.Fatalf("testfix: %v", err)
	}
	if l.NoTokenizer {
		return dir
	}
	tok := l.Tokenizer
	if tok == nil {
		tok = assets.TokenizerJSON()
	}
	WriteFile(t, filepath.Join(dir, "tokenizer.json"), tok)
	return dir
}

// TinyLlama writes Llama{} into a new folder under t.TempDir() and returns it.
func TinyLlama(t testing.TB) string {
	t.Helper()
	return Llama{}.Write(t, filepath.Join(t.TempDir(), "tiny"))
}

// ShippedStops returns the shipped tokenizer's BOS and EOS ids.
func ShippedStops(t testing.TB) (bos, eos int) {
	t.Helper()
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets")
	if err != nil {
		t.Fatal(err)
	}
	b, okb := tok.BOS()
	e, oke := tok.EOS()
	if !okb || !oke {
		t.Fatal("testfix: the shipped tokenizer has no BOS or EOS")
	}
	return int(b), int(e)
}

// WriteFile writes data to path, creating its folder, or fails the test.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TrainRows writes n pre-tokenised training rows of length tokens each
// (input_ids below vocab, position_ids 3·j, loss_mask 1 except the first
// two) as JSONL to path and returns path.
func TrainRows(t testing.TB, path string, n, length, vocab int) string {
	t.Helper()
	var sb strings.Builder
	for i := range n {
		ids, pos, mask := make([]int, length), make([]int, length), make([]int, length)
		for j := range ids {
			ids[j] = (i*5 + j*j) % vocab
			pos[j] = 3 * j
			mask[j] = 1
		}
		for j := 0; j < 2 && j < length; j++ {
			mask[j] = 0
		}
		b, err := json.Marshal(map[string]any{"input_ids": ids, "position_ids": pos, "loss_mask": mask})
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	WriteFile(t, path, []byte(sb.String()))
	return path
}

// TorchPython returns the interpreter of the pinned Python environment for
// a test that drives the torch side: $LONGRECIPE_PYTHON, else cached() (the
// caller passes torchlaunch.CachedPython, which this package cannot
// import). With none the test is skipped, or fails under CI=true; -short
// skips it.
func TorchPython(t testing.TB, cached func() string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no Python")
	}
	py := os.Getenv("LONGRECIPE_PYTHON")
	if py == "" {
		py = cached()
	}
	if py == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but no Python environment (bash scripts/pyenv.sh, or set LONGRECIPE_PYTHON)")
		}
		t.Skip("no cached Python environment (bash scripts/pyenv.sh)")
	}
	return py
}
