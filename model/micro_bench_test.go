package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
)

// BenchmarkExpShift measures expShift per element against math.Exp.
func BenchmarkExpShift(b *testing.B) {
	x := make([]float32, 4096)
	y := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%97) * -0.13
	}
	b.Run("expShift", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			copy(y, x)
			expShift(y, 0.5)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
	})
	b.Run("math.Exp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, v := range x {
				y[j] = float32(math.Exp(float64(v - 0.5)))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
	})
}

// BenchmarkAttention times the attention forward+backward of one layer of
// the benchmark model (6 heads of 64) at T=2048 for several tile sizes.
func BenchmarkAttention(b *testing.B) {
	d := &dims{H: 6, KV: 6, HD: 64, QD: 384, KVD: 384}
	T := 2048
	rng := newRng(3)
	q, k, v := randVec(rng, T*d.QD, 1), randVec(rng, T*d.KVD, 1), randVec(rng, T*d.KVD, 1)
	o, lse, do := make([]float32, T*d.QD), make([]float32, T*d.H), randVec(rng, T*d.QD, 1)
	dq, dk, dv := make([]float32, T*d.QD), make([]float32, T*d.KVD), make([]float32, T*d.KVD)
	for _, ts := range [][2]int{{32, 32}, {64, 64}, {128, 128}, {128, 256}} {
		b.Run(fmt.Sprintf("tiles=%dx%d", ts[0], ts[1]), func(b *testing.B) {
			c0 := cpuSeconds()
			withTiles(ts[0], ts[1], func() {
				for i := 0; i < b.N; i++ {
					attnForward(FP32, o, lse, q, T, 0, k, v, T, d, mask{}, 0, nil)
					attnBackward(FP32, dq, dk, dv, do, q, k, v, o, lse, T, d, 0, 0, nil)
				}
			})
			b.ReportMetric((cpuSeconds()-c0)*1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

func newRng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// cpuSeconds returns the process's user+system CPU time (robust to other
// processes sharing the machine, unlike wall time).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
