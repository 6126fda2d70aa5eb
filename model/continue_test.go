package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// TestContinuationLogProbs checks the cached scoring of several
// continuations against LogProbs on each whole sequence, an independent
// path (one batched forward, the fused LM-head loss).
func TestContinuationLogProbs(t *testing.T) {
	cfg, err := hf.ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":97,
		"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
		"max_position_embeddings":256,"rms_norm_eps":1e-5,"rope_theta":10000,"tie_word_embeddings":false}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seq := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(rng.IntN(97))
		}
		return s
	}
	prompt := seq(40)
	conts := [][]int32{seq(5), seq(1), seq(7), seq(5)}
	got, err := m.ContinuationLogProbs(prompt, conts)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range conts {
		whole, err := m.LogProbs(append(append([]int32{}, prompt...), c...), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := whole[len(prompt)-1:]
		if len(got[i]) != len(c) {
			t.Fatalf("continuation %d: %d values, want %d", i, len(got[i]), len(c))
		}
		for j := range c {
			if math.Abs(float64(got[i][j]-want[j])) > 1e-4 {
				t.Errorf("continuation %d token %d: %v, LogProbs %v", i, j, got[i][j], want[j])
			}
		}
	}
	if _, err := m.ContinuationLogProbs(prompt, [][]int32{{97}}); err == nil {
		t.Error("token outside the vocabulary: no error")
	}
	// GenerateAndScore equals Generate and ContinuationLogProbs bit for
	// bit: the generation's cache rows are rewound before the scoring.
	for _, maxNew := range []int{0, 1, 9} {
		stop := func(id int32) bool { return id == 5 }
		ids, lps, err := m.GenerateAndScore(prompt, maxNew, stop, conts)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs, err := m.Generate(prompt, maxNew, stop)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, wantIDs) || (maxNew == 9 && len(ids) == 0) {
			t.Errorf("maxNew %d: generated %v, Generate %v", maxNew, ids, wantIDs)
		}
		for i := range conts {
			if !slices.Equal(lps[i], got[i]) {
				t.Errorf("maxNew %d, continuation %d: %v, ContinuationLogProbs %v", maxNew, i, lps[i], got[i])
			}
		}
	}
}
