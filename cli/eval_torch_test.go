package cli

import (
	"github.com/longrecipe/longrecipe/internal/testfix"
	"github.com/longrecipe/longrecipe/torchlaunch"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/longrecipe/longrecipe/eval"
)

// TestEvalTorchBackend: eval --backend torch answers every prompt as the
// Go engine (fp32) does — the same greedy outputs, candidate scores
// within 1e-4 and so the same ranking — and its perplexity-by-position
// buckets are within 1e-4 relative.
func TestEvalTorchBackend(t *testing.T) {
	py := testfix.TorchPython(t, torchlaunch.CachedPython)
	dir := evalModel(t)
	root := t.TempDir()
	common := []string{"--model", dir, "--tasks", "passkey,ppl", "--lengths", "512", "--depths", "0,1", "--samples", "1",
		"--max-new-tokens", "4", "--haystack", "repeat", "--ppl-sequences", "1", "--ppl-window", "-1", "--precision", "fp32"}
	goOut, torchOut := filepath.Join(root, "go"), filepath.Join(root, "torch")
	if _, stderr, code := evalCLI(t, append(common, "--output", goOut)...); code != 0 {
		t.Fatalf("eval (go) exit %d: %s", code, stderr)
	}
	if _, stderr, code := evalCLI(t, append(common, "--output", torchOut, "--backend", "torch", "--device", "cpu", "--python", py)...); code != 0 {
		t.Fatalf("eval --backend torch exit %d: %s", code, stderr)
	}
	want, err := eval.LoadResults(goOut)
	if err != nil {
		t.Fatal(err)
	}
	got, err := eval.LoadResults(torchOut)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != len(want.Items) || len(want.Items) == 0 || want.Items[0].Partial == nil {
		t.Fatalf("items: torch %d, go %d", len(got.Items), len(want.Items))
	}
	for i, w := range want.Items {
		g := got.Items[i]
		if g.Output != w.Output || g.Score != w.Score {
			t.Errorf("item %d: torch %q (%v), go %q (%v)", i, g.Output, g.Score, w.Output, w.Score)
		}
		if (g.Partial == nil) != (w.Partial == nil) {
			t.Fatalf("item %d: partial torch %v, go %v", i, g.Partial, w.Partial)
		}
		if w.Partial == nil {
			continue
		}
		if !slices.Equal(order(g.Partial.Scores), order(w.Partial.Scores)) {
			t.Errorf("item %d: ranking torch %v, go %v", i, g.Partial.Scores, w.Partial.Scores)
		}
		for j := range w.Partial.Scores {
			if d := math.Abs(g.Partial.Scores[j] - w.Partial.Scores[j]); d > 1e-4 {
				t.Errorf("item %d candidate %d: torch %v, go %v", i, j, g.Partial.Scores[j], w.Partial.Scores[j])
			}
		}
	}
	if got.PPL == nil || want.PPL == nil || len(got.PPL.Buckets) != len(want.PPL.Buckets) || len(want.PPL.Buckets) == 0 {
		t.Fatalf("ppl: torch %+v, go %+v", got.PPL, want.PPL)
	}
	for i, w := range want.PPL.Buckets {
		if g := got.PPL.Buckets[i]; math.Abs(g.PPL-w.PPL) > 1e-4*w.PPL {
			t.Errorf("ppl bucket %d: torch %v, go %v", i, g.PPL, w.PPL)
		}
	}
}

// order returns the candidate indices from the highest score down.
func order(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	return idx
}
