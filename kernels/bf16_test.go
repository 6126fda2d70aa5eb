package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestToBF16(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{0, 0},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, round to even (down)
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, round to even (up)
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{float32(math.Inf(1)), 0x7f80},
		{math.MaxFloat32, 0x7f80},                  // rounds up to +Inf
		{math.Float32frombits(0x7f800001), 0x7fc0}, // signalling NaN stays NaN
	} {
		if got := toBF16(tc.in); got != tc.want {
			t.Errorf("toBF16(%g = %#08x) = %#04x, want %#04x", tc.in, math.Float32bits(tc.in), got, tc.want)
		}
	}
}

// bf16Paths are the SgemmBF16 paths this machine can run.
func bf16Paths() map[string]func(workers int, tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := map[string]func(int, bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int){
		"rounded": sgemmBF16Rounded,
	}
	if HasAMX() {
		p["amx"] = sgemmAMX
	}
	if dpbf16Impl != nil {
		p["avx512bf16"] = func(workers int, tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			sgemm(dpbf16Impl, workers, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
	}
	return p
}

// TestSgemmBF16Exact feeds bfloat16-exact operands, so that the only
// difference from the float64 reference is float32 accumulation.
func TestSgemmBF16Exact(t *testing.T) {
	defer func(v int) { minParallelFlops = v }(minParallelFlops)
	minParallelFlops = 0
	t.Logf("HasAMX() = %v", HasAMX())
	sizes := []int{1, 17, 32, 33, 70}
	for name, run := range bf16Paths() {
		n := 0
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, m := range sizes {
					for _, nn := range sizes {
						for _, k := range []int{1, 31, 64, 100} {
							tc := gemmCase{tA, tB, m, nn, k, []float32{1, 0.5, -2}[n%3], []float32{0, 1, -0.5, 0}[n%4], n % 2, true}
							workers := 1 + n%3
							n++
							t.Run(fmt.Sprintf("%s/w%d/%v", name, workers, tc), func(t *testing.T) {
								checkGemm(t, tc, 4, func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
									run(workers, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
								})
							})
						}
					}
				}
			}
		}
	}
}

// TestSgemmBF16Deep covers k past one depth block of the AMX path, with
// beta ≠ 0 and column and row edges.
func TestSgemmBF16Deep(t *testing.T) {
	for name, run := range bf16Paths() {
		for _, tc := range []gemmCase{
			{false, true, 40, 70, 1100, 1, 0.5, 1, true},
			{true, false, 33, 300, 1030, -1, 0, 0, true},
		} {
			t.Run(name+"/"+tc.String(), func(t *testing.T) {
				checkGemm(t, tc, 5, func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
					run(2, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
				})
			})
		}
	}
}

// TestSgemmBF16Rounds checks, on operands that are not bfloat16-exact,
// that the public SgemmBF16 agrees with Sgemm on rounded copies, and
// differs from the float32 product by about what bfloat16 rounding
// explains.
func TestSgemmBF16Rounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, tc := range []gemmCase{
		{false, true, 300, 290, 260, 1, 0, 0, false},
		{true, false, 64, 600, 96, 1, 1, 3, false},
		{false, false, 33, 257, 1000, 1, 0, 0, false},
	} {
		a, b, c, lda, ldb, ldc := tc.operands(rng)
		got := append([]float32(nil), c...)
		SgemmBF16(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
		serial := append([]float32(nil), c...)
		SgemmBF16Serial(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, serial, ldc)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(serial[i]) {
				t.Fatalf("%v: SgemmBF16Serial C[%d] = %g, SgemmBF16 %g (same arithmetic, must be equal)", tc, i, serial[i], got[i])
			}
		}
		want := append([]float32(nil), c...)
		sgemmBF16Rounded(1, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		f32 := append([]float32(nil), c...)
		Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, f32, ldc)
		var maxRounded, sumSq, sumSqRef float64
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				g, w, f := float64(got[i*ldc+j]), float64(want[i*ldc+j]), float64(f32[i*ldc+j])
				maxRounded = max(maxRounded, math.Abs(g-w)/(1+math.Abs(w)))
				sumSq += (g - f) * (g - f)
				sumSqRef += f * f
			}
		}
		rel := math.Sqrt(sumSq / sumSqRef)
		t.Logf("%v: max |SgemmBF16 − rounded Sgemm|/(1+|·|) = %.2g; relative RMS difference from float32 Sgemm = %.2g", tc, maxRounded, rel)
		if maxRounded > 1e-5*math.Sqrt(float64(tc.k)) {
			t.Errorf("%v: SgemmBF16 differs from Sgemm on rounded copies by %.3g", tc, maxRounded)
		}
		if rel > 8e-3 || rel < 1e-4 {
			t.Errorf("%v: relative RMS difference from float32 = %.3g, want about 2⁻⁹", tc, rel)
		}
	}
}
