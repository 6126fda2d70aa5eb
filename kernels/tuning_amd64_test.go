//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"os"
	"testing"
	"time"
)


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

func minGFLOPS(s benchShape, reps int, run func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int)) float64 {
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
	best := time.Hour
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		run(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
		best = min(best, time.Since(t0))
	}
	return 2 * float64(s.m) * float64(s.n) * float64(s.k) / best.Seconds() / 1e9
}

func TestTune(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	for _, s := range []benchShape{benchShapes[0], benchShapes[3], benchShapes[4]} {
		for _, kc := range []int{128, 192, 256, 384, 512} {
			line := fmt.Sprintf("%s kc%d:", s.name[:3], kc)
			for _, mc := range []int{48, 96, 192, 384} {
				im := &impl{name: "t", mr: 12, nr: 32, kc: kc, mc: mc, nc: 2048, kernel: sgemmKernelAVX512x12}
				g := minGFLOPS(s, 25, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
					sgemm(im, 1, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
				})
				line += fmt.Sprintf(" mc%d=%.0f", mc, g)
			}
			t.Log(line)
		}
	}
}

func TestTunePar(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	for _, s := range benchShapes[:6] {
		line := s.name + ":"
		for _, w := range []int{1, 2} {
			g := minGFLOPS(s, 25, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemm(avx512Impl, w, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
			line += fmt.Sprintf(" w%d=%.0f", w, g)
		}
		t.Log(line)
	}
}

func TestTuneSmall(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	noEdge := &impl{name: "noedge", mr: 12, nr: 32, kc: 256, mc: 192, nc: 2048, kernel: sgemmKernelAVX512x12, packA: packA12AVX512, packB: packB32AVX512}
	for _, s := range []benchShape{
		{"64x64x64_ABt", false, true, 64, 64, 64},
		{"128x64x128_AB", false, false, 128, 64, 128},
		{"128x128x64_ABt", false, true, 128, 128, 64},
		{"64x128x128_AtB", true, false, 64, 128, 128},
		{"100x70x64_AB", false, false, 100, 70, 64},
	} {
		line := s.name + ":"
		for _, im := range []*impl{avx512Impl, noEdge} {
			g := minGFLOPS(s, 2000, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemm(im, 1, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
			line += fmt.Sprintf(" %s=%.0f", im.name, g)
		}
		t.Log(line)
	}
}

func TestTuneBig(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	x := make([]float32, 64<<20)
	y := make([]float32, 64<<20)
	for r := 0; r < 3; r++ {
		t0 := time.Now()
		copy(y, x)
		t.Logf("copy 256MB: %.1f GB/s", 2*256e6/time.Since(t0).Seconds()/1e9)
	}
	for _, s := range benchShapes[6:] {
		for _, w := range []int{1, 2} {
			g := minGFLOPS(s, 2, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemm(avx512Impl, w, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
			t.Logf("%s w%d: %.0f", s.name, w, g)
		}
	}
}

func TestTuneAMX(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	for _, s := range benchShapes[:6] {
		line := s.name + ":"
		for _, w := range []int{1, 2} {
			g := minGFLOPS(s, 15, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemm(avx512Impl, w, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
			h := minGFLOPS(s, 15, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemmAMX(w, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
			line += fmt.Sprintf(" w%d fp32=%.0f amx=%.0f", w, g, h)
		}
		t.Log(line)
	}
}

func BenchmarkAMXSerial(b *testing.B) {
	HasAMX()
	for _, s := range benchShapes[:6] {
		b.Run(s.name, func(b *testing.B) {
			benchGemm(b, s, func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				sgemmAMX(1, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
		})
	}
}
