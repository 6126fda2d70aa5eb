package model

import (
	"fmt"

	"github.com/longrecipe/longrecipe/kernels"
)

// Precision is the arithmetic of a model's matrix multiplies. Weights,
// gradients, optimizer state, norms, softmax and loss stay float32 in
// every precision.
type Precision int

const (
	// FP32 multiplies in float32 (kernels.Sgemm). The default of New and
	// Load.
	FP32 Precision = iota
	// BF16 rounds both operands of every matrix multiply of the forward
	// and backward pass (projections, MLP, LM head, attention QKᵀ and PV
	// and their gradients) to bfloat16 and accumulates in float32
	// (kernels.SgemmBF16), like PyTorch's bf16 autocast on the CPU. Its
	// softmaxes (attention, loss) also take the vectorised float32
	// exponential of kernels.ExpSub (relative error ≤ 8.4e-8), where FP32
	// keeps the scalar expf so that its results stay those of earlier
	// versions bit for bit.
	BF16
)

// String returns "fp32" or "bf16".
func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision reads "fp32" or "bf16"; "" and "auto" mean
// DefaultPrecision().
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "fp32":
		return FP32, nil
	case "bf16":
		return BF16, nil
	case "", "auto":
		return DefaultPrecision(), nil
	}
	return FP32, fmt.Errorf("precision %q: want bf16, fp32 or auto", s)
}

// DefaultPrecision is BF16 where the CPU multiplies bfloat16 faster than
// float32 (AMX or AVX512_BF16, see kernels.HasFastBF16), FP32 elsewhere.
func DefaultPrecision() Precision {
	if kernels.HasFastBF16() {
		return BF16
	}
	return FP32
}

// SetPrecision sets the arithmetic of m's matrix multiplies.
func (m *Model) SetPrecision(p Precision) error {
	if p != FP32 && p != BF16 {
		return fmt.Errorf("model: unknown precision %d", int(p))
	}
	m.mu.Lock()
	m.prec = p
	m.mu.Unlock()
	return nil
}

// Precision returns the arithmetic of m's matrix multiplies.
func (m *Model) Precision() Precision {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prec
}

// The softmax helpers below run the scalar loops of earlier versions in
// FP32 (so that its results stay bit for bit) and the vectorised kernels
// in BF16.

// expShift sets x[i] = exp(x[i] − shift) and returns their sum: expShift
// (scalar expf) for FP32, kernels.ExpSub for BF16.
func (p Precision) expShift(x []float32, shift float32) float32 {
	if p == BF16 {
		return kernels.ExpSub(x, x, shift)
	}
	return expShift(x, shift)
}

// expShiftLSE is expShift for the LM head: the sum is accumulated in
// float64 in FP32 (see expShiftSum); BF16 keeps kernels.ExpSub's float32
// partial sums.
func (p Precision) expShiftLSE(x []float32, shift float32) float64 {
	if p == BF16 {
		return float64(kernels.ExpSub(x, x, shift))
	}
	return expShiftSum[float64](x, shift)
}

// rowMax returns the largest of init and the values of x (kernels.MaxF32
// in BF16, which returns NaN when x holds one; FP32 skips NaN).
func (p Precision) rowMax(x []float32, init float32) float32 {
	if p == BF16 {
		return max(init, kernels.MaxF32(x))
	}
	mx := init
	for _, v := range x {
		if v > mx {
			mx = v
		}
	}
	return mx
}

// swiglu sets h = silu(g)·u elementwise (swigluForward's scalar loop in
// FP32, kernels.SwiGLU in BF16).
func (p Precision) swiglu(h, g, u []float32) {
	if p == BF16 {
		kernels.SwiGLU(h, g, u)
		return
	}
	swigluForward(h, g, u)
}

// swigluBackward adds the gradients of h = silu(g)·u to dg and du
// (swigluBackward's scalar loop in FP32, kernels.SwiGLUBackward in BF16).
func (p Precision) swigluBackward(dg, du, dh, g, u []float32) {
	if p == BF16 {
		kernels.SwiGLUBackward(dg, du, dh, g, u)
		return
	}
	swigluBackward(dg, du, dh, g, u)
}

// scale multiplies x by k in place.
func (p Precision) scale(k float32, x []float32) {
	if p == BF16 {
		kernels.Scale(k, x)
		return
	}
	for i := range x {
		x[i] *= k
	}
}

// dot returns Σ a[i]·b[i] (a float32 sum in index order in FP32, in
// several partial sums in BF16).
func (p Precision) dot(a, b []float32) float32 {
	if p == BF16 {
		return kernels.Dot(a, b)
	}
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// LoadPrecision is Load followed by SetPrecision: the one way a caller
// gets a model that multiplies in p (training, evaluation, scoring).
func LoadPrecision(dir string, p Precision) (*Model, error) {
	m, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if err := m.SetPrecision(p); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}
