package kernels

import (
	"fmt"
	"math"
	"testing"
)

// TestRowDotMatchesRounded checks the row-dot path (A·Bᵀ with few rows)
// against the product of rounded operands: every group size of A's rows
// and its remainder, B's rows split among workers, k in whole and partial
// chunks of 32, padded strides and every scalar case.
func TestRowDotMatchesRounded(t *testing.T) {
	if !useRowDot(false, true, 1) {
		t.Skip("no AVX512_BF16: no row-dot path")
	}
	n := 0
	for _, m := range []int{1, 2, 3, 4, 5, 7, 8, 9, 13} {
		for _, cols := range []int{1, 31, 64, 65, 300} {
			for _, k := range []int{1, 2, 31, 32, 33, 64, 100, 385} {
				tc := gemmCase{false, true, m, cols, k, []float32{1, 0.125, -2}[n%3], []float32{0, 1, -0.5}[n/3%3], n % 3, false}
				workers := 1 + n%3
				n++
				t.Run(fmt.Sprintf("w%d/%v", workers, tc), func(t *testing.T) {
					checkBF16(t, tc, uint64(n), func(a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
						sgemmRowDot(workers, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
					})
				})
			}
		}
	}
}

// TestRowDotSpecial checks rounding at ties, NaN and values that round up
// to infinity on both operands of the row-dot path, through the public
// SgemmBF16: A is rounded while packing, B in registers by the kernel.
func TestRowDotSpecial(t *testing.T) {
	if !useRowDot(false, true, 1) {
		t.Skip("no AVX512_BF16: no row-dot path")
	}
	for _, m := range []int{1, 6} {
		n, k := 70, 41
		a := make([]float32, m*k)
		b := make([]float32, n*k) // Bᵀ: n rows of k
		for i := range a {
			a[i] = math.Float32frombits(0x3f808000) // a tie: rounds down to 1
		}
		for i := range b {
			b[i] = math.Float32frombits(0x3f818000) // a tie: rounds up to 1 + 2⁻⁶
		}
		nanRow, infCol, nanCol := m-1, 33, 50
		a[nanRow*k+40] = float32(math.NaN()) // in the partial chunk
		b[infCol*k+3] = math.MaxFloat32      // rounds up to +Inf
		b[nanCol*k+32] = float32(math.NaN())
		c := make([]float32, m*n)
		SgemmBF16(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
		want := float32(k) * (1 + 1.0/64)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				got := c[i*n+j]
				switch {
				case i == nanRow || j == nanCol:
					if !math.IsNaN(float64(got)) {
						t.Fatalf("m=%d: C[%d][%d] = %g, want NaN", m, i, j, got)
					}
				case j == infCol:
					if !math.IsInf(float64(got), 1) {
						t.Fatalf("m=%d: C[%d][%d] = %g, want +Inf (MaxFloat32 rounds up)", m, i, j, got)
					}
				case got != want:
					t.Fatalf("m=%d: C[%d][%d] = %g, want %g (ties to even)", m, i, j, got, want)
				}
			}
		}
	}
}

// BenchmarkRowDot compares, for few rows of A times a decoder's weight
// matrix (Bᵀ, d = 384 → 1024), the row-dot path with packing B into pair
// panels: the crossover sets rowDotMax.
func BenchmarkRowDot(b *testing.B) {
	if !useRowDot(false, true, 1) {
		b.Skip("no AVX512_BF16: no row-dot path")
	}
	const n, k = 1024, 384
	w := randSlice(n*k, 1)
	for _, m := range []int{1, 4, 8, 12, 16, 24, 32} {
		a := randSlice(m*k, 2)
		c := make([]float32, m*n)
		for _, path := range []string{"rowdot", "packed"} {
			b.Run(fmt.Sprintf("m=%d/%s", m, path), func(b *testing.B) {
				for b.Loop() {
					if path == "rowdot" {
						sgemmRowDot(1, m, n, k, 1, a, k, w, k, 0, c, n)
					} else {
						sgemm(dpbf16Impl, 1, false, true, m, n, k, 1, a, k, w, k, 0, c, n)
					}
				}
				b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
