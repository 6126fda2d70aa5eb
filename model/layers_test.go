package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/longrecipe/longrecipe/kernels"
)

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// checkGrad compares analytic[i] with the central difference of f at x[i]
// for every i in idx (all entries when idx is nil). f is evaluated in
// float32 arithmetic, so the step is large and the tolerance loose.
func checkGrad(t *testing.T, name string, x, analytic []float32, f func() float64, idx []int) {
	t.Helper()
	if idx == nil {
		idx = make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
	}
	const h = 1e-2
	var num, den float64
	for _, i := range idx {
		old := x[i]
		x[i] = old + h
		fp := f()
		x[i] = old - h
		fm := f()
		x[i] = old
		fd := (fp - fm) / (2 * h)
		a := float64(analytic[i])
		if math.Abs(fd-a) > 2e-3+2e-2*math.Abs(fd) {
			t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", name, i, a, fd)
		}
		num += (fd - a) * (fd - a)
		den += fd * fd
	}
	if den > 0 && math.Sqrt(num/den) > 5e-3 {
		t.Errorf("%s: relative gradient error %.3g", name, math.Sqrt(num/den))
	}
}

func TestRMSNormGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	T, d := 3, 7
	x := randVec(rng, T*d, 1)
	w := randVec(rng, d, 1)
	r := randVec(rng, T*d, 1)
	out := make([]float32, T*d)
	rstd := make([]float32, T)
	f := func() float64 {
		rmsnormForward(out, rstd, x, w, T, d, 1e-5)
		return dot64(out, r)
	}
	f()
	dx := make([]float32, T*d)
	dw := make([]float32, d)
	rmsnormBackward(dx, dw, r, x, w, rstd, T, d)
	checkGrad(t, "dx", x, dx, f, nil)
	checkGrad(t, "dw", w, dw, f, nil)
}

func TestSwiGLUGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 40
	g, u, r := randVec(rng, n, 2), randVec(rng, n, 1), randVec(rng, n, 1)
	h := make([]float32, n)
	f := func() float64 { swigluForward(h, g, u); return dot64(h, r) }
	dg, du := make([]float32, n), make([]float32, n)
	swigluBackward(dg, du, r, g, u)
	checkGrad(t, "dg", g, dg, f, nil)
	checkGrad(t, "du", u, du, f, nil)
}

func TestExpf(t *testing.T) {
	for x := -87.0; x < 88.5; x += 0.0137 {
		got := float64(expf(float32(x)))
		want := math.Exp(float64(float32(x)))
		if math.Abs(got-want) > 3e-7*want {
			t.Fatalf("expf(%v) = %v, want %v", x, got, want)
		}
	}
	if expf(-100) != 0 || !math.IsInf(float64(expf(100)), 1) {
		t.Fatalf("expf limits: %v %v", expf(-100), expf(100))
	}
}

// TestRopeAdjoint checks that ropeBackward is the transpose of ropeForward
// (⟨R x, y⟩ = ⟨x, Rᵀ y⟩) and that the rotation preserves norms.
func TestRopeAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	T, nh, hd := 5, 3, 8
	pos := []int32{0, 3, 4, 100, 5000}
	cos, sin := make([]float32, T*hd/2), make([]float32, T*hd/2)
	ropeTables(cos, sin, pos, baseInvFreq(10000, hd), 1)
	x, y := randVec(rng, T*nh*hd, 1), randVec(rng, T*nh*hd, 1)
	rx := append([]float32(nil), x...)
	ropeForward(rx, T, nh, hd, cos, sin)
	ry := append([]float32(nil), y...)
	ropeBackward(ry, T, nh, hd, cos, sin)
	if a, b := dot64(rx, y), dot64(x, ry); math.Abs(a-b) > 1e-4*math.Abs(a)+1e-4 {
		t.Errorf("⟨Rx,y⟩ = %v, ⟨x,Rᵀy⟩ = %v", a, b)
	}
	if a, b := dot64(rx, rx), dot64(x, x); math.Abs(a-b) > 1e-4*a {
		t.Errorf("rotation changed the norm: %v vs %v", a, b)
	}
	// Position 0 is the identity.
	for i := 0; i < nh*hd; i++ {
		if rx[i] != x[i] {
			t.Fatalf("position 0 rotated entry %d: %v -> %v", i, x[i], rx[i])
		}
	}
}

