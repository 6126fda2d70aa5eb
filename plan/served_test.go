package plan

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// mergedConfig writes what the recipe writes for Llama-3-8B extended to
// 128k (recipe/run.go: SetRope with hf.DefaultRopeTheta, the base's
// rope_scaling kept — none for Llama-3-8B) into a new folder, with a
// tokenizer_config.json holding modelMax (0: none).
func mergedConfig(t *testing.T, scaling *hf.RopeScaling, modelMax float64) (string, float64) {
	t.Helper()
	cfg, err := hf.LoadConfig("testdata/llama-3-8b/config.json")
	if err != nil {
		t.Fatal(err)
	}
	theta := hf.DefaultRopeTheta(cfg.RopeTheta, cfg.HeadDim, cfg.MaxPositionEmbeddings, 131072)
	cfg.SetRope(theta, scaling, 131072)
	dir := t.TempDir()
	if err := cfg.Save(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	if modelMax > 0 {
		data, _ := json.Marshal(map[string]any{"model_max_length": modelMax})
		os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), data, 0o644)
	}
	return dir, theta
}

// The served result: transformers loads the merged config at the target
// length with the raised base, and vLLM's length rule gives the target.
func TestServedConfigTransformers(t *testing.T) {
	t.Parallel() // Python start-up dominates: overlap it with the other Python tests
	py := pythonForTest(t)
	dir, theta := mergedConfig(t, nil, 1e30) // Llama 3's tokenizer_config model_max_length
	if math.Abs(theta-131.5e6) > 0.05e6 {
		t.Fatalf("theta %g, want the paper's 131.5M", theta)
	}
	out, err := exec.Command(py, "testdata/served_config.py", dir, "131072").CombinedOutput()
	if err != nil {
		t.Fatalf("served_config.py: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got struct {
		ModelType string         `json:"model_type"`
		MaxPos    int            `json:"max_position_embeddings"`
		Rope      map[string]any `json:"rope_parameters"`
		InvFreq   []float64      `json:"inv_freq"`
		Scaling   float64        `json:"attention_scaling"`
		Finite    bool           `json:"cos_sin_finite"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.ModelType != "llama" || got.MaxPos != 131072 || got.Rope["rope_type"] != "default" || got.Rope["rope_theta"] != theta || got.Scaling != 1 || !got.Finite {
		t.Errorf("transformers sees %+v", got)
	}
	if len(got.InvFreq) != 64 {
		t.Fatalf("%d inverse frequencies, want head_dim/2 = 64", len(got.InvFreq))
	}
	for i, f := range got.InvFreq {
		want := math.Pow(theta, -float64(2*i)/128)
		if math.Abs(f-want) > 1e-6*want {
			t.Errorf("inv_freq[%d] = %g, want θ'^(-2i/d) = %g", i, f, want)
		}
	}
	s, err := CheckServed(dir, 131072)
	if err != nil || s.Window != 131072 || len(s.Problems) != 0 {
		t.Errorf("vLLM window %+v, %v", s, err)
	}
}

// vLLM's length rule on the folders a user may end up with.
func TestCheckServed(t *testing.T) {
	tests := []struct {
		name     string
		scaling  *hf.RopeScaling
		modelMax float64
		extra    map[string]any
		window   int
	}{
		{name: "recipe output", window: 131072},
		{name: "Llama 3.1 llama3 scaling kept", scaling: &hf.RopeScaling{Type: "llama3", Factor: 8, OriginalMaxPositionEmbeddings: 8192, LowFreqFactor: 1, HighFreqFactor: 4}, window: 131072},
		{name: "dynamic factor kept: vLLM multiplies", scaling: &hf.RopeScaling{Type: "dynamic", Factor: 16}, window: 16 * 131072},
		{name: "yarn: original × factor", scaling: &hf.RopeScaling{Type: "yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32768, BetaFast: 32, BetaSlow: 1}, window: 131072},
		{name: "tokenizer caps the window", modelMax: 8192, window: 8192},
		{name: "stale second length key", extra: map[string]any{"max_sequence_length": 8192}, window: 8192},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := mergedConfig(t, tc.scaling, tc.modelMax)
			if tc.extra != nil {
				path := filepath.Join(dir, "config.json")
				var m map[string]any
				data, _ := os.ReadFile(path)
				json.Unmarshal(data, &m)
				for k, v := range tc.extra {
					m[k] = v
				}
				data, _ = json.Marshal(m)
				os.WriteFile(path, data, 0o644)
			}
			s, err := CheckServed(dir, 131072)
			if err != nil {
				t.Fatal(err)
			}
			if s.Window != tc.window || (len(s.Problems) == 0) != (tc.window == 131072) {
				t.Errorf("window %d (%s), problems %q; want %d", s.Window, s.Key, s.Problems, tc.window)
			}
		})
	}
	if _, err := CheckServed(t.TempDir(), 131072); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty folder: %v", err)
	}
}
