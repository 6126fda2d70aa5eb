package torchlaunch

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/internal/testfix"
	"github.com/longrecipe/longrecipe/model"
)

// TestScorerParity: the torch worker's log-probabilities equal the Go
// engine's (fp32) within 1e-4 per token, on tiny untied and tied Llamas,
// with gapped position ids, whole and prefilled in chunks through the KV
// cache.
func TestScorerParity(t *testing.T) {
	py := testfix.TorchPython(t, CachedPython)
	tokens := make([]int32, 40)
	gapped := make([]int32, 40)
	for i := range tokens {
		tokens[i] = int32((i*7919 + 13) % 4096)
		gapped[i] = int32(i)
		if i >= 17 {
			gapped[i] = int32(i + 50) // one gap of 50 positions
		}
	}
	cases := []struct {
		positions []int32
		chunk     int
	}{{nil, 0}, {gapped, 0}, {gapped, 7}, {nil, 9}}
	fixes := map[string]testfix.Llama{
		"untied": {Layers: 2, Seed: 3},
		"tied":   {Layers: 2, Tied: true, Seed: 5, KVHeads: 2},
	}
	for name, fix := range fixes {
		t.Run(name, func(t *testing.T) {
			dir := fix.Write(t, filepath.Join(t.TempDir(), "m"))
			m, err := model.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			s, err := StartScorer(context.Background(), dir, ScorerOptions{Python: py, Device: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, c := range cases {
				want, err := m.LogProbs(tokens, c.positions)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.LogProbsChunked(tokens, c.positions, c.chunk)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%d values, want %d", len(got), len(want))
				}
				for i := range got {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
						t.Fatalf("gapped %v chunk %d, token %d: torch %v, Go %v (|Δ| %.2g)", c.positions != nil, c.chunk, i+1, got[i], want[i], d)
					}
				}
			}
		})
	}
}

// TestScorerErrors: a model the worker cannot load, CUDA asked for where
// torch has none, a bad request (the worker keeps serving), a worker that
// dies, and a cancelled context — one-line errors naming the model.
func TestScorerErrors(t *testing.T) {
	py := testfix.TorchPython(t, CachedPython)
	ctx := context.Background()
	bad := t.TempDir()
	testfix.WriteFile(t, filepath.Join(bad, "config.json"), []byte(`{"model_type": "gpt2"}`))
	if _, err := StartScorer(ctx, bad, ScorerOptions{Python: py, Device: "cpu"}); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "not supported") || strings.Contains(err.Error(), "\n") {
		t.Errorf("unloadable model: %v", err)
	}
	if _, err := StartScorer(ctx, bad, ScorerOptions{Python: "/nonexistent/python", Device: "cpu"}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("missing interpreter: %v", err)
	}
	dir := testfix.Llama{Seed: 1}.Write(t, filepath.Join(t.TempDir(), "m"))
	if s, err := StartScorer(ctx, dir, ScorerOptions{Python: py, Device: "cuda"}); err == nil {
		s.Close() // this machine has CUDA
	} else if !strings.Contains(err.Error(), "CUDA is not available") || !strings.Contains(err.Error(), dir) {
		t.Errorf("cuda asked for where there is none: %v", err)
	}
	s, err := StartScorer(ctx, dir, ScorerOptions{Python: py, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.LogProbs([]int32{1, 99999}, nil); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Errorf("token outside the vocabulary: %v", err)
	}
	if lp, err := s.LogProbs([]int32{1, 2, 3}, nil); err != nil || len(lp) != 2 {
		t.Errorf("after a bad request: %v, %v", lp, err)
	}
	s.kill() // the worker dies mid-grid
	if _, err := s.LogProbs([]int32{1, 2, 3}, nil); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "exited") {
		t.Errorf("dead worker: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	s2, err := StartScorer(cctx, dir, ScorerOptions{Python: py, Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	cancel()
	if _, err := s2.LogProbs([]int32{1, 2, 3}, nil); err == nil {
		t.Error("cancelled context: the worker still answers")
	}
}

// TestScorerContinuationsGenerate: candidates scored from the prompt's
// KV cache and greedy generation equal the Go engine's (fp32): scores
// within 1e-4, the same generated ids, cut at the first stop id.
func TestScorerContinuationsGenerate(t *testing.T) {
	py := testfix.TorchPython(t, CachedPython)
	dir := testfix.Llama{Layers: 2, Seed: 7}.Write(t, filepath.Join(t.TempDir(), "m"))
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartScorer(context.Background(), dir, ScorerOptions{Python: py, Device: "cpu", Chunk: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	prompt := []int32{5, 77, 301, 9, 4000, 12, 12, 800, 33, 1024, 7, 2}
	conts := [][]int32{{10, 11, 12}, {400}, {3999, 1, 2, 3}}
	want, err := m.ContinuationLogProbs(prompt, conts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ContinuationLogProbs(prompt, conts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range conts {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("continuation %d: %d values, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if d := math.Abs(float64(got[i][j] - want[i][j])); d > 1e-4 {
				t.Errorf("continuation %d token %d: torch %v, Go %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	wantIDs, err := m.Generate(prompt, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotIDs, err := s.Generate(prompt, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotIDs, wantIDs) || len(gotIDs) != 8 {
		t.Fatalf("generate: torch %v, Go %v", gotIDs, wantIDs)
	}
	stopAt := wantIDs[3]
	cut, err := s.Generate(prompt, 8, func(id int32) bool { return id == stopAt })
	if err != nil {
		t.Fatal(err)
	}
	if want := wantIDs[:slices.Index(wantIDs, stopAt)]; !slices.Equal(cut, want) {
		t.Errorf("generate with stop %d: %v, want %v", stopAt, cut, want)
	}
}
