package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShape is a product at a size the trainer runs.
type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

var benchShapes = []benchShape{
	{"qkv_T1024_384x1152_ABt", false, true, 1024, 1152, 384},
	{"mlp_T1024_384x1024_AB", false, false, 1024, 1024, 384},
	{"mlp_T1024_384x1024_ABt", false, true, 1024, 1024, 384},
	{"dX_T1024_1152x384_AB", false, false, 1024, 384, 1152},
	{"dW_1152x384_T1024_AtB", true, false, 1152, 384, 1024},
	{"dW_1024x384_T1024_AtB", true, false, 1024, 384, 1024},
	{"peak_4096_AB", false, false, 4096, 4096, 4096},
	{"llama_512x4096x14336_ABt", false, true, 512, 14336, 4096},
	{"llama_dW_14336x4096_T512_AtB", true, false, 14336, 4096, 512},
}

func randSlice(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// benchGemm times one product and reports GFLOP/s.
func benchGemm(b *testing.B, s benchShape, run func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)) {
	lda, ldb := s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	a := randSlice(s.m*s.k, 1)
	bm := randSlice(s.k*s.n, 2)
	c := make([]float32, s.m*s.n)
	b.ResetTimer()
	for b.Loop() {
		run(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
	}
	b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm runs each transformer shape on every path this machine
// has (the generic path only on the smaller shapes), so one command shows
// the assembly paths next to the portable one.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		for _, im := range impls() {
			if im == genericImpl && s.m*s.n*s.k > 1<<29 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", s.name, im.name), func(b *testing.B) {
				benchGemm(b, s, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
					sgemm(im, maxWorkers(), tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
				})
			})
		}
	}
}

// BenchmarkSgemmBF16 runs SgemmBF16 (AMX when HasAMX) next to Sgemm on
// the transformer shapes; the ratio of their GFLOP/s is the speed-up
// bfloat16 buys on this machine.
func BenchmarkSgemmBF16(b *testing.B) {
	b.Logf("HasAMX() = %v, Implementation() = %s", HasAMX(), Implementation())
	for _, s := range benchShapes {
		b.Run(s.name+"/Sgemm", func(b *testing.B) { benchGemm(b, s, Sgemm) })
		b.Run(s.name+"/SgemmBF16", func(b *testing.B) { benchGemm(b, s, SgemmBF16) })
	}
}

// BenchmarkMicroKernel runs each path's micro-kernel alone on packed
// panels that stay in L1: the ceiling of that path on one core.
func BenchmarkMicroKernel(b *testing.B) {
	for _, im := range impls() {
		b.Run(im.name, func(b *testing.B) {
			pa := randSlice(im.mr*im.kc, 1)
			pb := randSlice(im.nr*im.kc, 2)
			c := make([]float32, im.mr*im.nr)
			for b.Loop() {
				im.kernel(im.kc, &pa[0], &pb[0], &c[0], im.nr, 1, 1)
			}
			b.ReportMetric(2*float64(im.mr*im.nr*im.kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmSerialSmall runs the per-head tile shapes through
// SgemmSerial's path on one goroutine.
func BenchmarkSgemmSerialSmall(b *testing.B) {
	shapes := []benchShape{
		{"64x64x64_ABt", false, true, 64, 64, 64},
		{"128x64x128_AB", false, false, 128, 64, 128},
		{"128x128x64_ABt", false, true, 128, 128, 64},
		{"64x128x128_AtB", true, false, 64, 128, 128},
	}
	for _, s := range shapes {
		for _, im := range impls() {
			b.Run(fmt.Sprintf("%s/%s", s.name, im.name), func(b *testing.B) {
				benchGemm(b, s, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
					sgemm(im, 1, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
				})
			})
		}
	}
}
