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

// PanelsAWords returns how many float32 words PanelsA.Pack needs for
// op(A) of m×k (bfloat16 pairs, whole panels of 12 rows); only where
// HasPanels.
func PanelsAWords(m, k int) int {
	mr := dpbf16Impl.mr
	return ceilDiv(m, mr) * mr * ceilDiv(k, 2)
}

// Use makes the next Pack write into buf when it is large enough
// (PanelsAWords); see PanelsB.Use.
func (p *PanelsA) Use(buf []float32) { p.w = buf[:0:len(buf)] }

// PanelsBWords returns how many float32 words PanelsB.Pack needs for op(B)
// of k×n (bfloat16 pairs, whole panels of 32 columns); only where
// HasPanels.
func PanelsBWords(k, n int) int {
	nr := dpbf16Impl.nr
	return ceilDiv(n, nr) * nr * ceilDiv(k, 2)
}

// Use makes the next Pack write into buf when it is large enough
// (PanelsBWords), for a caller with scratch memory to spare; buf must not
// be touched while p is in use. nil returns p to memory of its own.
func (p *PanelsB) Use(buf []float32) { p.w = buf[:0:len(buf)] }

// Pack rounds op(A) (m×k; A is k×m when trans) into p: panel i (rows
// 12i..) is ceil(k/2) pairs of 12 words, at word 12i·ceil(k/2).
func (p *PanelsA) Pack(trans bool, a []float32, lda, m, k int) {
	im := dpbf16Impl
	p.m, p.k = m, k
	size := im.mr * ceilDiv(k, 2)
	p.w = growPanel(p.w, ceilDiv(m, im.mr)*size)
	for ir := 0; ir < m; ir += im.mr {
		im.packAPairs(trans, a, lda, ir, 0, min(im.mr, m-ir), k, p.w[ir/im.mr*size:])
	}
}

// Pack rounds op(B) (k×n; B is n×k when trans) into p: panel j (columns
// 32j..) is ceil(k/2) pairs of 32 words, at word 32j·ceil(k/2).
func (p *PanelsB) Pack(trans bool, b []float32, ldb, k, n int) {
	im := dpbf16Impl
	p.k, p.n = k, n
	size := im.nr * ceilDiv(k, 2)
	p.w = growPanel(p.w, ceilDiv(n, im.nr)*size)
	for jr := 0; jr < n; jr += im.nr {
		im.packBPairs(trans, b, ldb, 0, jr, k, min(im.nr, n-jr), p.w[jr/im.nr*size:])
	}
}

// growPanel returns w resized to n. Panels that must grow get a quarter
// more room than asked, so that those of a cache growing a row at a time
// (decoding) are reallocated seldom; the first allocation is exact.
func growPanel(w []float32, n int) []float32 {
	switch {
	case cap(w) >= n:
		return w[:n]
	case cap(w) == 0:
		return make([]float32, n)
	}
	return make([]float32, n, n+n/4)
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
	kp, bkp := ceilDiv(k, 2), ceilDiv(b.k, 2)
	for ir := 0; ir < m; ir += im.mr {
		rows := min(im.mr, m-ir)
		for jr := 0; jr < n; jr += im.nr {
			cols := min(im.nr, n-jr)
			bp := &b.w[(j0+jr)*bkp+p0/2*im.nr]
			dpbf16Tile(rows, cols, kp, &a.w[ir*kp], bp, &c[ir*ldc+jr], ldc, alpha, beta, load)
		}
	}
}
