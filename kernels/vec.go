package kernels

import (
	"fmt"
	"math"
)

// Dot returns Σ a[i]·b[i], accumulated in float32 in several partial sums.
// It panics if the lengths differ.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("kernels: Dot: lengths %d and %d differ", len(a), len(b)))
	}
	if len(a) == 0 {
		return 0
	}
	if vecAsm {
		return dotAVX512(&a[0], &b[0], len(a))
	}
	return dotGeneric(a, b)
}

// Axpy adds alpha·x to y (y[i] += alpha·x[i]). It panics if the lengths
// differ.
func Axpy(alpha float32, x, y []float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("kernels: Axpy: lengths %d and %d differ", len(x), len(y)))
	}
	if len(x) == 0 {
		return
	}
	if vecAsm {
		axpyAVX512(alpha, &x[0], &y[0], len(x))
		return
	}
	axpyGeneric(alpha, x, y)
}

// Scale multiplies x by alpha in place.
func Scale(alpha float32, x []float32) {
	if len(x) == 0 {
		return
	}
	if vecAsm {
		scaleAVX512(alpha, &x[0], len(x))
		return
	}
	scaleGeneric(alpha, x)
}

// Add sets dst[i] = a[i] + b[i]. dst may be a or b. It panics if the
// lengths differ.
func Add(dst, a, b []float32) {
	if len(dst) != len(a) || len(a) != len(b) {
		panic(fmt.Sprintf("kernels: Add: lengths %d, %d and %d differ", len(dst), len(a), len(b)))
	}
	if len(a) == 0 {
		return
	}
	if vecAsm {
		addAVX512(&dst[0], &a[0], &b[0], len(a))
		return
	}
	addGeneric(dst, a, b)
}

// MaxF32 returns the largest element of x: NaN if x holds a NaN, -Inf if
// x is empty.
func MaxF32(x []float32) float32 {
	if len(x) == 0 {
		return float32(math.Inf(-1))
	}
	if vecAsm {
		m, nan := maxAVX512(&x[0], len(x))
		if nan {
			return float32(math.NaN())
		}
		return m
	}
	return maxGeneric(x)
}

// ExpSub sets dst[i] = exp(x[i] − max) and returns the sum of the dst
// values: the numerator and denominator of a softmax when max is MaxF32(x).
// dst may be x. It panics if the lengths differ.
//
// The difference x[i]−max is rounded to float32 first (as in any float32
// softmax), then exponentiated. Accuracy of the exponential on the AVX-512
// path (Cephes expf: range reduction by ln 2, degree-5 polynomial, exact
// scaling by VSCALEFPS): relative error at most 8.4e-8 measured over 2M
// points of [−87, 0] against math.Exp (the tests allow 2e-7); arguments
// below −87 give subnormal results or 0, and arguments are clamped to
// [−110, 88.72]. The sum is accumulated in float32 across 16 lanes. The
// portable path uses math.Exp and a float64 sum. NaN inputs give NaN
// outputs and a NaN sum.
func ExpSub(dst, x []float32, max float32) float32 {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("kernels: ExpSub: lengths %d and %d differ", len(dst), len(x)))
	}
	if len(x) == 0 {
		return 0
	}
	if vecAsm {
		return expSubAVX512(&dst[0], &x[0], len(x), max)
	}
	return expSubGeneric(dst, x, max)
}

// SwiGLU sets h[i] = silu(g[i])·u[i] = g[i]·u[i] / (1 + exp(−g[i])), the
// exponential as ExpSub computes it (AVX-512; math.Exp on the portable
// path). It panics if the lengths differ.
func SwiGLU(h, g, u []float32) {
	if len(g) != len(h) || len(u) != len(h) {
		panic(fmt.Sprintf("kernels: SwiGLU: lengths %d, %d and %d differ", len(h), len(g), len(u)))
	}
	if len(h) == 0 {
		return
	}
	if vecAsm {
		swigluAVX512(&h[0], &g[0], &u[0], len(h))
		return
	}
	swigluGeneric(h, g, u)
}

func swigluGeneric(h, g, u []float32) {
	for i, x := range g {
		h[i] = x * u[i] / (1 + float32(math.Exp(float64(-x))))
	}
}

// SwiGLUBackward adds to dg and du the gradients of h = silu(g)·u given
// dh: with s = 1/(1 + exp(−g[i])), du[i] += dh[i]·g[i]·s and dg[i] +=
// dh[i]·u[i]·s·(1 + g[i]·(1 − s)), the exponential as ExpSub computes it.
// It panics if the lengths differ.
func SwiGLUBackward(dg, du, dh, g, u []float32) {
	n := len(dh)
	if len(dg) != n || len(du) != n || len(g) != n || len(u) != n {
		panic(fmt.Sprintf("kernels: SwiGLUBackward: lengths %d, %d, %d, %d and %d differ", len(dg), len(du), n, len(g), len(u)))
	}
	if n == 0 {
		return
	}
	if vecAsm {
		swigluBackAVX512(&dg[0], &du[0], &dh[0], &g[0], &u[0], n)
		return
	}
	swigluBackGeneric(dg, du, dh, g, u)
}

func swigluBackGeneric(dg, du, dh, g, u []float32) {
	for i, x := range g {
		s := 1 / (1 + float32(math.Exp(float64(-x))))
		d := dh[i]
		du[i] += d * x * s
		dg[i] += d * u[i] * s * (1 + x*(1-s))
	}
}

func dotGeneric(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		aa, bb := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func scaleGeneric(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

func addGeneric(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func maxGeneric(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v != v {
			return v
		}
		if v > m {
			m = v
		}
	}
	return m
}

func expSubGeneric(dst, x []float32, max float32) float32 {
	dst = dst[:len(x)]
	var s float64
	for i, v := range x {
		e := math.Exp(float64(v - max))
		dst[i] = float32(e)
		s += e
	}
	return float32(s)
}
