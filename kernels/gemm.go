// Package kernels holds the numeric kernels of the trainer: matrix multiply
// in the layouts training needs and a few vector operations. It is a leaf:
// it imports nothing of this module.
//
// On amd64 the matrix multiply runs a register-blocked micro-kernel written
// in Go assembly (AVX-512 12×32 tiles, or AVX2/FMA 6×16 tiles), chosen at
// start-up from the CPU's features; elsewhere, and on CPUs without AVX2/FMA,
// a blocked pure-Go kernel runs instead. Implementation reports which one.
//
//go:generate go run ./internal/asmgen -out sgemm_amd64.s
package kernels

import (
	"fmt"
	"runtime"
	"sync"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or Xᵀ. op(A) is m×k, op(B) is k×n, C is m×n.
// lda, ldb, ldc are the row strides (in elements) of A, B and C as stored:
// A is stored m×k (k×m when transA), B is stored k×n (n×k when transB).
// With beta == 0, C is overwritten (its old contents, even NaN, are ignored);
// with alpha == 0 or k == 0, A and B are not read.
//
// Large products are split across runtime.GOMAXPROCS(0) goroutines; small
// ones run on the calling goroutine. Sgemm panics, like a BLAS xerbla, when
// a dimension is negative, a stride is too small or a slice too short for
// the shape described: those are programming errors, and the assembly
// kernels must never be handed memory outside the slices.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs("Sgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(active, maxWorkers(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm that never starts goroutines: it runs entirely on
// the calling goroutine, for callers that parallelise at a coarser grain
// (one attention head per goroutine, say). Same contract as Sgemm.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs("SgemmSerial", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(active, 1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Implementation names the matrix-multiply path in use on this machine:
// "avx512", "avx2" or "generic".
func Implementation() string { return active.name }

// microKernel computes the mr×nr product of a packed A panel (mr floats per
// k step) and a packed B panel (nr floats per k step) over kc steps, and
// writes it to the tile at c (row stride ldc): c = acc when load == 0,
// c = beta·c + acc otherwise.
type microKernel func(kc int, a, b, c *float32, ldc int, beta float32, load int)

// impl is one matrix-multiply path: a micro-kernel with its tile shape and
// the cache-blocking sizes tuned for it.
type impl struct {
	name   string
	mr, nr int // micro-tile rows and columns
	kc     int // k-block: depth of the packed panels
	mc     int // rows of A packed at once (multiple of mr)
	nc     int // columns of B packed at once (multiple of nr)
	kernel microKernel
	// packA and packB, when set, pack one full panel (mr rows of A, nr
	// columns of B) faster than the Go loops; see packA and packB.
	packA func(trans bool, kb int, src *float32, ld int, alpha float32, dst *float32)
	packB func(trans bool, kb int, src *float32, ld int, dst *float32)
	// edge, when set, runs the micro-kernel on a partial tile (rows < mr
	// or cols < nr) writing only inside it; otherwise partial tiles go
	// through workspace.tile.
	edge func(rows, cols, kc int, a, b, c *float32, ldc int, beta float32, load int)
	pool sync.Pool // *workspace
}

// workspace is the packing memory of one goroutine.
type workspace struct {
	a, b, tile []float32
}

func (im *impl) getWorkspace() *workspace {
	if w, ok := im.pool.Get().(*workspace); ok {
		return w
	}
	return &workspace{
		a:    make([]float32, im.mc*im.kc),
		b:    make([]float32, im.kc*im.nc),
		tile: make([]float32, im.mr*im.nr),
	}
}

// minParallelFlops is the size (m·n·k) under which Sgemm stays on one
// goroutine: below it the cost of starting and joining workers is a
// noticeable part of the run time.
const minParallelFlops = 96 * 96 * 96

// sgemm runs the product on at most workers goroutines.
func sgemm(im *impl, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if workers <= 1 || m*n*k < minParallelFlops {
		w := im.getWorkspace()
		im.block(w, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		im.pool.Put(w)
		return
	}
	gm, gn := im.grid(workers, m, n, k)
	rowStep := ceilDiv(ceilDiv(m, im.mr), gm) * im.mr
	colStep := ceilDiv(ceilDiv(n, im.nr), gn) * im.nr
	var wg sync.WaitGroup
	for i0 := 0; i0 < m; i0 += rowStep {
		for j0 := 0; j0 < n; j0 += colStep {
			mt, nt := min(rowStep, m-i0), min(colStep, n-j0)
			as := a[i0*lda:]
			if transA {
				as = a[i0:]
			}
			bs := b[j0:]
			if transB {
				bs = b[j0*ldb:]
			}
			cs := c[i0*ldc+j0:]
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := im.getWorkspace()
				im.block(w, transA, transB, mt, nt, k, alpha, as, lda, bs, ldb, beta, cs, ldc)
				im.pool.Put(w)
			}()
		}
	}
	wg.Wait()
}

// grid picks how many row groups (gm) and column groups (gn) the workers
// split C into, gm·gn ≤ workers, so that the packing work, which each
// worker repeats for its own tile, is smallest.
func (im *impl) grid(workers, m, n, k int) (gm, gn int) {
	best := -1.0
	rowTiles, colTiles := ceilDiv(m, im.mr), ceilDiv(n, im.nr)
	for p := workers; p >= 1; p-- {
		for g := 1; g <= p; g++ {
			if p%g != 0 {
				continue
			}
			r, q := g, p/g
			if r > rowTiles || q > colTiles {
				continue
			}
			mt := ceilDiv(rowTiles, r) * im.mr
			nt := ceilDiv(colTiles, q) * im.nr
			// Time ∝ compute of the largest tile plus its packing.
			compute := float64(mt) * float64(nt) * float64(k) / 8
			pack := float64(k)*float64(nt) + float64(mt)*float64(k)*float64(ceilDiv(nt, im.nc))
			cost := compute + pack
			if best < 0 || cost < best {
				best, gm, gn = cost, r, q
			}
		}
		if best >= 0 {
			break
		}
	}
	return gm, gn
}

// block is the serial blocked algorithm (Goto/BLIS loop order): for each
// nc-wide column block and kc-deep slice, pack B once, then for each
// mc-tall row block pack A and run the micro-kernel over the tiles.
func (im *impl) block(w *workspace, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for jc := 0; jc < n; jc += im.nc {
		nb := min(im.nc, n-jc)
		for pc := 0; pc < k; pc += im.kc {
			kb := min(im.kc, k-pc)
			im.packBBlock(transB, b, ldb, pc, jc, kb, nb, w.b)
			bet := beta
			if pc > 0 {
				bet = 1
			}
			for ic := 0; ic < m; ic += im.mc {
				mb := min(im.mc, m-ic)
				im.packABlock(transA, a, lda, ic, pc, mb, kb, alpha, w.a)
				im.macro(w, mb, nb, kb, c[ic*ldc+jc:], ldc, bet)
			}
		}
	}
}

// macro runs the micro-kernel over the mb×nb block of C whose packed
// operands are in w.a and w.b. Edge tiles go through w.tile.
func (im *impl) macro(w *workspace, mb, nb, kb int, c []float32, ldc int, beta float32) {
	mr, nr := im.mr, im.nr
	load := 0
	if beta != 0 {
		load = 1
	}
	for jr := 0; jr < nb; jr += nr {
		nw := min(nr, nb-jr)
		bp := &w.b[jr*kb]
		for ir := 0; ir < mb; ir += mr {
			mh := min(mr, mb-ir)
			ap := &w.a[ir*kb]
			if mh == mr && nw == nr {
				im.kernel(kb, ap, bp, &c[ir*ldc+jr], ldc, beta, load)
				continue
			}
			if im.edge != nil {
				im.edge(mh, nw, kb, ap, bp, &c[ir*ldc+jr], ldc, beta, load)
				continue
			}
			im.kernel(kb, ap, bp, &w.tile[0], nr, 0, 0)
			for i := 0; i < mh; i++ {
				crow := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nw]
				trow := w.tile[i*nr : i*nr+nw]
				if beta == 0 {
					copy(crow, trow)
				} else {
					for j, t := range trow {
						crow[j] = beta*crow[j] + t
					}
				}
			}
		}
	}
}

