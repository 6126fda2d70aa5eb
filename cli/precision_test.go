package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/model"
)

// TestScorePrecision checks that score --precision fp32 and bf16 give the
// model's log-probabilities in that precision, bit for bit, and that an
// unknown precision is a usage error.
func TestScorePrecision(t *testing.T) {
	dir := initTiny(t, 50, "f32")
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte(`{"input_ids": [1, 5, 7, 9, 11, 2, 40]}`+"\n"), 0o644)
	for _, p := range []model.Precision{model.FP32, model.BF16} {
		out := filepath.Join(t.TempDir(), "out.jsonl")
		if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", out, "--precision", p.String()); code != 0 {
			t.Fatalf("score --precision %v: exit %d: %s", p, code, stderr)
		}
		data, _ := os.ReadFile(out)
		var got struct{ LogProbs []float32 }
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		m.SetPrecision(p)
		want, _ := m.LogProbs([]int32{1, 5, 7, 9, 11, 2, 40}, nil)
		for i := range want {
			if got.LogProbs[i] != want[i] {
				t.Fatalf("--precision %v: %v, want %v", p, got.LogProbs, want)
			}
		}
	}
	_, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", filepath.Join(t.TempDir(), "o.jsonl"), "--precision", "fp16")
	if code == 0 || !strings.Contains(stderr, "fp16") {
		t.Fatalf("--precision fp16: exit %d, stderr %q; want a usage error naming it", code, stderr)
	}
}
