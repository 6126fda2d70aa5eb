package kernels

import (
	"testing"
	"time"
)

func BenchmarkMicroKernel(b *testing.B) {
	for _, im := range impls() {
		b.Run(im.name, func(b *testing.B) {
			kc := im.kc
			pa := randSlice(im.mr*kc, 1)
			pb := randSlice(im.nr*kc, 2)
			c := make([]float32, im.mr*im.nr)
			for b.Loop() {
				im.kernel(kc, &pa[0], &pb[0], &c[0], im.nr, 1, 1)
			}
			b.ReportMetric(2*float64(im.mr*im.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkPeakLoop(b *testing.B) {
	b.Run("avx512", func(b *testing.B) {
		t := time.Now()
		for b.Loop() {
			fmaLoopAVX512(1000)
		}
		b.ReportMetric(768*1000*float64(b.N)/time.Since(t).Seconds()/1e9, "GFLOP/s")
	})
	b.Run("avx2", func(b *testing.B) {
		t := time.Now()
		for b.Loop() {
			fmaLoopAVX2(1000)
		}
		b.ReportMetric(192*1000*float64(b.N)/time.Since(t).Seconds()/1e9, "GFLOP/s")
	})
}

func BenchmarkSerialShapes(b *testing.B) {
	for _, s := range benchShapes[:6] {
		b.Run(s.name, func(b *testing.B) {
			benchGemm(b, s, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemm(avx512Impl, 1, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
		})
	}
}