// maxGatherLd bounds the strides the assembly packing routines accept:
// they address rows with 32-bit offsets.
const maxGatherLd = (1<<31 - 1) / 64

// packABlock copies alpha·op(A)[i0:i0+mb, p0:p0+kb] into dst as
// ceil(mb/mr) panels; panel r holds, for each k step p, the mr values of
// rows r·mr..r·mr+mr-1 (zero past mb).
func (im *impl) packABlock(trans bool, a []float32, lda, i0, p0, mb, kb int, alpha float32, dst []float32) {
	mr := im.mr
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		panel := dst[ir*kb : ir*kb+mr*kb]
		if rows == mr && im.packA != nil && lda <= maxGatherLd {
			var src *float32
			if trans {
				src = &a[p0*lda+i0+ir]
			} else {
				src = &a[(i0+ir)*lda+p0]
			}
			im.packA(trans, kb, src, lda, alpha, &panel[0])
			continue
		}
		if trans {
			for p := 0; p < kb; p++ {
				src := a[(p0+p)*lda+i0+ir : (p0+p)*lda+i0+ir+rows]
				d := panel[p*mr : p*mr+mr]
				for i, v := range src {
					d[i] = alpha * v
				}
				clear(d[rows:])
			}
			continue
		}
		for i := 0; i < rows; i++ {
			src := a[(i0+ir+i)*lda+p0 : (i0+ir+i)*lda+p0+kb]
			for p, v := range src {
				panel[p*mr+i] = alpha * v
			}
		}
		if rows < mr {
			for p := 0; p < kb; p++ {
				clear(panel[p*mr+rows : p*mr+mr])
			}
		}
	}
}

