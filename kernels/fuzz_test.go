package kernels

import "testing"

// FuzzSgemm checks every path against the float64 reference on shapes,
// layouts, strides, scalars and worker counts drawn from the fuzz input.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(7), uint8(33), uint8(17), uint8(0), uint64(1))
	f.Add(uint8(64), uint8(64), uint8(64), uint8(3), uint64(2))
	f.Add(uint8(1), uint8(100), uint8(255), uint8(0xff), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags uint8, seed uint64) {
		defer func(v int) { minParallelFlops = v }(minParallelFlops)
		minParallelFlops = 0
		tc := fuzzCase(m, n, k, flags, [4]float32{1, -0.5, 2, 0})
		workers := 1 + int(seed%3)
		for _, im := range testImpls() {
			checkGemm(t, tc, seed, func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
				sgemm(im, workers, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			})
		}
	})
}

// fuzzCase decodes a fuzz input into a product: layouts from bits 0–1 of
// flags, alpha (one of alphas) from bits 2–3, beta from bits 4–5, the
// stride padding from bits 6–7, and sizes m < 80, n < 100, k < 130.
func fuzzCase(m, n, k, flags uint8, alphas [4]float32) gemmCase {
	return gemmCase{
		transA: flags&1 != 0, transB: flags&2 != 0,
		m: int(m % 80), n: int(n % 100), k: int(k % 130),
		alpha: alphas[flags>>2&3],
		beta:  []float32{0, 1, -1.5, 0.25}[flags>>4&3],
		pad:   int(flags >> 6),
	}
}
