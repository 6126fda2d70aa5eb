package kernels

import "testing"

// A tall op(A) = Aᵀ (m ≫ k), the LM-head weight-gradient shape, once
// panicked when a worker split began past row k.
func TestSgemmTallTransposedA(t *testing.T) {
	for _, sh := range [][3]int{{4096, 64, 32}, {8192, 256, 8}, {5000, 300, 7}} {
		m, n, k := sh[0], sh[1], sh[2]
		a := make([]float32, k*m)
		b := make([]float32, k*n)
		for i := range a {
			a[i] = float32(i%7) - 3
		}
		for i := range b {
			b[i] = float32(i%5) - 2
		}
		c := make([]float32, m*n)
		Sgemm(true, false, m, n, k, 1, a, m, b, n, 0, c, n)
		want := make([]float32, m*n)
		sgemmRef(true, false, m, n, k, 1, a, m, b, n, 0, want, n)
		for i := range c {
			if c[i] != want[i] {
				t.Fatalf("%v: c[%d]=%v want %v", sh, i, c[i], want[i])
			}
		}
	}
}
