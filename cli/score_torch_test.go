package cli

import (
	"encoding/json"
	"github.com/longrecipe/longrecipe/internal/testfix"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/torchlaunch"
)

// TestScoreTorchBackend: score --backend torch writes the same rows as
// score --precision fp32 (Go) within 1e-4 per token, gapped positions
// included; a bad --backend or --device is a command-line error (exit 2).
func TestScoreTorchBackend(t *testing.T) {
	py := testfix.TorchPython(t, torchlaunch.CachedPython)
	dir := initTiny(t, 50, "f32")
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.jsonl")
	rows := `{"input_ids": [1, 5, 7, 9, 11, 13, 2, 4]}
{"input_ids": [3, 4, 5, 6, 7], "position_ids": [0, 1, 40, 41, 90]}
`
	if err := os.WriteFile(in, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	goOut, torchOut := filepath.Join(tmp, "go.jsonl"), filepath.Join(tmp, "torch.jsonl")
	if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", goOut, "--precision", "fp32"); code != 0 {
		t.Fatalf("score (go) exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", torchOut, "--backend", "torch", "--device", "cpu", "--python", py); code != 0 {
		t.Fatalf("score --backend torch exit %d: %s", code, stderr)
	}
	want, got := readLogProbRows(t, goOut), readLogProbRows(t, torchOut)
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("rows: torch %d, go %d", len(got), len(want))
	}
	for r := range want {
		if len(got[r]) != len(want[r]) {
			t.Fatalf("row %d: %d values, want %d", r, len(got[r]), len(want[r]))
		}
		for i := range want[r] {
			if d := math.Abs(got[r][i] - want[r][i]); d > 1e-4 {
				t.Errorf("row %d token %d: torch %v, go %v", r, i+1, got[r][i], want[r][i])
			}
		}
	}
	for _, bad := range [][]string{{"--backend", "tpu"}, {"--backend", "torch", "--device", "gpu"}} {
		args := append([]string{"score", "--model", dir, "--input", in, "--output", filepath.Join(tmp, "x.jsonl")}, bad...)
		if _, stderr, code := runCLI(t, "", args...); code != 2 || !strings.Contains(stderr, bad[len(bad)-1]) {
			t.Errorf("%v: exit %d, %s", bad, code, stderr)
		}
	}
}

func readLogProbRows(t *testing.T, path string) [][]float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float64
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct {
			LogProbs []float64 `json:"logprobs"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.LogProbs)
	}
	return out
}
