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
