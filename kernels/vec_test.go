package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var vecLens = []int{0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 1027}

func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// withGuard returns x followed by guard values, sliced back to len(x), so
// a test can check that nothing was written past the end.
func withGuard(x []float32) []float32 {
	g := make([]float32, len(x), len(x)+guardLen)
	copy(g, x)
	for i := 0; i < guardLen; i++ {
		g = append(g, guardVal)
	}
	return g[:len(x)]
}

func checkGuard(t *testing.T, what string, x []float32) {
	t.Helper()
	for i, v := range x[len(x):cap(x)] {
		if v != guardVal {
			t.Fatalf("%s wrote past the end (guard %d = %g)", what, i, v)
		}
	}
}

// vecPaths are the vector-helper paths: the dispatching public functions
// (AVX-512 on CPUs that have it) and the portable Go ones.
var vecPaths = []struct {
	name   string
	dot    func(a, b []float32) float32
	axpy   func(alpha float32, x, y []float32)
	scale  func(alpha float32, x []float32)
	add    func(dst, a, b []float32)
	max    func(x []float32) float32
	expSub func(dst, x []float32, max float32) float32
}{
	{"dispatch", Dot, Axpy, Scale, Add, MaxF32, ExpSub},
	{"generic", dotGeneric, axpyGeneric, scaleGeneric, addGeneric, maxGeneric, expSubGeneric},
}

func TestVectorOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range vecPaths {
		for _, n := range vecLens {
			t.Run(fmt.Sprintf("%s/n%d", p.name, n), func(t *testing.T) {
				a, b := randVec(rng, n), randVec(rng, n)
				var want, mag float64
				for i := range a {
					want += float64(a[i]) * float64(b[i])
					mag += math.Abs(float64(a[i]) * float64(b[i]))
				}
				if got := p.dot(a, b); math.Abs(float64(got)-want) > 1e-6*math.Sqrt(float64(n+1))*mag+1e-30 {
					t.Errorf("Dot = %g, want %g", got, want)
				}

				y := withGuard(b)
				p.axpy(-1.5, a, y)
				checkGuard(t, "Axpy", y)
				for i := range y {
					if w := float64(b[i]) - 1.5*float64(a[i]); math.Abs(float64(y[i])-w) > 1e-6*(math.Abs(w)+1) {
						t.Fatalf("Axpy[%d] = %g, want %g", i, y[i], w)
					}
				}

				x := withGuard(a)
				p.scale(0.25, x)
				checkGuard(t, "Scale", x)
				for i := range x {
					if x[i] != 0.25*a[i] {
						t.Fatalf("Scale[%d] = %g, want %g", i, x[i], 0.25*a[i])
					}
				}

				d := withGuard(make([]float32, n))
				p.add(d, a, b)
				checkGuard(t, "Add", d)
				for i := range d {
					if d[i] != a[i]+b[i] {
						t.Fatalf("Add[%d] = %g, want %g", i, d[i], a[i]+b[i])
					}
				}

				wantMax := float32(math.Inf(-1))
				for _, v := range a {
					wantMax = max(wantMax, v)
				}
				if got := p.max(a); got != wantMax {
					t.Errorf("MaxF32 = %g, want %g", got, wantMax)
				}
				if n > 0 {
					a2 := append([]float32(nil), a...)
					a2[rng.IntN(n)] = float32(math.NaN())
					if got := p.max(a2); !math.IsNaN(float64(got)) {
						t.Errorf("MaxF32 with a NaN = %g, want NaN", got)
					}
				}
			})
		}
	}
}

func TestExpSub(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range vecPaths {
		for _, n := range vecLens {
			t.Run(fmt.Sprintf("%s/n%d", p.name, n), func(t *testing.T) {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.Float64()*87 - 80) // x - max in [-87, 0] for max = 7
				}
				dst := withGuard(make([]float32, n))
				sum := p.expSub(dst, x, 7)
				checkGuard(t, "ExpSub", dst)
				var wantSum float64
				for i, v := range x {
					w := math.Exp(float64(v - 7)) // exp of the float32 difference
					wantSum += w
					if rel := math.Abs(float64(dst[i])-w) / w; rel > 2e-7 {
						t.Fatalf("exp(%g - 7) = %g, want %g (relative error %.2g)", v, dst[i], w, rel)
					}
				}
				if math.Abs(float64(sum)-wantSum) > 1e-6*wantSum+1e-30 {
					t.Errorf("sum = %g, want %g", sum, wantSum)
				}
				// In place.
				y := append([]float32(nil), x...)
				if s2 := p.expSub(y, y, 7); s2 != sum || fmt.Sprint(y) != fmt.Sprint(dst) {
					t.Errorf("in place: sum %g, want %g", s2, sum)
				}
			})
		}
		t.Run(p.name+"/special", func(t *testing.T) {
			inf := float32(math.Inf(1))
			nan := float32(math.NaN())
			x := []float32{0, -inf, -200, 1, nan}
			dst := make([]float32, len(x))
			sum := p.expSub(dst, x, 1)
			if math.Abs(float64(dst[0])-math.Exp(-1)) > 1e-7 || dst[1] != 0 || dst[2] != 0 || dst[3] != 1 || !math.IsNaN(float64(dst[4])) {
				t.Errorf("ExpSub(%v, max 1) = %v, want [e⁻¹ 0 0 1 NaN]", x, dst)
			}
			if !math.IsNaN(float64(sum)) {
				t.Errorf("sum with a NaN = %g, want NaN", sum)
			}
		})
	}
}

func TestVectorLengthMismatchPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Dot":    func() { Dot(make([]float32, 3), make([]float32, 4)) },
		"Axpy":   func() { Axpy(1, make([]float32, 3), make([]float32, 4)) },
		"Add":    func() { Add(make([]float32, 3), make([]float32, 3), make([]float32, 4)) },
		"ExpSub": func() { ExpSub(make([]float32, 3), make([]float32, 4), 0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s with different lengths did not panic", name)
				}
			}()
			f()
		})
	}
}

// TestSwiGLU checks SwiGLU against the float64 formula on both paths,
// every tail length, far into both tails of the sigmoid, and NaN.
func TestSwiGLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range []struct {
		name string
		f    func(h, g, u []float32)
	}{{"dispatch", SwiGLU}, {"generic", swigluGeneric}} {
		for _, n := range vecLens {
			g, u := randVec(rng, n), randVec(rng, n)
			for i := range g {
				g[i] *= 12 // silu's both tails: e^±36 and beyond
			}
			h := withGuard(make([]float32, n))
			p.f(h, g, u)
			checkGuard(t, "SwiGLU", h)
			for i := range h {
				x := float64(g[i])
				want := x * float64(u[i]) / (1 + math.Exp(-x))
				if d := math.Abs(float64(h[i]) - want); d > 1e-6*math.Abs(want)+1e-30 {
					t.Fatalf("%s n=%d: silu(%g)·%g = %g, want %g", p.name, n, g[i], u[i], h[i], want)
				}
			}
		}
		h := make([]float32, 3)
		p.f(h, []float32{float32(math.NaN()), 0, 1}, []float32{1, 5, 2})
		if !math.IsNaN(float64(h[0])) || h[1] != 0 || math.Abs(float64(h[2])-2/(1+math.Exp(-1))) > 1e-6 {
			t.Errorf("%s: SwiGLU([NaN 0 1], [1 5 2]) = %v, want [NaN 0 %g]", p.name, h, 2/(1+math.Exp(-1)))
		}
	}
}

// TestSwiGLUBackward checks SwiGLUBackward against the float64 formula
// on both paths and every tail length; it adds to what dg and du hold.
func TestSwiGLUBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, p := range []struct {
		name string
		f    func(dg, du, dh, g, u []float32)
	}{{"dispatch", SwiGLUBackward}, {"generic", swigluBackGeneric}} {
		for _, n := range vecLens {
			g, u, dh := randVec(rng, n), randVec(rng, n), randVec(rng, n)
			for i := range g {
				g[i] *= 12
			}
			dg0, du0 := randVec(rng, n), randVec(rng, n)
			dg, du := withGuard(append([]float32(nil), dg0...)), withGuard(append([]float32(nil), du0...))
			p.f(dg, du, dh, g, u)
			checkGuard(t, "SwiGLUBackward dg", dg)
			checkGuard(t, "SwiGLUBackward du", du)
			for i := range g {
				x, d := float64(g[i]), float64(dh[i])
				s := 1 / (1 + math.Exp(-x))
				wantU := float64(du0[i]) + d*x*s
				wantG := float64(dg0[i]) + d*float64(u[i])*s*(1+x*(1-s))
				tol := func(w float64) float64 { return 2e-6*(math.Abs(w)+math.Abs(d*x)+math.Abs(d*float64(u[i]))) + 1e-30 }
				if math.Abs(float64(du[i])-wantU) > tol(wantU) || math.Abs(float64(dg[i])-wantG) > tol(wantG)*(1+math.Abs(x)) {
					t.Fatalf("%s n=%d i=%d (g %g u %g dh %g): du %g dg %g, want %g %g", p.name, n, i, g[i], u[i], dh[i], du[i], dg[i], wantU, wantG)
				}
			}
		}
	}
}
