package kernels

import (
	"runtime"
	"testing"
	"time"
)

// TestPeakGFLOPS checks that the measurement returns a plausible figure:
// positive, and for the assembly paths at least what one core's scalar
// loop could do.
func TestPeakGFLOPS(t *testing.T) {
	p1 := PeakGFLOPS(1, 20*time.Millisecond)
	if !(p1 > 0.1) || p1 > 1e5 {
		t.Fatalf("PeakGFLOPS(1) = %g, not plausible", p1)
	}
	t.Logf("PeakGFLOPS(1) = %.1f on the %s path", p1, Implementation())
}

// BenchmarkPeakGFLOPS reports the FMA peak on one goroutine and on
// GOMAXPROCS goroutines (best 100 µs chunk per goroutine over 200 ms).
func BenchmarkPeakGFLOPS(b *testing.B) {
	for _, threads := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(map[bool]string{true: "1thread", false: "allthreads"}[threads == 1], func(b *testing.B) {
			var g float64
			for b.Loop() {
				g = max(g, PeakGFLOPS(threads, 200*time.Millisecond))
			}
			b.ReportMetric(g, "GFLOP/s")
		})
	}
}

// TestPeakBF16GFLOPS checks that the VDPBF16PS peak, where there is one,
// is plausible and above the float32 FMA peak's half (it does twice the
// multiply-adds per instruction).
func TestPeakBF16GFLOPS(t *testing.T) {
	if dpbf16Impl == nil {
		if p := PeakBF16GFLOPS(1, time.Millisecond); p != 0 {
			t.Fatalf("PeakBF16GFLOPS = %g without AVX512_BF16, want 0", p)
		}
		t.Skip("no AVX512_BF16")
	}
	p := PeakBF16GFLOPS(1, 20*time.Millisecond)
	f := PeakGFLOPS(1, 20*time.Millisecond)
	t.Logf("one goroutine: VDPBF16PS %.1f GFLOP/s, FMA %.1f GFLOP/s", p, f)
	if !(p > 0.5*f) || p > 1e5 {
		t.Fatalf("PeakBF16GFLOPS(1) = %g against an FMA peak of %g: not plausible", p, f)
	}
}
