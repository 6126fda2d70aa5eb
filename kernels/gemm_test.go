package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// gemmCase is one product to check against the float64 reference.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int  // extra columns in every stride
	bf16           bool // A and B hold bfloat16-exact values
}

func (tc gemmCase) String() string {
	l := map[bool]string{false: "N", true: "T"}
	return fmt.Sprintf("%s%s_m%d_n%d_k%d_a%g_b%g_pad%d", l[tc.transA], l[tc.transB], tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

const guardLen = 67 // floats after each matrix that must stay untouched
const guardVal = float32(-12345.5)

// operands builds A, B, C for tc with random values, a stride of cols+pad
// and a guard region after each slice's last element.
func (tc gemmCase) operands(rng *rand.Rand) (a, b, c []float32, lda, ldb, ldc int) {
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	mk := func(rows, cols int, nanFill bool) ([]float32, int) {
		ld := max(1, cols+tc.pad)
		n := 0
		if rows > 0 && cols > 0 {
			n = (rows-1)*ld + cols
		}
		x := make([]float32, n+guardLen)
		for i := range x[:n] {
			x[i] = float32(rng.NormFloat64())
			if tc.bf16 {
				x[i] = math.Float32frombits(uint32(toBF16(x[i])) << 16)
			}
			if nanFill {
				x[i] = float32(math.NaN())
			}
		}
		for i := n; i < len(x); i++ {
			x[i] = guardVal
		}
		return x[:n], ld
	}
	a, lda = mk(ar, ac, false)
	b, ldb = mk(br, bc, false)
	c, ldc = mk(tc.m, tc.n, tc.beta == 0)
	return
}

// refGemm64 returns alpha·op(A)·op(B) + beta·C accumulated in float64, and
// for each element the sum of the magnitudes of its terms (for tolerances).
func refGemm64(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) (want, mag []float64) {
	want = make([]float64, tc.m*tc.n)
	mag = make([]float64, tc.m*tc.n)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var s, g float64
			for p := 0; p < tc.k; p++ {
				var av, bv float32
				if tc.transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tc.transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				t := float64(av) * float64(bv)
				s += t
				g += math.Abs(t)
			}
			s *= float64(tc.alpha)
			g *= math.Abs(float64(tc.alpha))
			if tc.beta != 0 {
				cv := float64(tc.beta) * float64(c[i*ldc+j])
				s += cv
				g += math.Abs(cv)
			}
			want[i*tc.n+j], mag[i*tc.n+j] = s, g
		}
	}
	return want, mag
}

