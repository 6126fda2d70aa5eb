//go:build openblas && cgo

package blasbench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/kernels"
)

type shape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

// shapes are the products the trainer runs (T = sequence tokens per step),
// plus a square peak case and Llama-8B-sized MLP slices.
var shapes = []shape{
	{"qkv_T1024_384x1152_ABt", false, true, 1024, 1152, 384},
	{"mlp_T1024_384x1024_AB", false, false, 1024, 1024, 384},
	{"mlp_T1024_384x1024_ABt", false, true, 1024, 1024, 384},
	{"dX_T1024_1152x384_AB", false, false, 1024, 384, 1152},
	{"dW_1152x384_T1024_AtB", true, false, 1152, 384, 1024},
	{"dW_1024x384_T1024_AtB", true, false, 1024, 384, 1024},
	{"attn_64x64x64_ABt_serial", false, true, 64, 64, 64},
	{"attn_128x64x128_AB_serial", false, false, 128, 64, 128},
	{"peak_4096_AB", false, false, 4096, 4096, 4096},
	{"llama_512x4096x14336_ABt", false, true, 512, 14336, 4096},
	{"llama_dW_14336x4096_T512_AtB", true, false, 14336, 4096, 512},
}

type operands struct {
	a, b, c       []float32
	lda, ldb, ldc int
}

func newOperands(s shape, seed uint64) operands {
	rng := rand.New(rand.NewPCG(seed, 9))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	o := operands{a: fill(s.m * s.k), b: fill(s.k * s.n), c: fill(s.m * s.n), lda: s.k, ldb: s.n, ldc: s.n}
	if s.transA {
		o.lda = s.m
	}
	if s.transB {
		o.ldb = s.k
	}
	return o
}

// ours is the kernels entry point a shape uses: SgemmSerial for the
// per-head tiles (OpenBLAS then also runs them, on its own threads).
func ours(s shape) func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int) {
	if len(s.name) > 7 && s.name[len(s.name)-7:] == "_serial" {
		return kernels.SgemmSerial
	}
	return kernels.Sgemm
}

// roundBF16 rounds every element of x to bfloat16 (nearest, ties to even).
func roundBF16(x []float32) {
	for i, v := range x {
		u := math.Float32bits(v)
		x[i] = math.Float32frombits((u + 0x7fff + (u>>16)&1) &^ 0xffff)
	}
}

// TestMatchesOpenBLAS compares kernels.Sgemm with OpenBLAS on every
// layout, with alpha and beta not 1, at sizes with edges; and
// kernels.SgemmBF16 with OpenBLAS on the same operands rounded to
// bfloat16 (an independent rounding written here).
func TestMatchesOpenBLAS(t *testing.T) {
	t.Logf("kernels path %s, AMX %v", kernels.Implementation(), kernels.HasAMX())
	for _, s := range []shape{
		{"NN", false, false, 131, 77, 300},
		{"NT", false, true, 64, 200, 129},
		{"TN", true, false, 250, 33, 97},
		{"TT", true, true, 45, 130, 260},
	} {
		o := newOperands(s, 1)
		c2 := append([]float32(nil), o.c...)
		kernels.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 0.75, o.a, o.lda, o.b, o.ldb, -0.5, o.c, o.ldc)
		sgemmOpenBLAS(s.transA, s.transB, s.m, s.n, s.k, 0.75, o.a, o.lda, o.b, o.ldb, -0.5, c2, o.ldc)
		tol := 4e-6 * math.Sqrt(float64(s.k))
		for i := range o.c {
			if d := math.Abs(float64(o.c[i] - c2[i])); d > tol*(1+math.Abs(float64(c2[i]))) {
				t.Fatalf("%s: C[%d] = %g, OpenBLAS %g", s.name, i, o.c[i], c2[i])
			}
		}

		c3 := append([]float32(nil), c2...)
		c4 := append([]float32(nil), c2...)
		kernels.SgemmBF16(s.transA, s.transB, s.m, s.n, s.k, 0.75, o.a, o.lda, o.b, o.ldb, -0.5, c3, o.ldc)
		ra, rb := append([]float32(nil), o.a...), append([]float32(nil), o.b...)
		roundBF16(ra)
		roundBF16(rb)
		sgemmOpenBLAS(s.transA, s.transB, s.m, s.n, s.k, 0.75, ra, o.lda, rb, o.ldb, -0.5, c4, o.ldc)
		for i := range c3 {
			if d := math.Abs(float64(c3[i] - c4[i])); d > tol*(1+math.Abs(float64(c4[i]))) {
				t.Fatalf("%s: SgemmBF16 C[%d] = %g, OpenBLAS on rounded operands %g", s.name, i, c3[i], c4[i])
			}
		}
	}
}

