package kernels

import (
	"math"
	"sync"
)

// SgemmBF16 computes C = alpha·(bf16(op(A))·bf16(op(B))) + beta·C with
// the contract of Sgemm, except that the elements of A and B are first
// rounded to bfloat16 (8 significant bits, round to nearest even; NaN
// stays NaN) and the products accumulated in float32. The result is that
// of Sgemm on rounded copies of A and B, up to the order of the float32
// additions; against the float32 product expect relative errors of about
// 2⁻⁸·sqrt(k) (≈ 0.4 % per product, averaging out over the sum).
//
// On CPUs with AMX-BF16 (see HasAMX) it runs on the tile unit, many
// times faster than Sgemm at large sizes; on CPUs with AVX512_BF16 (see
// BF16Implementation) it runs VDPBF16PS micro-kernels, the rounding fused
// into the packing of the operands, about twice as fast as Sgemm. Elsewhere
// it rounds copies of A and B and calls Sgemm: same numbers, no speed-up.
// Denormal products may be flushed to zero on the VDPBF16PS path.
func SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs("SgemmBF16", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemmBF16(maxWorkers(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmBF16Serial is SgemmBF16 that never starts goroutines (see
// SgemmSerial).
func SgemmBF16Serial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs("SgemmBF16Serial", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemmBF16(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func sgemmBF16(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if HasAMX() {
		sgemmAMX(workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if useRowDot(transA, transB, m) {
		sgemmRowDot(workers, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if dpbf16Impl != nil {
		sgemm(dpbf16Impl, workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmBF16Rounded(workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// BF16Implementation names the SgemmBF16 path on this machine: "amx",
// "avx512bf16" (VDPBF16PS) or "rounded" (Sgemm on rounded copies).
func BF16Implementation() string {
	switch {
	case HasAMX():
		return "amx"
	case dpbf16Impl != nil:
		return dpbf16Impl.name
	}
	return "rounded"
}

// HasFastBF16 reports whether SgemmBF16 is faster than Sgemm here (AMX
// or AVX512_BF16): where it is not, bfloat16 only costs accuracy.
func HasFastBF16() bool { return BF16Implementation() != "rounded" }

// sgemmBF16Rounded is the portable SgemmBF16: round copies, then sgemm.
func sgemmBF16Rounded(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	ra := roundedCopy(a, ar, ac, lda)
	rb := roundedCopy(b, br, bc, ldb)
	sgemm(active, workers, transA, transB, m, n, k, alpha, ra, ac, rb, bc, beta, c, ldc)
}

// roundedCopy returns the rows×cols matrix x (stride ld) rounded to
// bfloat16 values, packed with stride cols.
func roundedCopy(x []float32, rows, cols, ld int) []float32 {
	out := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		src := x[i*ld : i*ld+cols]
		dst := out[i*cols : i*cols+cols]
		for j, v := range src {
			dst[j] = math.Float32frombits(uint32(toBF16(v)) << 16)
		}
	}
	return out
}

// toBF16 rounds x to the nearest bfloat16 (ties to even); NaN stays NaN.
func toBF16(x float32) uint16 {
	u := math.Float32bits(x)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// parallelTasks runs f(worker, t) for t in [0, tasks) on up to workers
// goroutines (the calling one is worker 0); tasks are handed out in
// order from a shared counter.
func parallelTasks(workers, tasks int, f func(worker, t int)) {
	workers = min(workers, tasks)
	if workers <= 1 {
		for t := 0; t < tasks; t++ {
			f(0, t)
		}
		return
	}
	var mu sync.Mutex
	next := 0
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next++
		return t
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := take(); t < tasks; t = take() {
				f(w, t)
			}
		}()
	}
	for t := take(); t < tasks; t = take() {
		f(0, t)
	}
	wg.Wait()
}
