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

// TestMatchesOpenBLAS compares kernels.Sgemm with OpenBLAS on every
// layout, with alpha and beta not 1, at sizes with edges.
func TestMatchesOpenBLAS(t *testing.T) {
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
	}
}

// BenchmarkVsOpenBLAS runs, for each shape, our Sgemm and OpenBLAS in
// alternation inside one benchmark, so that both see the same machine
// load, and reports each one's GFLOP/s over all calls (ours_GFLOP/s,
// openblas_GFLOP/s) and their ratio (ours / OpenBLAS speed; above 1 is
// faster), and the same from each one's fastest call (best_*), which is
// less sensitive to other processes on a shared machine. b.N counts
// pairs of calls.
func BenchmarkVsOpenBLAS(b *testing.B) {
	b.Logf("GOMAXPROCS=%d, OpenBLAS %s with %d threads, kernels path %s",
		runtime.GOMAXPROCS(0), openblasCore(), openblasThreads(), kernels.Implementation())
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			o := newOperands(s, 2)
			fn := ours(s)
			run := func(f func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)) time.Duration {
				t0 := time.Now()
				f(s.transA, s.transB, s.m, s.n, s.k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, o.ldc)
				return time.Since(t0)
			}
			// One untimed call each: first-touch page faults, pools, threads.
			run(fn)
			run(sgemmOpenBLAS)
			var tOurs, tBlas time.Duration
			bestOurs, bestBlas := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
			i := 0
			for b.Loop() {
				var to, tb time.Duration
				if i%2 == 0 {
					to = run(fn)
					tb = run(sgemmOpenBLAS)
				} else {
					tb = run(sgemmOpenBLAS)
					to = run(fn)
				}
				tOurs, tBlas = tOurs+to, tBlas+tb
				bestOurs, bestBlas = min(bestOurs, to), min(bestBlas, tb)
				i++
			}
			flop := 2 * float64(s.m) * float64(s.n) * float64(s.k) / 1e9
			n := float64(b.N)
			b.ReportMetric(flop*n/tOurs.Seconds(), "ours_GFLOP/s")
			b.ReportMetric(flop*n/tBlas.Seconds(), "openblas_GFLOP/s")
			b.ReportMetric(tBlas.Seconds()/tOurs.Seconds(), "ratio")
			b.ReportMetric(flop/bestOurs.Seconds(), "best_ours_GFLOP/s")
			b.ReportMetric(flop/bestBlas.Seconds(), "best_openblas_GFLOP/s")
			b.ReportMetric(bestBlas.Seconds()/bestOurs.Seconds(), "best_ratio")
		})
	}
}

func ExampleImplementation() {
	fmt.Println(kernels.Implementation() != "")
	// Output: true
}