// checkGemm runs tc through run and compares with the float64 reference:
// every element within 2e-6·sqrt(k+1) of the magnitude of its terms, the
// stride padding and guard regions untouched.
func checkGemm(t *testing.T, tc gemmCase, seed uint64, run func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, uint64(tc.m*7919+tc.n*31+tc.k)))
	a, b, c, lda, ldb, ldc := tc.operands(rng)
	c0 := append([]float32(nil), c...)
	want, mag := refGemm64(tc, a, lda, b, ldb, c, ldc)
	run(tc, a, lda, b, ldb, c, ldc)
	tol := 2e-6 * math.Sqrt(float64(tc.k+1))
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc && i*ldc+j < len(c); j++ {
			got := c[i*ldc+j]
			if j >= tc.n {
				if math.Float32bits(got) != math.Float32bits(c0[i*ldc+j]) {
					t.Errorf("%v: C[%d][%d] in the stride padding changed from %g to %g", tc, i, j, c0[i*ldc+j], got)
					return
				}
				continue
			}
			w, g := want[i*tc.n+j], mag[i*tc.n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol*g+1e-30) {
				if bad < 5 {
					t.Errorf("%v: C[%d][%d] = %g, want %g (|diff| %.3g > tol %.3g)", tc, i, j, got, w, d, tol*g)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%v: %d wrong elements", tc, bad)
	}
	for name, x := range map[string][]float32{"A": a, "B": b, "C": c} {
		for i, v := range x[len(x):cap(x)][:guardLen] {
			if v != guardVal {
				t.Fatalf("%v: wrote past the end of %s (guard %d = %g)", tc, name, i, v)
			}
		}
	}
}

// smallBlocks returns a copy of im with tiny cache blocks, so that the
// k-, row- and column-block loops all take several turns on small shapes.
func smallBlocks(im *impl) *impl {
	return &impl{name: im.name + "-smallblocks", mr: im.mr, nr: im.nr, kc: 5, mc: 2 * im.mr, nc: 3 * im.nr, kernel: im.kernel, packA: im.packA, packB: im.packB, edge: im.edge, direct: im.direct}
}

// testImpls lists every path with its own blocking, with tiny blocks,
// and (where it has them) without edge kernels (edge tiles through the Go
// copy) and without the direct kernels (A always packed).
func testImpls() []*impl {
	var l []*impl
	for _, im := range impls() {
		l = append(l, im, smallBlocks(im))
		if im.edge != nil {
			noEdge := smallBlocks(im)
			noEdge.name, noEdge.edge, noEdge.direct = im.name+"-tileedges", nil, nil
			l = append(l, noEdge)
		}
		if im.direct != nil {
			packed := smallBlocks(im)
			packed.name, packed.direct = im.name+"-packedA", nil
			l = append(l, packed)
		}
	}
	return l
}

func TestSgemmLayoutsAndEdges(t *testing.T) {
	sizes := []int{1, 7, 17, 33, 100}
	type ab struct{ alpha, beta float32 }
	scalars := []ab{{1, 0}, {1, 1}, {-0.5, 2}, {2, -1}}
	for _, im := range testImpls() {
		t.Run(im.name, func(t *testing.T) {
			n := 0
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, m := range sizes {
						for _, nn := range sizes {
							for _, k := range sizes {
								s := scalars[n%len(scalars)]
								tc := gemmCase{tA, tB, m, nn, k, s.alpha, s.beta, n % 3, false}
								n++
								checkGemm(t, tc, 1, func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
									sgemm(im, 1, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
								})
							}
						}
					}
				}
			}
		})
	}
}

// TestSgemmLarger covers shapes past one cache block (k > kc, m > mc) and
// the parallel split with 2 and 3 workers.
func TestSgemmLarger(t *testing.T) {
	cases := []gemmCase{
		{false, false, 257, 130, 300, 1, 0, 0, false},
		{false, true, 200, 257, 290, 1, 1, 3, false},
		{true, false, 130, 100, 513, 0.5, 0, 1, false},
		{true, true, 97, 301, 260, -1, 0.25, 0, false},
		{false, false, 13, 2100, 40, 1, 0, 0, false},
		{false, true, 30, 700, 50, 1, 0.5, 1, false},
	}
	for _, im := range impls() {
		for _, workers := range []int{1, 2, 3} {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/w%d/%v", im.name, workers, tc), func(t *testing.T) {
					checkGemm(t, tc, 2, func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
						sgemm(im, workers, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
					})
				})
			}
		}
	}
}

// TestSgemmPublic checks Sgemm and SgemmSerial (the default path) and the
// degenerate cases: k = 0, alpha = 0 (A and B not read, NaN there ignored).
func TestSgemmPublic(t *testing.T) {
	for _, f := range []struct {
		name string
		fn   func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)
	}{{"Sgemm", Sgemm}, {"SgemmSerial", SgemmSerial}} {
		for _, tc := range []gemmCase{
			{false, true, 64, 64, 64, 1, 0, 0, false},
			{true, false, 128, 64, 128, 1, 1, 0, false},
			{false, false, 150, 190, 110, 1, 0, 2, false},
			{false, false, 5, 6, 0, 1, 0.5, 0, false},
			{false, false, 0, 6, 3, 1, 0.5, 0, false},
		} {
			t.Run(f.name+"/"+tc.String(), func(t *testing.T) {
				checkGemm(t, tc, 3, func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
					f.fn(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
				})
			})
		}
	}
	nan := float32(math.NaN())
	a := []float32{nan, nan, nan, nan}
	c := []float32{1, 2, 3, nan}
	Sgemm(false, false, 2, 2, 2, 0, a, 2, a, 2, 0.5, c, 2)
	if c[0] != 0.5 || c[1] != 1 || c[2] != 1.5 || !math.IsNaN(float64(c[3])) {
		t.Errorf("alpha=0, beta=0.5: C = %v, want [0.5 1 1.5 NaN]", c)
	}
	Sgemm(false, false, 2, 2, 2, 0, a, 2, a, 2, 0, c, 2)
	for i, v := range c {
		if v != 0 {
			t.Errorf("alpha=0, beta=0: C[%d] = %g, want 0", i, v)
		}
	}
}