// naiveAttention is the reference: float64, full score matrix, explicit
// causal and sliding-window masks by token index.
func naiveAttention(q []float32, Tq, qOff int, k, v []float32, Tk int, d *dims, window int) []float32 {
	return naiveMasked(q, Tq, qOff, k, v, Tk, d, func(r, j int) bool {
		a := qOff + r
		return j <= a && (window == 0 || a-j < window)
	})
}

// naiveMasked is attention in float64 where query row r sees key j when
// visible(r, j).
func naiveMasked(q []float32, Tq, qOff int, k, v []float32, Tk int, d *dims, visible func(r, j int) bool) []float32 {
	o := make([]float32, Tq*d.QD)
	rep := d.H / d.KV
	scale := 1 / math.Sqrt(float64(d.HD))
	for h := 0; h < d.H; h++ {
		kh := h / rep
		for r := 0; r < Tq; r++ {
			s := make([]float64, Tk)
			mx := math.Inf(-1)
			for j := 0; j < Tk; j++ {
				if !visible(r, j) {
					s[j] = math.Inf(-1)
					continue
				}
				var x float64
				for i := 0; i < d.HD; i++ {
					x += float64(q[r*d.QD+h*d.HD+i]) * float64(k[j*d.KVD+kh*d.HD+i])
				}
				s[j] = x * scale
				mx = math.Max(mx, s[j])
			}
			var sum float64
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for i := 0; i < d.HD; i++ {
				var acc float64
				for j := range s {
					if s[j] != 0 {
						acc += s[j] * float64(v[j*d.KVD+kh*d.HD+i])
					}
				}
				o[r*d.QD+h*d.HD+i] = float32(acc / sum)
			}
		}
	}
	return o
}

func withTiles(q, k int, f func()) {
	oq, ok := tileQ, tileK
	tileQ, tileK = q, k
	defer func() { tileQ, tileK = oq, ok }()
	f()
}

func TestAttention(t *testing.T) {
	cases := []struct {
		name            string
		T, H, KV, HD, W int
		tq, tk, threads int
	}{
		{"mha one tile", 9, 2, 2, 4, 0, 64, 64, 1},
		{"mha many tiles", 13, 2, 2, 4, 0, 4, 3, 2},
		{"gqa many tiles", 17, 4, 2, 6, 0, 5, 4, 3},
		{"mqa", 11, 3, 1, 4, 0, 2, 5, 2},
		{"sliding window", 19, 4, 2, 4, 5, 4, 3, 2},
		{"window 1", 7, 2, 1, 4, 1, 3, 2, 1},
		{"window larger than T", 10, 2, 2, 4, 50, 3, 4, 1},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 7))
			d := &dims{H: tc.H, KV: tc.KV, HD: tc.HD, QD: tc.H * tc.HD, KVD: tc.KV * tc.HD}
			T := tc.T
			q, k, v := randVec(rng, T*d.QD, 1.5), randVec(rng, T*d.KVD, 1.5), randVec(rng, T*d.KVD, 1)
			r := randVec(rng, T*d.QD, 1)
			o := make([]float32, T*d.QD)
			lse := make([]float32, T*d.H)
			withTiles(tc.tq, tc.tk, func() {
				attnForward(FP32, o, lse, q, T, 0, k, v, T, d, mask{window: tc.W}, tc.threads, nil)
				want := naiveAttention(q, T, 0, k, v, T, d, tc.W)
				for i := range want {
					if math.Abs(float64(o[i]-want[i])) > 1e-5 {
						t.Fatalf("o[%d] = %v, want %v", i, o[i], want[i])
					}
				}
				// Later query rows against the whole key set (KV-cache path).
				off := T / 2
				o2 := make([]float32, (T-off)*d.QD)
				attnForward(FP32, o2, nil, q[off*d.QD:], T-off, off, k, v, T, d, mask{window: tc.W}, tc.threads, nil)
				for i := range o2 {
					if math.Abs(float64(o2[i]-want[off*d.QD+i])) > 1e-5 {
						t.Fatalf("offset query: o[%d] = %v, want %v", i, o2[i], want[off*d.QD+i])
					}
				}
				f := func() float64 {
					attnForward(FP32, o, lse, q, T, 0, k, v, T, d, mask{window: tc.W}, tc.threads, nil)
					return dot64(o, r)
				}
				f()
				dq, dk, dv := make([]float32, T*d.QD), make([]float32, T*d.KVD), make([]float32, T*d.KVD)
				attnBackward(FP32, dq, dk, dv, r, q, k, v, o, lse, T, d, tc.W, tc.threads, nil)
				checkGrad(t, "dq", q, dq, f, nil)
				checkGrad(t, "dk", k, dk, f, nil)
				checkGrad(t, "dv", v, dv, f, nil)
			})
		})
	}
}

