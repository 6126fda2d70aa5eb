package train

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/longrecipe/longrecipe/model"
)

// torchFixture is train/testdata/adamw.json, written by
// scripts/train/gen_adamw.py from torch.optim.AdamW and
// torch.nn.utils.clip_grad_norm_.
type torchFixture struct {
	Cosine struct {
		LR     float64 `json:"lr"`
		Warmup int     `json:"warmup"`
		Total  int     `json:"total"`
		MinLR  float64 `json:"min_lr"`
	} `json:"cosine_schedule"`
	Cases []struct {
		Name        string    `json:"name"`
		Beta1       float64   `json:"beta1"`
		Beta2       float64   `json:"beta2"`
		Eps         float64   `json:"eps"`
		WeightDecay float64   `json:"weight_decay"`
		GradClip    float64   `json:"grad_clip"`
		LRs         []float64 `json:"lrs"`
		Params      []struct {
			Name  string    `json:"name"`
			Shape []int     `json:"shape"`
			W0    []float64 `json:"w0"`
		} `json:"params"`
		Grads [][][]float64 `json:"grads"` // [step][param][elem]
		After [][][]float64 `json:"after"` // [step][param][elem]
		Norms []float64     `json:"norms"`
	} `json:"cases"`
}

func loadTorchFixture(t *testing.T) *torchFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/adamw.json")
	if err != nil {
		t.Fatal(err)
	}
	var f torchFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("testdata/adamw.json: %v", err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("testdata/adamw.json: no cases")
	}
	return &f
}

func f32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// TestAdamWMatchesTorch replays the fixture's gradient sequences through
// ClipGradNorm and AdamW and compares every weight after every step.
func TestAdamWMatchesTorch(t *testing.T) {
	f := loadTorchFixture(t)
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var params []*model.Param
			for _, p := range c.Params {
				params = append(params, &model.Param{Name: p.Name, Shape: p.Shape, W: f32s(p.W0), G: make([]float32, len(p.W0))})
			}
			opt, err := NewAdamW(params, AdamWConfig{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, WeightDecay: c.WeightDecay})
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for s, lr := range c.LRs {
				for i, p := range params {
					copy(p.G, f32s(c.Grads[s][i]))
				}
				norm := ClipGradNorm(params, c.GradClip)
				if d := math.Abs(norm-c.Norms[s]) / c.Norms[s]; d > 1e-6 {
					t.Errorf("step %d: grad norm %v, torch %v", s, norm, c.Norms[s])
				}
				if err := opt.Step(params, lr); err != nil {
					t.Fatal(err)
				}
				for i, p := range params {
					for j, w := range p.W {
						want := c.After[s][i][j]
						d := math.Abs(float64(w)-want) / math.Max(math.Abs(want), 1e-3)
						worst = math.Max(worst, d)
						if d > 1e-6 {
							t.Errorf("step %d %s[%d] = %v, torch %v (rel %.2g)", s, p.Name, j, w, want, d)
						}
					}
				}
			}
			t.Logf("worst relative difference to torch over %d steps: %.3g", len(c.LRs), worst)
		})
	}
}

func TestNoDecay(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"model.embed_tokens.weight", false},
		{"lm_head.weight", false},
		{"model.layers.0.self_attn.q_proj.weight", false},
		{"model.layers.0.self_attn.q_proj.bias", true},
		{"model.layers.0.input_layernorm.weight", true},
		{"model.layers.11.post_attention_layernorm.weight", true},
		{"model.norm.weight", true},
		{"model.layers.0.self_attn.q_norm.weight", true},
		{"model.layers.0.mlp.down_proj.weight", false},
	} {
		if got := NoDecay(tc.name); got != tc.want {
			t.Errorf("NoDecay(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAdamWConfigValidate(t *testing.T) {
	good := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*AdamWConfig)
	}{
		{"beta1=1", func(c *AdamWConfig) { c.Beta1 = 1 }},
		{"beta2<0", func(c *AdamWConfig) { c.Beta2 = -0.1 }},
		{"eps=0", func(c *AdamWConfig) { c.Eps = 0 }},
		{"wd NaN", func(c *AdamWConfig) { c.WeightDecay = math.NaN() }},
		{"wd<0", func(c *AdamWConfig) { c.WeightDecay = -1 }},
	} {
		c := good
		tc.mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	for _, tc := range []struct {
		name      string
		g         []float32
		max, norm float64
		want      []float32
	}{
		{"clipped", []float32{3, 4}, 1, 5, []float32{0.6, 0.8}},
		{"below", []float32{0.3, 0.4}, 1, 0.5, []float32{0.3, 0.4}},
		{"disabled", []float32{30, 40}, 0, 50, []float32{30, 40}},
	} {
		p := &model.Param{Name: "w", W: make([]float32, len(tc.g)), G: append([]float32(nil), tc.g...)}
		n := ClipGradNorm([]*model.Param{p}, tc.max)
		if math.Abs(n-tc.norm) > 1e-6 {
			t.Errorf("%s: norm %v, want %v", tc.name, n, tc.norm)
		}
		for i := range tc.want {
			if math.Abs(float64(p.G[i]-tc.want[i])) > 1e-6 {
				t.Errorf("%s: g = %v, want %v", tc.name, p.G, tc.want)
			}
		}
	}
	p := &model.Param{Name: "w", W: make([]float32, 2), G: []float32{float32(math.NaN()), 1}}
	if n := ClipGradNorm([]*model.Param{p}, 1); !math.IsNaN(n) {
		t.Errorf("NaN gradient: norm %v, want NaN", n)
	}
}