// TestSgemmRandomShapes is a property test: random shapes, layouts,
// strides, scalars and worker counts on every path agree with the
// reference. The parallel threshold is lifted so that even these small
// shapes are split between workers.
func TestSgemmRandomShapes(t *testing.T) {
	defer func(v int) { minParallelFlops = v }(minParallelFlops)
	minParallelFlops = 0
	rng := rand.New(rand.NewPCG(7, 7))
	for _, im := range testImpls() {
		for it := 0; it < 60; it++ {
			tc := gemmCase{
				transA: rng.IntN(2) == 1, transB: rng.IntN(2) == 1,
				m: 1 + rng.IntN(70), n: 1 + rng.IntN(90), k: 1 + rng.IntN(80),
				alpha: []float32{1, -1, 0.3}[rng.IntN(3)], beta: []float32{0, 1, -0.7}[rng.IntN(3)],
				pad: rng.IntN(4),
			}
			workers := 1 + rng.IntN(3)
			checkGemm(t, tc, uint64(it), func(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
				sgemm(im, workers, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			})
		}
	}
}

func TestSgemmBadArgumentsPanic(t *testing.T) {
	buf := make([]float32, 100)
	cases := []struct {
		name string
		call func()
		want string
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, buf, 2, buf, 2, 0, buf, 2) }, "negative dimension"},
		{"short A", func() { Sgemm(false, false, 10, 2, 11, 1, buf, 11, buf, 2, 0, buf, 2) }, "A is 10×11 with stride 11 and needs 110 elements, has 100"},
		{"short B transposed", func() { Sgemm(false, true, 2, 20, 6, 1, buf, 6, buf, 6, 0, buf, 20) }, "B is 20×6"},
		{"small ldc", func() { SgemmSerial(false, false, 2, 5, 2, 1, buf, 2, buf, 5, 0, buf, 4) }, "ldc=4 is less than the 5 columns of C"},
		{"small lda transposed", func() { Sgemm(true, false, 5, 2, 2, 1, buf, 4, buf, 2, 0, buf, 2) }, "lda=4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.Contains(msg, tc.want) {
					t.Errorf("panic %v, want one containing %q", r, tc.want)
				}
			}()
			tc.call()
		})
	}
}

// TestSgemmDeterministic checks that the result does not depend on the
// number of workers: each element is summed in the same order whatever
// the split, so training runs are reproducible across GOMAXPROCS.
func TestSgemmDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, im := range impls() {
		for _, tc := range []gemmCase{
			{false, true, 200, 300, 600, 1, 0, 0, false},
			{true, false, 37, 1000, 100, 1, 1, 0, false},
		} {
			a, b, c, lda, ldb, ldc := tc.operands(rng)
			ref := append([]float32(nil), c...)
			sgemm(im, 1, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, ref, ldc)
			for _, workers := range []int{2, 3, 5} {
				got := append([]float32(nil), c...)
				sgemm(im, workers, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("%s %v: %d workers: C[%d] = %g, 1 worker %g", im.name, tc, workers, i, got[i], ref[i])
					}
				}
			}
		}
	}
}

// TestSgemmSerialNoAllocs checks that a training loop calling
// SgemmSerial (and a small Sgemm) does not allocate: the packing buffers
// come from pools.
func TestSgemmSerialNoAllocs(t *testing.T) {
	a, b, c := make([]float32, 128*128), make([]float32, 128*128), make([]float32, 128*128)
	for name, f := range map[string]func(){
		"SgemmSerial 128x64x128 NN": func() { SgemmSerial(false, false, 128, 64, 128, 1, a, 128, b, 64, 0, c, 64) },
		"SgemmSerial 64x64x64 NT":   func() { SgemmSerial(false, true, 64, 64, 64, 1, a, 64, b, 64, 1, c, 64) },
		"Sgemm 64x64x64 TN":         func() { Sgemm(true, false, 64, 64, 64, 1, a, 64, b, 64, 0, c, 64) },
	} {
		f() // fill the pools
		if n := testing.AllocsPerRun(50, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}
