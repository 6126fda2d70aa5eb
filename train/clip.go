package train

import (
	"math"

	"github.com/longrecipe/longrecipe/model"
)

// GradNorm returns the global L2 norm of the gradients of params, summed in
// float64 in a fixed order (parameter by parameter, element by element), so
// the result does not depend on threads.
func GradNorm(params []*model.Param) float64 {
	var ss float64
	for _, p := range params {
		var s float64
		for _, g := range p.G {
			s += float64(g) * float64(g)
		}
		ss += s
	}
	return math.Sqrt(ss)
}

// ClipGradNorm scales the gradients so that their global L2 norm is at most
// maxNorm, as torch.nn.utils.clip_grad_norm_: coefficient
// maxNorm/(norm+1e-6), applied only when below 1. maxNorm <= 0 disables
// clipping. It returns the norm before clipping (NaN or Inf are returned
// as they are and leave the gradients untouched).
func ClipGradNorm(params []*model.Param, maxNorm float64) float64 {
	norm := GradNorm(params)
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm
	}
	scaleGrads(params, float32(coef))
	return norm
}

// scaleGrads multiplies every gradient by c.
func scaleGrads(params []*model.Param, c float32) {
	for _, p := range params {
		for j := range p.G {
			p.G[j] *= c
		}
	}
}
