//go:build amd64 && !purego

package kernels

import "fmt"

// PanelsA and PanelsB hold an operand of SgemmBF16 rounded to bfloat16
// and packed once into the pair panels of the VDPBF16PS kernels, for
// products that reuse it many times (attention: a head's keys and values
// meet every query tile). PanelsA is op(A), m×k, in panels of 12 rows;
// PanelsB is op(B), k×n, in panels of 32 columns, each holding all k
// steps, so that a product can take any 32-aligned run of B's columns
// and any even-aligned run of its k steps. The zero value is empty;
// Pack reuses the memory.
type PanelsA struct {
	m, k int
	w    []float32
}

// PanelsB: see PanelsA.
type PanelsB struct {
	k, n int
	w    []float32
}

// HasPanels reports whether PanelsA, PanelsB and GemmPanels can run here
// (the VDPBF16PS path without AMX).
func HasPanels() bool { return dpbf16Impl != nil && !HasAMX() }

// Pack rounds op(A) (m×k; A is k×m when trans) into p.
func (p *PanelsA) Pack(trans bool, a []float32, lda, m, k int) {
	im := dpbf16Impl
	p.m, p.k = m, k
	p.w = growPanel(p.w, ceilDiv(m, im.mr)*im.mr*k)
	im.packAPairs(trans, a, lda, 0, 0, m, k, p.w)
}

// Pack rounds op(B) (k×n; B is n×k when trans) into p.
func (p *PanelsB) Pack(trans bool, b []float32, ldb, k, n int) {
	im := dpbf16Impl
	p.k, p.n = k, n
	p.w = growPanel(p.w, ceilDiv(n, im.nr)*im.nr*k)
	im.packBPairs(trans, b, ldb, 0, 0, k, n, p.w)
}

func growPanel(w []float32, n int) []float32 {
	if cap(w) < n {
		return make([]float32, n)
	}
	return w[:n]
}

// GemmPanels computes C = alpha·op(A)·op(B)[p0:p0+k, j0:j0+n] + beta·C,
// op(A) being a's m×k, on the calling goroutine. j0 must be a multiple of
// 32 and p0 even, with p0+k ≤ b's k and j0+n ≤ b's n; a k that is odd
// must end b's k steps (its pair partner is then the padding, zero on
// both sides). Like SgemmBF16 with beta = 0, C is not read.
func GemmPanels(a *PanelsA, b *PanelsB, p0, j0, n int, alpha, beta float32, c []float32, ldc int) {
	im := dpbf16Impl
	m, k := a.m, a.k
	if j0%im.nr != 0 || p0%2 != 0 || p0+k > b.k || j0+n > b.n || (k%2 == 1 && p0+k != b.k) {
		panic(fmt.Sprintf("kernels: GemmPanels: columns %d+%d of %d, k steps %d+%d of %d", j0, n, b.n, p0, k, b.k))
	}
	if m == 0 || n == 0 {
		return
	}
	if len(c) < (m-1)*ldc+n || ldc < n {
		panic(fmt.Sprintf("kernels: GemmPanels: C of %d with ldc %d for %d×%d", len(c), ldc, m, n))
	}
	load := 0
	if beta != 0 {
		load = 1
	}
	kp := ceilDiv(k, 2)
	for ir := 0; ir < m; ir += im.mr {
		rows := min(im.mr, m-ir)
		for jr := 0; jr < n; jr += im.nr {
			cols := min(im.nr, n-jr)
			bp := &b.w[(j0+jr)*b.k+p0/2*im.nr]
			dpbf16Tile(rows, cols, kp, &a.w[ir*k], bp, &c[ir*ldc+jr], ldc, alpha, beta, load)
		}
	}
}
