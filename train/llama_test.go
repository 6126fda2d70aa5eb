package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
)

func tinyLlamaConfig() *hf.Config {
	return &hf.Config{
		ModelType: "llama", VocabSize: 32, HiddenSize: 16, IntermediateSize: 32,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 64,
		HiddenAct: "silu", InitializerRange: 0.1, BOSTokenID: -1, EOSTokenID: -1,
	}
}

// TestLlamaOverfits trains a tiny random Llama on four fixed rows: the
// mean NLL must fall from about ln 32 to a small fraction of it.
func TestLlamaOverfits(t *testing.T) {
	m, err := model.New(tinyLlamaConfig(), 7)
	if err != nil {
		t.Fatal(err)
	}
	var rows Rows
	for i := 0; i < 4; i++ {
		r := shards.Row{InputIDs: make([]int32, 24), PositionIDs: make([]int32, 24)}
		for j := range r.InputIDs {
			r.InputIDs[j] = int32((i*7 + j*j) % 32)
			r.PositionIDs[j] = int32(j * 2) // sparse positions, as LongRecipe's
		}
		rows = append(rows, r)
	}
	h := testHyper(60)
	h.Batch, h.GradAccum, h.LR, h.Warmup, h.MinLR = 2, 2, 1e-2, 5, 1e-3
	out := t.TempDir()
	res, err := Run(context.Background(), Config{Hyper: h, Model: Llama{M: m, Opt: model.Options{Checkpointing: true, Threads: 2}}, Data: rows, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	first, last := ms[0].Loss, res.LastLoss
	t.Logf("tiny llama: loss %.4f -> %.4f over %d steps (ln 32 = %.4f)", first, last, len(ms), math.Log(32))
	if math.Abs(first-math.Log(32)) > 0.5 {
		t.Errorf("first loss %.4f, expected near ln 32 = %.4f for a random model", first, math.Log(32))
	}
	if !(last < 0.25*first) {
		t.Errorf("loss %.4f -> %.4f: the model did not overfit four rows", first, last)
	}
}

// modelAdamWFixture is model/testdata/adamw-tiny.json (written by
// scripts/model/gen_fixtures.py with torch.optim.AdamW and a float64
// PyTorch Llama): three AdamW steps on one sequence.
type modelAdamWFixture struct {
	LR, Beta1, Beta2, Eps float64
	WeightDecay           float64 `json:"weight_decay"`
	Steps                 int
	DecayAllParams        bool `json:"decay_all_params"`
	Config                json.RawMessage
	Tokens, Positions     [][]int32
	Losses                []float64
	Params                []struct {
		Name  string
		Shape []int
		Init  []float32
		After [][]float64
	}
}

// TestRunMatchesTorchOnTinyLlama trains the fixture's tiny Llama with Run
// (one row per step, constant LR, no clipping, weight decay on every
// tensor) and compares the losses and the weights after every step with
// PyTorch's.
func TestRunMatchesTorchOnTinyLlama(t *testing.T) {
	b, err := os.ReadFile("../model/testdata/adamw-tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	var f modelAdamWFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("adamw-tiny.json: %v", err)
	}
	if f.WeightDecay == 0 || f.LR == 0 || f.Steps != len(f.Losses) || len(f.Tokens) != 1 {
		t.Fatalf("adamw-tiny.json: unexpected fixture (lr %v, weight decay %v, %d steps, %d losses)", f.LR, f.WeightDecay, f.Steps, len(f.Losses))
	}
	cfg, err := hf.ParseConfig(f.Config, "adamw-tiny.json config")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Params()) != len(f.Params) {
		t.Fatalf("model has %d params, fixture %d", len(m.Params()), len(f.Params))
	}
	for i, p := range m.Params() {
		if p.Name != f.Params[i].Name || len(p.W) != len(f.Params[i].Init) {
			t.Fatalf("param %d: %s/%d, fixture %s/%d", i, p.Name, len(p.W), f.Params[i].Name, len(f.Params[i].Init))
		}
		copy(p.W, f.Params[i].Init)
	}
	h := Hyper{Steps: f.Steps, Batch: 1, GradAccum: 1, Schedule: "constant", LR: f.LR}
	h.SetAdamW(AdamWConfig{Beta1: f.Beta1, Beta2: f.Beta2, Eps: f.Eps, WeightDecay: f.WeightDecay, DecayAll: f.DecayAllParams})
	out := t.TempDir()
	data := Rows{{InputIDs: f.Tokens[0], PositionIDs: f.Positions[0]}}
	if _, err := Run(context.Background(), Config{Hyper: h, Model: Llama{M: m}, Data: data, Output: out}); err != nil {
		t.Fatal(err)
	}
	ms, err := ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range f.Losses {
		if d := math.Abs(ms[s].Loss - want); d > 1e-5*want {
			t.Errorf("step %d: loss %.9f, torch %.9f", s+1, ms[s].Loss, want)
		}
	}
	worst := 0.0
	last := f.Steps - 1
	for i, p := range m.Params() {
		for j, w := range p.W {
			want := f.Params[i].After[last][j]
			d := math.Abs(float64(w) - want)
			worst = math.Max(worst, d)
			if d > 1e-6*math.Max(1, math.Abs(want)) {
				t.Errorf("%s[%d] = %v after %d steps, torch %v", p.Name, j, w, f.Steps, want)
			}
		}
	}
	t.Logf("largest weight difference to torch after %d steps: %.3g (lr %g)", f.Steps, worst, f.LR)
}