// TestAttentionBF16 checks the BF16 attention (bfloat16 products over
// panels of the keys and values where the CPU has them) against float64
// attention: ragged tiles, GQA, sliding windows, query rows after a
// cache, and continuations as segments after a shared prefix (mask.seg),
// within what bfloat16 operands explain.
func TestAttentionBF16(t *testing.T) {
	cases := []struct {
		name            string
		T, H, KV, HD, W int
		qOff, segs      int // query rows from qOff; segs > 0: that many segments after it
		inf             int // > 0: the value of this key is +Inf (rows that see it are not compared)
	}{
		{"one tile", 37, 2, 2, 64, 0, 0, 0, 0},
		{"tiles, odd T", 301, 4, 2, 64, 0, 0, 0, 0},
		{"window", 300, 2, 1, 32, 77, 0, 0, 0},
		{"after a cache", 333, 2, 2, 64, 0, 200, 0, 0},
		{"one query row", 257, 2, 1, 64, 0, 256, 0, 0},
		{"segments", 290, 4, 2, 64, 0, 260, 4, 0},
		{"segments, window", 290, 2, 2, 64, 100, 260, 3, 0},
		{"segments past a tile", 600, 2, 1, 64, 0, 300, 5, 0},
		{"odd run of keys before an infinity", 333, 2, 2, 64, 0, 201, 0, 329},
		{"few rows, segments, window", 290, 4, 2, 64, 100, 280, 3, 0},
		{"few rows after a cache", 300, 2, 1, 32, 0, 291, 0, 0},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 11))
			d := &dims{H: tc.H, KV: tc.KV, HD: tc.HD, QD: tc.H * tc.HD, KVD: tc.KV * tc.HD}
			T, Tq := tc.T, tc.T-tc.qOff
			q, k, v := randVec(rng, Tq*d.QD, 0.3), randVec(rng, T*d.KVD, 0.3), randVec(rng, T*d.KVD, 1)
			if tc.inf > 0 {
				for i := 0; i < d.KVD; i++ {
					v[tc.inf*d.KVD+i] = float32(math.Inf(1))
				}
			}
			mk := mask{window: tc.W}
			if tc.segs > 0 {
				mk.seg = make([]int32, Tq)
				for r := range mk.seg {
					mk.seg[r] = int32(tc.qOff + r/ceilDivInt(Tq, tc.segs)*ceilDivInt(Tq, tc.segs))
				}
			}
			visible := func(r, j int) bool {
				a := tc.qOff + r
				if j > a {
					return false
				}
				if mk.seg != nil {
					if j >= tc.qOff {
						return j >= int(mk.seg[r]) && (tc.W == 0 || a-j < tc.W)
					}
					a = tc.qOff + a - int(mk.seg[r]) // the row's place right after the prefix
				}
				return tc.W == 0 || a-j < tc.W
			}
			o := make([]float32, Tq*d.QD)
			attnForward(BF16, o, nil, q, Tq, tc.qOff, k, v, T, d, mk, 2, nil)
			// With the panels in a caller's scratch: the same, bit for bit.
			o2 := make([]float32, len(o))
			attnForward(BF16, o2, nil, q, Tq, tc.qOff, k, v, T, d, mk, 2, make([]float32, 2*T*d.HD+4096))
			for i := range o {
				if math.Float32bits(o[i]) != math.Float32bits(o2[i]) {
					t.Fatalf("with scratch: o[%d] = %v, without %v", i, o2[i], o[i])
				}
			}
			want := naiveMasked(q, Tq, tc.qOff, k, v, T, d, visible)
			for i := range want {
				if math.IsInf(float64(want[i]), 0) || math.IsNaN(float64(want[i])) {
					continue
				}
				if math.Abs(float64(o[i]-want[i])) > 1e-2 {
					t.Fatalf("o[%d] = %v, want %v", i, o[i], want[i])
				}
			}
		})
	}
}

