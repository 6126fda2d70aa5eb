package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
)

// fixture is one case written by scripts/model/gen_fixtures.py (see
// testdata/README.md).
type fixture struct {
	Config    map[string]any `json:"config"`
	Tokens    [][]int32      `json:"tokens"`
	Positions [][]int32      `json:"positions"`
	LossMask  [][]bool       `json:"loss_mask"`
	LossSum   float64        `json:"loss_sum"`
	NTokens   int            `json:"n_tokens"`
	Tensors   []struct {
		Kind, Name string
		Shape      []int
		Offset     int
	} `json:"tensors"`
	Binary string `json:"binary"`
	data   []float32
}

func (f *fixture) tensor(kind, name string) ([]float32, error) {
	for _, e := range f.Tensors {
		if e.Kind == kind && e.Name == name {
			n := 1
			for _, s := range e.Shape {
				n *= s
			}
			if e.Offset+n > len(f.data) {
				return nil, fmt.Errorf("%s %s: offset %d + %d beyond %d floats", kind, name, e.Offset, n, len(f.data))
			}
			return f.data[e.Offset : e.Offset+n], nil
		}
	}
	return nil, fmt.Errorf("no %s %q in fixture", kind, name)
}

func loadFixture(t *testing.T, name string) *fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	f := new(fixture)
	if err := json.Unmarshal(raw, f); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	bin, err := os.ReadFile(filepath.Join("testdata", f.Binary))
	if err != nil {
		t.Fatal(err)
	}
	f.data = make([]float32, len(bin)/4)
	for i := range f.data {
		f.data[i] = math.Float32frombits(binary.LittleEndian.Uint32(bin[4*i:]))
	}
	return f
}

// fixtureConfig parses the fixture's config.json object with hf.
func fixtureConfig(t *testing.T, c map[string]any) *hf.Config {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := hf.ParseConfig(raw, "fixture config")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// relErr returns the largest |got−want| relative to max|want| (at least 1).
func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		num = math.Max(num, math.Abs(float64(got[i]-want[i])))
		den = math.Max(den, math.Abs(float64(want[i])))
	}
	return num / math.Max(den, 1e-3)
}

var fixtureCases = []string{
	"llama-untied", "llama-tied", "qwen2-bias", "mistral-window",
	"rope-linear", "rope-dynamic", "rope-yarn", "rope-llama3",
}

// TestPyTorchFixtures compares logits, log-probabilities, the loss and
// every parameter gradient with the float64 PyTorch reference.
func TestPyTorchFixtures(t *testing.T) {
	for _, name := range fixtureCases {
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, name)
			cfg := fixtureConfig(t, f.Config)
			m, err := newEmpty(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Params() {
				w, err := f.tensor("weight", p.Name)
				if err != nil {
					t.Fatal(err)
				}
				if len(w) != len(p.W) {
					t.Fatalf("%s: fixture has %d values, model %d", p.Name, len(w), len(p.W))
				}
				copy(p.W, w)
			}
			if len(m.Params()) != countKind(f, "weight") {
				t.Fatalf("model has %d tensors, fixture %d", len(m.Params()), countKind(f, "weight"))
			}
			withTiles(4, 4, func() {
				b := &Batch{Tokens: f.Tokens, Positions: f.Positions, LossMask: f.LossMask}
				for _, ckpt := range []bool{false, true} {
					m.ZeroGrad()
					loss, n, err := m.ForwardBackward(b, Options{Checkpointing: ckpt, Threads: 2})
					if err != nil {
						t.Fatal(err)
					}
					if n != f.NTokens || math.Abs(loss-f.LossSum) > 1e-5*f.LossSum {
						t.Fatalf("checkpointing %v: loss %v over %d tokens, PyTorch %v over %d", ckpt, loss, n, f.LossSum, f.NTokens)
					}
					for _, p := range m.Params() {
						g, _ := f.tensor("grad", p.Name)
						if e := relErr(p.G, g); e > 1e-4 {
							t.Errorf("checkpointing %v: %s gradient differs by %.3g (relative to its max)", ckpt, p.Name, e)
						}
					}
				}
				for s, toks := range f.Tokens {
					lp, err := m.LogProbs(toks, f.Positions[s])
					if err != nil {
						t.Fatal(err)
					}
					want, _ := f.tensor("logprobs", fmt.Sprintf("seq%d", s))
					if e := relErr(lp, want); e > 1e-5 {
						t.Errorf("seq %d: log-probabilities differ by %.3g", s, e)
					}
				}
				// Full logits of sequence 0.
				want, _ := f.tensor("logits", "seq0")
				T := len(f.Tokens[0])
				m.inferForward(f.Tokens[0], f.Positions[0], nil, nil)
				got := make([]float32, T*cfg.VocabSize)
				m.prec.gemm(false, true, T, cfg.VocabSize, cfg.HiddenSize, 1, m.ws.xf, cfg.HiddenSize, m.lmHead.W, cfg.HiddenSize, 0, got, cfg.VocabSize)
				if e := relErr(got, want); e > 1e-5 {
					t.Errorf("logits differ by %.3g", e)
				}
			})
		})
	}
}

func countKind(f *fixture, kind string) int {
	n := 0
	for _, e := range f.Tensors {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// TestAdamWFixtureGradients checks that adamw-tiny.json is consistent with
// this model: loading its initial weights and running ForwardBackward with
// GradScale 1/n gives the gradients of its first step.
func TestAdamWFixtureGradients(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "adamw-tiny.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config    map[string]any `json:"config"`
		Tokens    [][]int32      `json:"tokens"`
		Positions [][]int32      `json:"positions"`
		Losses    []float64      `json:"losses"`
		Params    []struct {
			Name  string
			Shape []int
			Init  []float32
			Grads [][]float32
			After [][]float32
		} `json:"params"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	m, err := newEmpty(fixtureConfig(t, doc.Config))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Params) != len(m.Params()) {
		t.Fatalf("fixture has %d tensors, model %d", len(doc.Params), len(m.Params()))
	}
	for _, fp := range doc.Params {
		p := m.Param(fp.Name)
		if p == nil || len(p.W) != len(fp.Init) || len(fp.Grads) != 3 || len(fp.After) != 3 {
			t.Fatalf("fixture tensor %s does not fit the model", fp.Name)
		}
		copy(p.W, fp.Init)
	}
	n := len(doc.Tokens[0]) - 1
	loss, _, err := m.ForwardBackward(&Batch{Tokens: doc.Tokens, Positions: doc.Positions}, Options{GradScale: 1 / float32(n)})
	if err != nil {
		t.Fatal(err)
	}
	if mean := loss / float64(n); math.Abs(mean-doc.Losses[0]) > 1e-5 {
		t.Fatalf("mean loss %v, fixture %v", mean, doc.Losses[0])
	}
	for _, fp := range doc.Params {
		if e := relErr(m.Param(fp.Name).G, fp.Grads[0]); e > 1e-4 {
			t.Errorf("%s: gradient differs by %.3g", fp.Name, e)
		}
	}
}
