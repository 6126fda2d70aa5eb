//go:build !amd64 || purego

package kernels

// HasAMX reports whether SgemmBF16 runs on AMX tiles: never on this
// platform.
func HasAMX() bool { return false }

func sgemmAMX(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("kernels: sgemmAMX called without AMX")
}
