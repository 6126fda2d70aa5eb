package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// roundedOperands returns copies of x with every element rounded to
// bfloat16 (what SgemmBF16 multiplies).
func roundedOperands(x []float32) []float32 {
	r := make([]float32, len(x))
	for i, v := range x {
		r[i] = math.Float32frombits(uint32(toBF16(v)) << 16)
	}
	return r
}

// checkBF16 runs tc (operands not bfloat16-exact) through run and checks
// every element against the float64 product of the rounded operands,
// within 2e-6·sqrt(k+1) of the magnitude of its terms: the rounding is
// exactly SgemmBF16's and only the float32 summation order may differ.
// The stride padding and the guards after each slice must stay untouched.
func checkBF16(t *testing.T, tc gemmCase, seed uint64, run func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, uint64(tc.m*7919+tc.n*31+tc.k)))
	a, b, c, lda, ldb, ldc := tc.operands(rng)
	want, mag := refGemm64(tc, roundedOperands(a), lda, roundedOperands(b), ldb, c, ldc)
	c0 := append([]float32(nil), c...)
	run(a, lda, b, ldb, c, ldc)
	tol := 2e-6 * math.Sqrt(float64(tc.k+1))
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc && i*ldc+j < len(c); j++ {
			got := c[i*ldc+j]
			if j >= tc.n {
				if math.Float32bits(got) != math.Float32bits(c0[i*ldc+j]) {
					t.Fatalf("%v: C[%d][%d] in the stride padding changed", tc, i, j)
				}
				continue
			}
			w, g := want[i*tc.n+j], mag[i*tc.n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol*g+1e-30) {
				t.Fatalf("%v: C[%d][%d] = %g, want %g from the rounded operands (|diff| %.3g > tol %.3g)", tc, i, j, got, w, d, tol*g)
			}
		}
	}
	for name, x := range map[string][]float32{"A": a, "B": b, "C": c} {
		for i, v := range x[len(x):cap(x)][:guardLen] {
			if v != guardVal {
				t.Fatalf("%v: wrote past the end of %s (guard %d = %g)", tc, name, i, v)
			}
		}
	}
}

// dpbf16Variants are the VDPBF16PS path and a copy with tiny cache blocks
// (an odd k block included), so that every blocking loop takes several
// turns on small shapes.
func dpbf16Variants(t testing.TB) []*impl {
	if dpbf16Impl == nil {
		t.Skipf("no AVX512_BF16 on this CPU (SgemmBF16 path: %s)", BF16Implementation())
	}
	im := dpbf16Impl
	small := &impl{name: im.name + "-smallblocks", mr: im.mr, nr: im.nr, kc: 7, mc: 2 * im.mr, nc: 3 * im.nr,
		dp: im.dp, pairPackA: im.pairPackA, pairPackB: im.pairPackB}
	return []*impl{im, small}
}

// TestDPBF16MatchesRounded checks the VDPBF16PS path against the product
// of rounded operands in the three layouts the trainer uses (and TT), on
// ragged shapes, odd depths, padded strides and every scalar case.
func TestDPBF16MatchesRounded(t *testing.T) {
	defer func(v int) { minParallelFlops = v }(minParallelFlops)
	minParallelFlops = 0
	sizes := []int{1, 11, 12, 13, 32, 33, 75}
	n := 0
	for _, im := range dpbf16Variants(t) {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, m := range sizes {
					for _, k := range []int{1, 2, 3, 30, 63, 130} {
						tc := gemmCase{tA, tB, m, sizes[(n*3)%len(sizes)], k, []float32{1, 0.125, -2}[n%3], []float32{0, 1, -0.5}[n%3*0+n/3%3], n % 3, false}
						workers := 1 + n%3
						n++
						t.Run(fmt.Sprintf("%s/w%d/%v", im.name, workers, tc), func(t *testing.T) {
							checkBF16(t, tc, uint64(n), func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
								sgemm(im, workers, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
							})
						})
					}
				}
			}
		}
	}
}

// TestDPBF16Special checks rounding at ties, NaN (stays NaN, in the rows
// and columns it meets only), infinities and values that round up to
// infinity, through the assembly packing (full panels) and the Go edges.
func TestDPBF16Special(t *testing.T) {
	if dpbf16Impl == nil {
		t.Skip("no AVX512_BF16")
	}
	for _, tc := range []struct{ tA, tB bool }{{false, true}, {false, false}, {true, false}} {
		m, n, k := 25, 70, 9
		a := make([]float32, m*k)
		b := make([]float32, k*n)
		for i := range a {
			a[i] = math.Float32frombits(0x3f808000) // 1 + 2⁻⁸: a tie, rounds down to 1
		}
		for i := range b {
			b[i] = math.Float32frombits(0x3f818000) // a tie that rounds up to 1 + 2⁻⁶
		}
		// One NaN and one value that rounds up to +Inf, in row 3 / 20 of
		// op(A) (k step 4 / 5).
		at := func(i, p int) int {
			if tc.tA {
				return p*m + i
			}
			return i*k + p
		}
		a[at(3, 4)] = float32(math.NaN())
		a[at(20, 5)] = math.MaxFloat32
		c := make([]float32, m*n)
		lda, ldb := k, n
		if tc.tA {
			lda = m
		}
		if tc.tB {
			ldb = k
		}
		SgemmBF16(tc.tA, tc.tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
		want := float32(k) * (1 + 1.0/64)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				got := c[i*n+j]
				switch {
				case i == 3 && !math.IsNaN(float64(got)):
					t.Fatalf("%+v: C[3][%d] = %g, want NaN", tc, j, got)
				case i == 20 && !math.IsInf(float64(got), 1):
					t.Fatalf("%+v: C[20][%d] = %g, want +Inf (MaxFloat32 rounds up)", tc, j, got)
				case i != 3 && i != 20 && got != want:
					t.Fatalf("%+v: C[%d][%d] = %g, want %g (ties to even)", tc, i, j, got, want)
				}
			}
		}
	}
}

// FuzzSgemmBF16 checks the VDPBF16PS path against the rounded operands'
// product on shapes, layouts, strides, scalars and worker counts drawn
// from the fuzz input.
func FuzzSgemmBF16(f *testing.F) {
	f.Add(uint8(7), uint8(33), uint8(17), uint8(0), uint64(1))
	f.Add(uint8(64), uint8(64), uint8(64), uint8(3), uint64(2))
	f.Add(uint8(13), uint8(100), uint8(255), uint8(0xff), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags uint8, seed uint64) {
		defer func(v int) { minParallelFlops = v }(minParallelFlops)
		minParallelFlops = 0
		tc := fuzzCase(m, n, k, flags, [4]float32{1, -0.5, 0.3, 0})
		workers := 1 + int(seed%3)
		for _, im := range dpbf16Variants(t) {
			checkBF16(t, tc, seed, func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
				sgemm(im, workers, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			})
		}
	})
}
