package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/longrecipe/longrecipe/model"
)

// AdamWConfig holds the AdamW hyperparameters other than the learning rate,
// which the schedule supplies at every step.
type AdamWConfig struct {
	Beta1, Beta2 float64 // moment decay rates, in [0, 1)
	Eps          float64 // added to sqrt(v̂), > 0
	WeightDecay  float64 // decoupled decay λ: w -= lr·λ·w, >= 0
	// DecayAll applies weight decay to every parameter. When false (the
	// default, the Hugging Face Trainer convention), biases and
	// normalisation weights (see NoDecay) are not decayed.
	DecayAll bool
}

// Validate reports a hyperparameter outside its domain.
func (c AdamWConfig) Validate() error {
	switch {
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("adamw: beta1 %v is not in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("adamw: beta2 %v is not in [0, 1)", c.Beta2)
	case !(c.Eps > 0) || math.IsInf(c.Eps, 0):
		return fmt.Errorf("adamw: eps %v must be positive and finite", c.Eps)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("adamw: weight decay %v must be >= 0 and finite", c.WeightDecay)
	}
	return nil
}

// NoDecay reports whether the parameter named name is exempt from weight
// decay under the Hugging Face Trainer convention: biases ("bias" in the
// name) and the weights of normalisation layers (a module name containing
// "norm", e.g. "input_layernorm", "post_attention_layernorm", "model.norm",
// "q_norm").
func NoDecay(name string) bool {
	n := strings.ToLower(name)
	if strings.Contains(n, "bias") {
		return true
	}
	mod := n
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		mod = n[:i]
	}
	if j := strings.LastIndexByte(mod, '.'); j >= 0 {
		mod = mod[j+1:]
	}
	return strings.Contains(mod, "norm")
}

// AdamW is torch.optim.AdamW (amsgrad=False, maximize=False) with fp32
// moments: for each parameter, with t the 1-based step count,
//
//	w ← w·(1 − lr·λ)                  (decoupled weight decay)
//	m ← β1·m + (1 − β1)·g
//	v ← β2·v + (1 − β2)·g²
//	w ← w − lr/(1 − β1ᵗ) · m / (sqrt(v)/sqrt(1 − β2ᵗ) + eps)
//
// The element-wise arithmetic is float32 in the same order as PyTorch's
// single-tensor implementation; the scalar factors are computed in float64.
type AdamW struct {
	Cfg AdamWConfig
	// T is the number of steps taken so far.
	T int64
	// M and V are the first and second moments, one slice per parameter,
	// in the order of the parameters given to NewAdamW.
	M, V [][]float32
	// Decay[i] tells whether parameter i is weight-decayed.
	Decay []bool
}

// NewAdamW returns an optimizer for params with zero moments.
func NewAdamW(params []*model.Param, cfg AdamWConfig) (*AdamW, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &AdamW{Cfg: cfg}
	for _, p := range params {
		if len(p.G) != len(p.W) {
			return nil, fmt.Errorf("adamw: parameter %s has %d weights but %d gradients", p.Name, len(p.W), len(p.G))
		}
		o.M = append(o.M, make([]float32, len(p.W)))
		o.V = append(o.V, make([]float32, len(p.W)))
		o.Decay = append(o.Decay, cfg.DecayAll || !NoDecay(p.Name))
	}
	return o, nil
}

// Step applies one update with learning rate lr to params (the same
// parameters, in the same order, as given to NewAdamW) using their G.
func (o *AdamW) Step(params []*model.Param, lr float64) error {
	if len(params) != len(o.M) {
		return fmt.Errorf("adamw: %d parameters, optimizer state has %d", len(params), len(o.M))
	}
	for i, p := range params {
		if len(p.W) != len(o.M[i]) || len(p.G) != len(p.W) {
			return fmt.Errorf("adamw: parameter %s changed size (%d weights, %d gradients, state %d)", p.Name, len(p.W), len(p.G), len(o.M[i]))
		}
	}
	o.T++
	c := o.Cfg
	bc1 := 1 - math.Pow(c.Beta1, float64(o.T))
	bc2 := 1 - math.Pow(c.Beta2, float64(o.T))
	stepSize := float32(lr / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	decay := float32(1 - lr*c.WeightDecay)
	b1, b2 := float32(c.Beta1), float32(c.Beta2)
	a1, a2 := float32(1-c.Beta1), float32(1-c.Beta2)
	eps := float32(c.Eps)
	for i, p := range params {
		w, g, m, v := p.W, p.G, o.M[i], o.V[i]
		if o.Decay[i] && c.WeightDecay != 0 {
			for j := range w {
				w[j] *= decay
			}
		}
		for j := range w {
			gj := g[j]
			mj := float32(m[j]*b1) + float32(gj*a1)
			vj := float32(v[j]*b2) + float32(float32(gj*gj)*a2)
			m[j], v[j] = mj, vj
			denom := float32(float32(float32(math.Sqrt(float64(vj)))/bc2Sqrt) + eps)
			w[j] -= float32(stepSize * float32(mj/denom))
		}
	}
	return nil
}
