package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// TestContinuationLogProbs checks the cached scoring of several
// continuations against LogProbs on each whole sequence, an independent
// path (one batched forward, the fused LM-head loss).
func TestContinuationLogProbs(t *testing.T) {
	// The continuations run in one pass, masked from each other; with a
	// sliding window shorter than the prompt, each sees only the last
	// prompt tokens its own position reaches.
	for _, arch := range []string{`"architectures":["LlamaForCausalLM"],"model_type":"llama"`,
		`"architectures":["MistralForCausalLM"],"model_type":"mistral","sliding_window":16`} {
		cfg, err := hf.ParseConfig([]byte(`{`+arch+`,"vocab_size":97,
		"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
		"max_position_embeddings":256,"rms_norm_eps":1e-5,"rope_theta":10000,"tie_word_embeddings":false}`), "test")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(arch, "mistral") && cfg.SlidingWindow != 16 {
			t.Fatalf("sliding window %d, want 16", cfg.SlidingWindow)
		}
		m, err := New(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(cfg.ModelType, func(t *testing.T) { checkContinuations(t, m) })
	}
}

func checkContinuations(t *testing.T, m *Model) {
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

// TestGenerateAndScoreBranch: the second prompt, scored from the cache of
// the prefix it shares with the first, gets what ContinuationLogProbs on
// it alone gives, and the first prompt's results are GenerateAndScore's;
// in both precisions, for prompts that share much, nothing or everything
// but their last token, and under dynamic NTK (no sharing there).
func TestGenerateAndScoreBranch(t *testing.T) {
	const V = 97
	rng := rand.New(rand.NewPCG(5, 6))
	seq := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(rng.IntN(V))
		}
		return s
	}
	prompt := seq(150)
	withoutMiddle := append(slices.Clone(prompt[:90]), prompt[110:]...)
	other := append([]int32{(prompt[0] + 1) % V}, prompt[1:]...)
	conts := [][]int32{seq(4), seq(1), seq(6)}
	for _, dynamic := range []bool{false, true} {
		cfg, err := hf.ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":97,
		"hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
		"max_position_embeddings":128,"rms_norm_eps":1e-5,"rope_theta":10000,"tie_word_embeddings":false}`), "test")
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxPositionEmbeddings = 256
		if dynamic {
			// An original window of 64: the prompts' frequencies depend on
			// their lengths.
			cfg.RopeScaling = &hf.RopeScaling{Type: "dynamic", Factor: 2}
			cfg.MaxPositionEmbeddings = 64
		}
		m, err := New(cfg, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []Precision{FP32, BF16} {
			m.SetPrecision(p)
			// The tail of a prompt prefilled after its shared prefix
			// runs fewer query rows than the prompt alone: in BF16 its
			// attention rounds the probabilities at another scale (one
			// softmax over all keys instead of per key tile), a
			// difference of bfloat16's order, 2⁻⁸ relative per
			// probability; a wrong mask or position costs far more.
			tol := 2e-5
			if p == BF16 {
				tol = 1e-3
			}
			for _, branch := range [][]int32{withoutMiddle, prompt, other, prompt[:100]} {
				ids, lps, blps, err := m.GenerateAndScoreBranch(prompt, 3, nil, conts, branch, conts[:2])
				if err != nil {
					t.Fatal(err)
				}
				wantIDs, wantLps, err := m.GenerateAndScore(prompt, 3, nil, conts)
				if err != nil {
					t.Fatal(err)
				}
				wantB, err := m.ContinuationLogProbs(branch, conts[:2])
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids, wantIDs) {
					t.Errorf("dynamic %v, %v, branch of %d: generated %v, alone %v", dynamic, p, len(branch), ids, wantIDs)
				}
				for i := range conts {
					if !close32(lps[i], wantLps[i], tol) {
						t.Errorf("dynamic %v, %v, branch of %d: continuation %d: %v, alone %v", dynamic, p, len(branch), i, lps[i], wantLps[i])
					}
				}
				for i := range blps {
					if !close32(blps[i], wantB[i], tol) {
						t.Errorf("dynamic %v, %v, branch of %d: branch continuation %d: %v, alone %v", dynamic, p, len(branch), i, blps[i], wantB[i])
					}
				}
			}
		}
	}
}

func close32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

// TestSetStop: an inference pass asks the stop function between layers
// and ends with ErrStopped when it says so (LogProbs, Prefill, Generate,
// the scoring); with the function removed, the model answers as before.
func TestSetStop(t *testing.T) {
	m, err := New(tinyConfig(), 9)
	if err != nil {
		t.Fatal(err)
	}
	toks := randTokens(rand.New(rand.NewPCG(9, 9)), 20, 37)
	want, err := m.LogProbs(toks, nil)
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	m.SetStop(func() bool { asked++; return asked > 1 }) // stop before layer 2
	calls := map[string]func() error{
		"LogProbs": func() error { _, err := m.LogProbs(toks, nil); return err },
		"Prefill":  func() error { _, err := m.Prefill(m.NewCache(), toks, nil); return err },
		"Generate": func() error { _, err := m.Generate(toks, 3, nil); return err },
		"GenerateAndScoreBranch": func() error {
			_, _, _, err := m.GenerateAndScoreBranch(toks, 2, nil, [][]int32{{1, 2}}, toks[:10], [][]int32{{3}})
			return err
		},
	}
	for name, call := range calls {
		asked = 0
		if err := call(); !errors.Is(err, ErrStopped) || asked != 2 {
			t.Errorf("%s: error %v after %d questions, want ErrStopped after 2", name, err, asked)
		}
	}
	m.SetStop(nil)
	got, err := m.LogProbs(toks, nil)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("after SetStop(nil): %v, %v", got, err)
	}
}

// TestForkConcurrent: forks on one goroutine each, running at the same
// time, give what the model gives alone, bit for bit, in both precisions.
func TestForkConcurrent(t *testing.T) {
	cfg := tinyConfig()
	cfg.MaxPositionEmbeddings = 256
	m, err := New(cfg, 10)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(10, 10))
	prompts := make([][]int32, 6)
	for i := range prompts {
		prompts[i] = randTokens(rng, 60+30*i, cfg.VocabSize)
	}
	conts := [][]int32{{1, 2, 3}, {4}}
	for _, p := range []Precision{FP32, BF16} {
		m.SetPrecision(p)
		type answer struct {
			ids      []int32
			lps, blp [][]float32
		}
		run := func(mm *Model, prompt []int32) answer {
			ids, lps, blp, err := mm.GenerateAndScoreBranch(prompt, 4, nil, conts, prompt[:len(prompt)/2], conts)
			if err != nil {
				t.Error(err)
			}
			return answer{ids, lps, blp}
		}
		want := make([]answer, len(prompts))
		for i, pr := range prompts {
			want[i] = run(m, pr)
		}
		got := make([]answer, len(prompts))
		var wg sync.WaitGroup
		for w := range 3 {
			f := m.Fork(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(prompts); i += 3 {
					got[i] = run(f, prompts[i])
				}
			}()
		}
		wg.Wait()
		for i := range prompts {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%v, prompt %d: fork %+v, model %+v", p, i, got[i], want[i])
			}
		}
	}
}

// TestInferBytes: the estimate of an inference pass's memory holds what
// a first pass over T tokens allocates on a fork (its workspace, the
// cache, the LM-head chunk), within the kernels' packing buffers, and is
// not far above it.
func TestInferBytes(t *testing.T) {
	cfg := tinyConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.MaxPositionEmbeddings = 512, 64, 160, 4096
	m, err := New(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	toks := randTokens(rand.New(rand.NewPCG(2, 2)), 2048, cfg.VocabSize)
	if _, err := m.Fork(1).LogProbs(toks, nil); err != nil { // warm the packing buffers
		t.Fatal(err)
	}
	for _, T := range []int{512, 2048} {
		f := m.Fork(1)
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		if _, err := f.Prefill(f.NewCache(), toks[:T], nil); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&b)
		got, est := int64(b.TotalAlloc-a.TotalAlloc), f.InferBytes(T)
		t.Logf("T=%d: allocated %d, estimate %d", T, got, est)
		if got > est+1<<20 || est > 3*got {
			t.Errorf("T=%d: a pass allocated %d bytes, InferBytes says %d", T, got, est)
		}
	}
}
