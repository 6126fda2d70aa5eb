package model

import (
	"math"
	"runtime"
	"sync"

	"github.com/longrecipe/longrecipe/kernels"
)

// parallelFor runs fn(i) for i in [0, n) on up to threads goroutines
// (threads <= 0 means GOMAXPROCS). Work is handed out one index at a time.
func parallelFor(n, threads int, fn func(i int)) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if threads > n {
		threads = n
	}
	if threads <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(threads)
	for w := 0; w < threads; w++ {
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := int(next)
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// parallelRows splits rows [0, T) into contiguous blocks and runs
// fn(t0, t1) on each, in parallel.
func parallelRows(T, threads int, fn func(t0, t1 int)) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	blocks := threads * 4
	if blocks > T {
		blocks = T
	}
	if blocks <= 1 {
		fn(0, T)
		return
	}
	parallelFor(blocks, threads, func(b int) {
		fn(b*T/blocks, (b+1)*T/blocks)
	})
}

// gemm is C = alpha·op(A)·op(B) + beta·C, row-major, in precision p:
// kernels.Sgemm for FP32, kernels.SgemmBF16 (operands rounded to
// bfloat16, float32 accumulation) for BF16. The kernel parallelises
// internally; use gemmSerial inside parallel loops.
func (p Precision) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if p == BF16 {
		kernels.SgemmBF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	kernels.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmOn is gemm on one goroutine when threads is 1, else gemm (the
// kernels' own split over GOMAXPROCS goroutines).
func (p Precision) gemmOn(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if threads == 1 {
		p.gemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	p.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmSerial is gemm without internal goroutines.
func (p Precision) gemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if p == BF16 {
		kernels.SgemmBF16Serial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	kernels.SgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// expf is a float32 exp accurate to about 2 ulp, with exp(x) = 0 for
// x < −87.3 (no denormals) and +Inf for x > 88.7. It is several times
// faster than math.Exp, which matters in attention's softmax: rounding
// uses the 1.5·2²³ trick instead of math.Floor (a call on GOAMD64=v1).
func expf(x float32) float32 {
	if x < -87.33 {
		return 0
	}
	if x > 88.72 {
		return float32(math.Inf(1))
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
		magic = 12582912 // 1.5·2²³: adding it rounds to an integer
	)
	t := x*log2e + magic
	n := t - magic
	ni := int32(math.Float32bits(t)) - 0x4B400000
	r := x - n*ln2hi - n*ln2lo
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	if ni < -126 || ni > 127 {
		// 2^n is not a normal float; split the scaling in two.
		h := ni / 2
		return p * math.Float32frombits(uint32(h+127)<<23) * math.Float32frombits(uint32(ni-h+127)<<23)
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}

// expShift sets x[i] = exp(x[i] − shift) (expf's arithmetic, inlined
// for speed) and returns the sum of the results, accumulated in float32.
func expShift(x []float32, shift float32) float32 {
	return expShiftSum[float32](x, shift)
}

// expShiftSum is expShift with the sum accumulated in A. The LM head sums
// in float64: over a vocabulary of 49k the terms below half an ulp of a
// float32 running sum (exp(−17) next to 1) would be rounded away one by
// one, biasing every log-probability upward by ~1e-4.
func expShiftSum[A float32 | float64](x []float32, shift float32) A {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
		magic = 12582912
	)
	var sum A
	for i, v := range x {
		v -= shift
		if v < -87.33 || v > 88.72 {
			e := expf(v)
			x[i] = e
			sum += A(e)
			continue
		}
		t := v*log2e + magic
		n := t - magic
		ni := int32(math.Float32bits(t)) - 0x4B400000
		r := v - n*ln2hi - n*ln2lo
		p := float32(1.0 / 720)
		p = p*r + 1.0/120
		p = p*r + 1.0/24
		p = p*r + 1.0/6
		p = p*r + 0.5
		p = p*r + 1
		p = p*r + 1
		if ni < -126 || ni > 127 {
			p = expf(v)
		} else {
			p *= math.Float32frombits(uint32(ni+127) << 23)
		}
		x[i] = p
		sum += A(p)
	}
	return sum
}

// rmsnormForward computes out = x / sqrt(mean(x²)+eps) · w for each of
// the T rows of width d, storing 1/sqrt(mean(x²)+eps) in rstd (len T).
func rmsnormForward(out, rstd, x, w []float32, T, d int, eps float32) {
	for t := 0; t < T; t++ {
		row := x[t*d : (t+1)*d]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		r := float32(1 / math.Sqrt(ss/float64(d)+float64(eps)))
		rstd[t] = r
		o := out[t*d : (t+1)*d]
		for i, v := range row {
			o[i] = v * r * w[i]
		}
	}
}

// rmsnormBackward adds to dx the gradient of RMSNorm given dout, and adds
// to dw the weight gradient. x and rstd are the forward's input and saved
// reciprocal RMS.
func rmsnormBackward(dx, dw, dout, x, w, rstd []float32, T, d int) {
	for t := 0; t < T; t++ {
		row := x[t*d : (t+1)*d]
		dy := dout[t*d : (t+1)*d]
		r := rstd[t]
		var dot float64
		for i, v := range row {
			dot += float64(dy[i]) * float64(w[i]) * float64(v)
		}
		c := float32(dot) * r * r * r / float32(d)
		dxr := dx[t*d : (t+1)*d]
		for i, v := range row {
			dxr[i] += r*w[i]*dy[i] - c*v
			dw[i] += dy[i] * v * r
		}
	}
}

// silu returns x·sigmoid(x).
func silu(x float32) float32 { return x / (1 + expf(-x)) }

// swigluForward computes h = silu(g)·u elementwise.
func swigluForward(h, g, u []float32) {
	for i := range h {
		h[i] = silu(g[i]) * u[i]
	}
}

// swigluBackward adds to dg and du the gradients of h = silu(g)·u given
// dh (dg and du must not alias dh).
func swigluBackward(dg, du, dh, g, u []float32) {
	for i := range dh {
		x := g[i]
		s := 1 / (1 + expf(-x))
		d := dh[i]
		du[i] += d * x * s
		dg[i] += d * u[i] * s * (1 + x*(1-s))
	}
}

// addBias adds b to each of the T rows of x (width len(b)).
func addBias(x, b []float32, T int) {
	n := len(b)
	for t := 0; t < T; t++ {
		row := x[t*n : (t+1)*n]
		for i, v := range b {
			row[i] += v
		}
	}
}

// biasGrad adds the column sums of dy (T rows of width len(db)) to db.
func biasGrad(db, dy []float32, T int) {
	n := len(db)
	for t := 0; t < T; t++ {
		row := dy[t*n : (t+1)*n]
		for i, v := range row {
			db[i] += v
		}
	}
}

// linearForward computes y = x·Wᵀ (+ b) in precision p: x is T×nin, W
// nout×nin, y T×nout; threads as for gemmOn.
func linearForward(p Precision, threads int, y, x []float32, w, b *Param, T int) {
	nout, nin := w.Shape[0], w.Shape[1]
	p.gemmOn(threads, false, true, T, nout, nin, 1, x, nin, w.W, nin, 0, y, nout)
	if b != nil {
		addBias(y, b.W, T)
	}
}

// linearBackward adds dy·W to dx (skipped when dx is nil), dyᵀ·x to W's
// gradient and dy's column sums to b's; threads as for gemmOn.
func linearBackward(p Precision, threads int, dx, dy, x []float32, w, b *Param, T int) {
	nout, nin := w.Shape[0], w.Shape[1]
	if dx != nil {
		p.gemmOn(threads, false, false, T, nin, nout, 1, dy, nout, w.W, nin, 1, dx, nin)
	}
	p.gemmOn(threads, true, false, nout, nin, T, 1, dy, nout, x, nin, 1, w.G, nin)
	if b != nil {
		biasGrad(b.G, dy, T)
	}
}