// packBBlock copies op(B)[p0:p0+kb, j0:j0+nb] into dst as ceil(nb/nr)
// panels; panel r holds, for each k step p, the nr values of columns
// r·nr..r·nr+nr-1 (zero past nb).
func (im *impl) packBBlock(trans bool, b []float32, ldb, p0, j0, kb, nb int, dst []float32) {
	nr := im.nr
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		panel := dst[jr*kb : jr*kb+nr*kb]
		if cols == nr && im.packB != nil && ldb <= maxGatherLd {
			var src *float32
			if trans {
				src = &b[(j0+jr)*ldb+p0]
			} else {
				src = &b[p0*ldb+j0+jr]
			}
			im.packB(trans, kb, src, ldb, &panel[0])
			continue
		}
		if !trans {
			for p := 0; p < kb; p++ {
				d := panel[p*nr : p*nr+nr]
				copy(d, b[(p0+p)*ldb+j0+jr:(p0+p)*ldb+j0+jr+cols])
				clear(d[cols:])
			}
			continue
		}
		for j := 0; j < cols; j++ {
			src := b[(j0+jr+j)*ldb+p0 : (j0+jr+j)*ldb+p0+kb]
			for p, v := range src {
				panel[p*nr+j] = v
			}
		}
		if cols < nr {
			for p := 0; p < kb; p++ {
				clear(panel[p*nr+cols : p*nr+nr])
			}
		}
	}
}

// scaleC sets C = beta·C (C = 0 when beta == 0).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// checkArgs panics with a precise message when the arguments do not
// describe matrices inside the given slices.
func checkArgs(fn string, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: %s: negative dimension m=%d n=%d k=%d", fn, m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix(fn, "A", ar, ac, a, lda)
	checkMatrix(fn, "B", br, bc, b, ldb)
	checkMatrix(fn, "C", m, n, c, ldc)
}

func checkMatrix(fn, name string, rows, cols int, x []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels: %s: ld%s=%d is less than the %d columns of %s", fn, lower(name), ld, cols, name))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("kernels: %s: %s is %d×%d with stride %d and needs %d elements, has %d", fn, name, rows, cols, ld, need, len(x)))
	}
}

func lower(s string) string {
	switch s {
	case "A":
		return "a"
	case "B":
		return "b"
	}
	return "c"
}

// sgemmRef is the portable reference implementation.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if beta == 0 {
			for j := range crow {
				crow[j] = 0
			}
		} else if beta != 1 {
			for j := range crow {
				crow[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if av == 0 {
				continue
			}
			if transB {
				for j := 0; j < n; j++ {
					crow[j] += av * b[j*ldb+p]
				}
			} else {
				brow := b[p*ldb : p*ldb+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			}
		}
	}
}

// maxWorkers is the number of goroutines Sgemm may use.
func maxWorkers() int { return runtime.GOMAXPROCS(0) }
