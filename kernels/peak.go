package kernels

import (
	"sync"
	"time"
)

// PeakGFLOPS measures the float32 multiply-add peak of this machine on
// threads goroutines at once (threads ≤ 0 means runtime.GOMAXPROCS(0)),
// with the widest FMA instructions the matrix-multiply path uses and no
// memory traffic. Each goroutine runs short timed chunks for about d (at
// least 1 ms) and keeps its fastest chunk, so that time stolen by other
// processes counts as little as possible; the result is the sum over the
// goroutines, in GFLOP/s. Use it as the denominator of a model-FLOPs
// utilisation. The goroutines are not pinned to cores: with more threads
// than free cores the result is lower than the hardware peak.
func PeakGFLOPS(threads int, d time.Duration) float64 {
	loop, flopsPerIter := peakLoop()
	return peakOf(loop, flopsPerIter, threads, d)
}

// PeakBF16GFLOPS is PeakGFLOPS for the bfloat16 dot-product instruction
// of SgemmBF16's AVX-512 BF16 path (VDPBF16PS, two multiply-adds per
// float32 lane), or 0 where this CPU has none. (The AMX tile peak is not
// measured.)
func PeakBF16GFLOPS(threads int, d time.Duration) float64 {
	loop, flopsPerIter := bf16PeakLoop()
	if loop == nil {
		return 0
	}
	return peakOf(loop, flopsPerIter, threads, d)
}

// peakOf measures loop (flopsPerIter flops an iteration) as PeakGFLOPS
// describes.
func peakOf(loop func(n int), flopsPerIter float64, threads int, d time.Duration) float64 {
	if threads <= 0 {
		threads = maxWorkers()
	}
	d = max(d, time.Millisecond)
	// Calibrate a chunk of about 100 µs.
	iters := 1000
	for {
		t0 := time.Now()
		loop(iters)
		if el := time.Since(t0); el > 50*time.Microsecond || iters > 1<<28 {
			iters = max(1, int(float64(iters)*float64(100*time.Microsecond)/float64(el+1)))
			break
		}
		iters *= 4
	}
	rates := make([]float64, threads)
	var wg sync.WaitGroup
	for t := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			end := time.Now().Add(d)
			for time.Now().Before(end) {
				t0 := time.Now()
				loop(iters)
				if r := float64(iters) * flopsPerIter / time.Since(t0).Seconds() / 1e9; r > rates[t] {
					rates[t] = r
				}
			}
		}()
	}
	wg.Wait()
	var sum float64
	for _, r := range rates {
		sum += r
	}
	return sum
}

// fmaLoopGeneric runs n iterations of 8 independent float32
// multiply-adds (16 flops each) in plain Go, and returns a value that
// depends on all of them so the compiler keeps the work.
func fmaLoopGeneric(n int) float32 {
	a0, a1, a2, a3, a4, a5, a6, a7 := float32(0), float32(1), float32(2), float32(3), float32(4), float32(5), float32(6), float32(7)
	x, y := float32(0.999), float32(1e-3)
	for range n {
		a0 = a0*x + y
		a1 = a1*x + y
		a2 = a2*x + y
		a3 = a3*x + y
		a4 = a4*x + y
		a5 = a5*x + y
		a6 = a6*x + y
		a7 = a7*x + y
	}
	return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7
}

// peakSink keeps fmaLoopGeneric's result alive.
var peakSink float32