func ceilDivInt(a, b int) int { return (a + b - 1) / b }

// TestAttentionBackwardPanels: the BF16 backward over panels gives what
// the BF16 backward over tiles gives, bit for bit (the same rounded
// products, summed in the same order), with and without scratch for the
// panels, on ragged tiles, odd lengths, GQA and sliding windows.
func TestAttentionBackwardPanels(t *testing.T) {
	if !kernels.HasPanels() {
		t.Skip("no AVX512_BF16 panels here")
	}
	for ci, tc := range []struct{ T, H, KV, HD, W int }{
		{37, 2, 2, 64, 0}, {301, 4, 2, 64, 0}, {300, 2, 1, 32, 77}, {257, 3, 3, 16, 0}, {290, 4, 2, 64, 129},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci), 13))
			d := &dims{H: tc.H, KV: tc.KV, HD: tc.HD, QD: tc.H * tc.HD, KVD: tc.KV * tc.HD}
			T := tc.T
			q, k, v := randVec(rng, T*d.QD, 0.5), randVec(rng, T*d.KVD, 0.5), randVec(rng, T*d.KVD, 1)
			dout := randVec(rng, T*d.QD, 1)
			o, lse := make([]float32, T*d.QD), make([]float32, T*d.H)
			attnForward(BF16, o, lse, q, T, 0, k, v, T, d, mask{window: tc.W}, 2, nil)
			grads := func(run func(dq, dk, dv []float32)) [3][]float32 {
				dq, dk, dv := make([]float32, T*d.QD), make([]float32, T*d.KVD), make([]float32, T*d.KVD)
				run(dq, dk, dv)
				return [3][]float32{dq, dk, dv}
			}
			want := grads(func(dq, dk, dv []float32) {
				attnBackwardTiles(BF16, dq, dk, dv, dout, q, k, v, o, lse, T, d, tc.W, 2)
			})
			bq, _ := tiles(BF16)
			for _, scratch := range [][]float32{nil, make([]float32, d.KV*bwdWords(T, d.HD, bq))} {
				got := grads(func(dq, dk, dv []float32) {
					attnBackward(BF16, dq, dk, dv, dout, q, k, v, o, lse, T, d, tc.W, 2, scratch)
				})
				for i, name := range []string{"dq", "dk", "dv"} {
					for j := range want[i] {
						if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
							t.Fatalf("scratch %v: %s[%d] = %v, over tiles %v", scratch != nil, name, j, got[i][j], want[i][j])
						}
					}
				}
			}
		})
	}
}
