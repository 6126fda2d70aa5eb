package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmPanels checks products of packed panels against the float64
// product of the rounded operands: A and B in both layouts, ragged
// row and column panels, runs of B's columns from a 32-aligned start and
// of its k steps from an even one, a k that ends odd, alpha and beta.
func TestGemmPanels(t *testing.T) {
	if !HasPanels() {
		t.Skip("no AVX512_BF16 panels here")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	at := func(x []float32, ld int, trans bool, r, c int) float64 {
		if trans {
			return float64(x[c*ld+r])
		}
		return float64(x[r*ld+c])
	}
	for _, tc := range []struct {
		transA, transB bool
		m, bk, bn      int // A: m×k; B: bk×bn (all of it packed)
		p0, k, j0, n   int // the product's run of B
		alpha, beta    float32
	}{
		{false, true, 13, 64, 100, 0, 64, 32, 68, 0.125, 0},
		{false, true, 128, 64, 256, 0, 64, 128, 128, 1, 0},
		{false, false, 25, 131, 64, 2, 129, 0, 64, 1, 1},
		{false, false, 12, 200, 64, 64, 64, 32, 32, 1, -0.5},
		{true, false, 7, 40, 70, 10, 30, 64, 6, -2, 1},
		{true, true, 50, 33, 33, 0, 33, 0, 33, 1, 0},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			lda := tc.k + 3
			if tc.transA {
				lda = tc.m + 1
			}
			a := randSlice(max(tc.m, tc.k)*lda, rng.Uint64())
			ldb := tc.bn + 2
			if tc.transB {
				ldb = tc.bk + 5
			}
			b := randSlice(max(tc.bk, tc.bn)*ldb, rng.Uint64())
			var pa PanelsA
			var pb PanelsB
			pa.Pack(tc.transA, a, lda, tc.m, tc.k)
			pb.Pack(tc.transB, b, ldb, tc.bk, tc.bn)
			ldc := tc.n + 1
			c := randSlice(tc.m*ldc, rng.Uint64())
			c0 := append([]float32(nil), c...)
			GemmPanels(&pa, &pb, tc.p0, tc.j0, tc.n, tc.alpha, tc.beta, c, ldc)
			ra, rb := roundedOperands(a), roundedOperands(b)
			tol := 2e-6 * math.Sqrt(float64(tc.k+1))
			for i := 0; i < tc.m; i++ {
				for j := 0; j < ldc; j++ {
					got := c[i*ldc+j]
					if j >= tc.n {
						if got != c0[i*ldc+j] {
							t.Fatalf("C[%d][%d] past n changed", i, j)
						}
						continue
					}
					var sum, mag float64
					for p := 0; p < tc.k; p++ {
						x := at(ra, lda, tc.transA, i, p) * at(rb, ldb, tc.transB, tc.p0+p, tc.j0+j)
						sum += x
						mag += math.Abs(x)
					}
					want := float64(tc.alpha)*sum + float64(tc.beta)*float64(c0[i*ldc+j])
					if tc.beta == 0 {
						want = float64(tc.alpha) * sum
					}
					if d := math.Abs(float64(got) - want); d > tol*(math.Abs(float64(tc.alpha))*mag+math.Abs(float64(tc.beta*c0[i*ldc+j])))+1e-30 {
						t.Fatalf("C[%d][%d] = %g, want %g", i, j, got, want)
					}
				}
			}
		})
	}
}

// TestGemmPanelsChecks: a run of B that is not aligned, or past its end,
// panics with the sizes.
func TestGemmPanelsChecks(t *testing.T) {
	if !HasPanels() {
		t.Skip("no AVX512_BF16 panels here")
	}
	var pa PanelsA
	var pb PanelsB
	pa.Pack(false, randSlice(4*8, 1), 8, 4, 8)
	pb.Pack(true, randSlice(64*16, 2), 16, 16, 64)
	c := make([]float32, 4*64)
	for _, bad := range [][3]int{{0, 1, 10}, {1, 0, 10}, {10, 0, 10}, {0, 32, 40}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("p0 %d, j0 %d, n %d: no panic", bad[0], bad[1], bad[2])
				}
			}()
			GemmPanels(&pa, &pb, bad[0], bad[1], bad[2], 1, 0, c, 64)
		}()
	}
}