// gemmFunc is the signature shared by kernels.Sgemm, its variants and
// the OpenBLAS wrapper.
type gemmFunc = func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)

// BenchmarkVsOpenBLAS runs, for each shape, our Sgemm, OpenBLAS's
// cblas_sgemm and our SgemmBF16 in rotation inside one benchmark, so that
// all three see the same machine load. It reports each one's GFLOP/s over
// all calls (ours_, openblas_, bf16_GFLOP/s) and the speed ratios against
// OpenBLAS (ratio for Sgemm, bf16_ratio for SgemmBF16; above 1 is
// faster), and the same from each one's fastest call (best_*), which is
// less sensitive to other processes on a shared machine. b.N counts
// rounds of three calls. The per-head shapes (suffix _serial) use
// SgemmSerial; OpenBLAS uses its threads on every shape.
func BenchmarkVsOpenBLAS(b *testing.B) {
	b.Logf("GOMAXPROCS=%d, OpenBLAS %s with %d threads, kernels path %s, AMX %v",
		runtime.GOMAXPROCS(0), openblasCore(), openblasThreads(), kernels.Implementation(), kernels.HasAMX())
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			o := newOperands(s, 2)
			fns := []gemmFunc{ours(s), sgemmOpenBLAS, kernels.SgemmBF16}
			run := func(f gemmFunc) time.Duration {
				t0 := time.Now()
				f(s.transA, s.transB, s.m, s.n, s.k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, o.ldc)
				return time.Since(t0)
			}
			// One untimed call each: first-touch page faults, pools, threads.
			for _, f := range fns {
				run(f)
			}
			var total [3]time.Duration
			best := [3]time.Duration{math.MaxInt64, math.MaxInt64, math.MaxInt64}
			i := 0
			for b.Loop() {
				for j := range fns {
					f := (i + j) % len(fns) // rotate the order
					d := run(fns[f])
					total[f] += d
					best[f] = min(best[f], d)
				}
				i++
			}
			flop := 2 * float64(s.m) * float64(s.n) * float64(s.k) / 1e9
			n := float64(b.N)
			b.ReportMetric(flop*n/total[0].Seconds(), "ours_GFLOP/s")
			b.ReportMetric(flop*n/total[1].Seconds(), "openblas_GFLOP/s")
			b.ReportMetric(flop*n/total[2].Seconds(), "bf16_GFLOP/s")
			b.ReportMetric(total[1].Seconds()/total[0].Seconds(), "ratio")
			b.ReportMetric(total[1].Seconds()/total[2].Seconds(), "bf16_ratio")
			b.ReportMetric(flop/best[0].Seconds(), "best_ours_GFLOP/s")
			b.ReportMetric(flop/best[1].Seconds(), "best_openblas_GFLOP/s")
			b.ReportMetric(flop/best[2].Seconds(), "best_bf16_GFLOP/s")
			b.ReportMetric(best[1].Seconds()/best[0].Seconds(), "best_ratio")
			b.ReportMetric(best[1].Seconds()/best[2].Seconds(), "best_bf16_ratio")
		})
	}
}

func ExampleImplementation() {
	fmt.Println(kernels.Implementation() != "")
	// Output: true
}
