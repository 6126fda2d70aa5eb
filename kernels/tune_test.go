package kernels

import (
	"fmt"
	"os"
	"testing"
	"time"
)

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
			gm, gn := avx512Impl.grid(w, s.m, s.n, s.k)
			line += fmt.Sprintf(" w%d(%dx%d)=%.0f", w, gm, gn, g)
		}
		t.Log(line)
	}
}
