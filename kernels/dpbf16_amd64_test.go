//go:build amd64 && !purego

package kernels

import (
	"testing"
	"time"
)

// BenchmarkDPBF16MicroKernel runs the 12×32 VDPBF16PS kernel alone on
// packed panels that stay in L1 (256 pairs): the ceiling of the path on
// one core, to set against PeakBF16GFLOPS(1). It reports the fastest of
// chunks of 20 calls (best-GFLOP/s, robust to other load on a shared
// machine) besides the mean.
func BenchmarkDPBF16MicroKernel(b *testing.B) {
	if dpbf16Impl == nil {
		b.Skip("no AVX512_BF16")
	}
	const kp = 256
	pa := randSlice(12*kp, 1)
	pb := randSlice(32*kp, 2)
	c := make([]float32, 12*32)
	const flops = 2 * 12 * 32 * 2 * kp
	best := 0.0
	for b.Loop() {
		t0 := time.Now()
		for range 20 {
			dpbf16Tile(12, 32, kp, &pa[0], &pb[0], &c[0], 32, 1, 0, 0)
		}
		best = max(best, 20*flops/time.Since(t0).Seconds()/1e9)
	}
	b.ReportMetric(float64(b.N)*20*flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(best, "best-GFLOP/s")
}
