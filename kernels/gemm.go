//go:generate go run ./internal/asmgen -out sgemm_amd64.s
package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/longrecipe/longrecipe/internal/freelist"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or Xᵀ. op(A) is m×k, op(B) is k×n, C is m×n.
// lda, ldb, ldc are the row strides (in elements) of A, B and C as stored:
// A is stored m×k (k×m when transA), B is stored k×n (n×k when transB).
// With beta == 0, C is overwritten (its old contents, even NaN, are ignored);
// with alpha == 0 or k == 0, A and B are not read.
//
// Large products are split across runtime.GOMAXPROCS(0) goroutines; small
// ones run on the calling goroutine. The result does not depend on the
// split (each element is summed in the same order): bit for bit on the
// AVX-512 path, and on every path when beta is 0 or 1. Sgemm panics, like a BLAS xerbla, when
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
	// columns of B) faster than the Go loops; see packABlock, packBBlock.
	packA func(trans bool, kb int, src *float32, ld int, alpha float32, dst *float32)
	packB func(trans bool, kb int, src *float32, ld int, dst *float32)
	// edge, when set, runs the micro-kernel on a partial tile (rows < mr
	// or cols < nr) writing only inside it; otherwise partial tiles go
	// through workspace.tile.
	edge func(rows, cols, kc int, a, b, c *float32, ldc int, beta float32, load int)
	// direct, when set, runs a rows×cols tile (rows ≤ mr, cols ≤ nr)
	// reading A in place (row-major, stride lda, not packed) and scaling
	// by alpha: for op(A) = A it saves packing A.
	direct func(rows, cols, kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int)
	// dp, when set, makes this a bfloat16 path (see dpbf16.go): A and B
	// are packed as pairs of bfloat16 k steps by pairPackA and pairPackB
	// (full panels; nil: Go loops) and dp runs a rows×cols tile (rows ≤
	// mr, cols ≤ nr) over kp pairs: C = alpha·acc (+ beta·C when load ≠ 0).
	// kernel, packA, packB, edge and direct are then unused.
	dp                   func(rows, cols, kp int, a, b, c *float32, ldc int, alpha, beta float32, load int)
	pairPackA, pairPackB func(trans bool, pairs int, src *float32, ld int, dst *float32)
	pool                 freelist.List[workspace]
	bpool                freelist.List[[]float32] // packed B blocks
}

// workspace is the packing memory of one goroutine: its packed A block
// and the scratch tile for edge tiles.
type workspace struct {
	a, tile []float32
}

func (im *impl) getWorkspace() *workspace {
	if w := im.pool.Get(); w != nil {
		return w
	}
	return &workspace{a: make([]float32, im.mc*im.kc), tile: make([]float32, im.mr*im.nr)}
}

// getB returns a buffer for one packed B block (kc×nc), shared by the
// goroutines of one call.
func (im *impl) getB() *[]float32 {
	if b := im.bpool.Get(); b != nil {
		return b
	}
	b := make([]float32, im.kc*im.nc)
	return &b
}

// minParallelFlops is the size (m·n·k) under which Sgemm stays on one
// goroutine: below it the cost of starting and joining workers is a
// noticeable part of the run time. (A variable so tests can lower it.)
var minParallelFlops = 96 * 96 * 96

// sgemm runs the product on at most workers goroutines.
func sgemm(im *impl, workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if m*n*k < minParallelFlops {
		workers = 1
	}
	bp := im.getB()
	defer im.bpool.Put(bp)

	// Each kc-deep slice of an nc-wide column block is one round of two
	// phases: pack B (split by panels), then compute C in tasks of mc rows
	// × a chunk of columns, each packing its own A block. The workers live
	// for the whole call and take the tasks of each phase from its counter;
	// before the next phase a worker waits only for the tasks of this one
	// to be done, never for a worker that has not arrived (one that the OS
	// has not scheduled yet finds the phase finished and moves on). With
	// several workers, mc shrinks so that there are at least three row
	// blocks per worker.
	mc := im.mc
	if workers > 1 {
		mc = min(mc, max(im.mr, ceilDiv(ceilDiv(m, 3*workers), im.mr)*im.mr))
		workers = min(workers, max(ceilDiv(m, mc)*ceilDiv(n, im.nr), 1))
	}
	// Reading A in place pays when each A block meets few columns of B;
	// when it meets many, packing it once is cheaper than the strided
	// reads (measured on 2048² and 512×4096×4096 products: ~10 % faster
	// packed; on 64×64×64: ~35 % faster in place).
	direct := im.direct != nil && !transA && n <= directMaxN
	args := gemmArgs{im, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, *bp, mc, workers, direct}
	if workers == 1 {
		// A separate, non-escaping value: the serial path allocates nothing.
		call := gemmCall{gemmArgs: args}
		w := im.getWorkspace()
		call.work(w)
		im.pool.Put(w)
		return
	}
	call := &gemmCall{gemmArgs: args, phases: newPhases(2 * ceilDiv(n, im.nc) * ceilDiv(k, im.kc))}
	var wg sync.WaitGroup
	for i := 1; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := im.getWorkspace()
			call.work(w)
			im.pool.Put(w)
		}()
	}
	w := im.getWorkspace()
	call.work(w)
	im.pool.Put(w)
	wg.Wait()
}

// gemmArgs are the operands of one Sgemm call and its blocking.
type gemmArgs struct {
	im             *impl
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	pb             []float32 // packed B block, shared by the workers
	mc             int       // rows of C per task
	workers        int
	direct         bool // read A in place (im.direct) instead of packing it
}

// directMaxN is the widest C for which an untransposed A is read in place
// rather than packed (see sgemm).
const directMaxN = 512

// gemmCall is one Sgemm call as the workers see it.
type gemmCall struct {
	gemmArgs
	phases *phaseCounters // nil with a single worker
	serial int            // next task of the current phase, single worker
}

// work is the loop every worker runs (see sgemm).
func (g *gemmCall) work(w *workspace) {
	im := g.im
	rowBlocks := ceilDiv(g.m, g.mc)
	phase := 0
	for jc := 0; jc < g.n; jc += im.nc {
		nb := min(im.nc, g.n-jc)
		panels := ceilDiv(nb, im.nr)
		// Too few row blocks to share: cut the columns too.
		colChunks := 1
		if g.workers > 1 && rowBlocks < 2*g.workers {
			colChunks = min(panels, ceilDiv(2*g.workers, rowBlocks))
		}
		chunk := ceilDiv(panels, colChunks) * im.nr
		colChunks = ceilDiv(nb, chunk)
		for pc := 0; pc < g.k; pc += im.kc {
			kb := min(im.kc, g.k-pc)
			bet := g.beta
			if pc > 0 {
				bet = 1
			}
			for p, ok := g.take(phase, panels); ok; p, ok = g.take(phase, panels) {
				j0 := p * im.nr
				im.packBBlock(g.transB, g.b, g.ldb, pc, jc+j0, kb, min(im.nr, nb-j0), g.pb[j0*kb:])
				g.finished(phase, panels)
			}
			g.wait(phase, panels)
			phase++
			tasks := rowBlocks * colChunks
			for t, ok := g.take(phase, tasks); ok; t, ok = g.take(phase, tasks) {
				ic, j0 := (t/colChunks)*g.mc, (t%colChunks)*chunk
				mb, nw := min(g.mc, g.m-ic), min(chunk, nb-j0)
				if g.direct {
					im.macroDirect(mb, nw, kb, g.a[ic*g.lda+pc:], g.lda, g.pb[j0*kb:], g.c[ic*g.ldc+jc+j0:], g.ldc, g.alpha, bet)
				} else {
					im.packABlock(g.transA, g.a, g.lda, ic, pc, mb, kb, g.alpha, w.a)
					im.macro(w, mb, nw, kb, g.pb[j0*kb:], g.c[ic*g.ldc+jc+j0:], g.ldc, g.alpha, bet)
				}
				g.finished(phase, tasks)
			}
			g.wait(phase, tasks)
			phase++
		}
	}
}

// take hands out the next task of phase p (of tasks in all), if any.
func (g *gemmCall) take(p, tasks int) (int, bool) {
	if g.phases == nil {
		t := g.serial
		if t >= tasks {
			g.serial = 0
			return 0, false
		}
		g.serial++
		return t, true
	}
	t := int(g.phases.next[p].Add(1) - 1)
	return t, t < tasks
}

// finished counts one task of phase p (of tasks in all) as done; the
// last one releases the workers waiting for the phase.
func (g *gemmCall) finished(p, tasks int) {
	if g.phases != nil && g.phases.done[p].Add(1) == int64(tasks) {
		close(g.phases.over[p])
	}
}

// wait returns once all tasks of phase p are done. It checks a few times
// before blocking: on a machine with more runnable threads than cores a
// spinning waiter would take the core from the worker it waits for.
func (g *gemmCall) wait(p, tasks int) {
	if g.phases == nil {
		return
	}
	for i := 0; i < 32; i++ {
		if g.phases.done[p].Load() >= int64(tasks) {
			return
		}
	}
	<-g.phases.over[p]
}

// phaseCounters hand out the tasks of the phases of one call (next),
// count the finished ones (done) and signal the end of each phase (over,
// closed by the last task).
type phaseCounters struct {
	next, done []atomic.Int64
	over       []chan struct{}
}

func newPhases(n int) *phaseCounters {
	pc := &phaseCounters{next: make([]atomic.Int64, n), done: make([]atomic.Int64, n), over: make([]chan struct{}, n)}
	for i := range pc.over {
		pc.over[i] = make(chan struct{})
	}
	return pc
}

// macro runs the micro-kernel over the mb×nb block of C whose packed
// operands are in w.a and pb. Edge tiles go through im.edge or w.tile.
// alpha is applied only by a bfloat16 path (the others fold it into A).
func (im *impl) macro(w *workspace, mb, nb, kb int, pb []float32, c []float32, ldc int, alpha, beta float32) {
	mr, nr := im.mr, im.nr
	load := 0
	if beta != 0 {
		load = 1
	}
	if im.dp != nil {
		kp := ceilDiv(kb, 2)
		for jr := 0; jr < nb; jr += nr {
			for ir := 0; ir < mb; ir += mr {
				im.dp(min(mr, mb-ir), min(nr, nb-jr), kp, &w.a[ir*kb], &pb[jr*kb], &c[ir*ldc+jr], ldc, alpha, beta, load)
			}
		}
		return
	}
	for jr := 0; jr < nb; jr += nr {
		nw := min(nr, nb-jr)
		bp := &pb[jr*kb]
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

// macroDirect is macro for an A read in place: the mb×kb block of A at a
// (stride lda), alpha applied by the kernel.
func (im *impl) macroDirect(mb, nb, kb int, a []float32, lda int, pb []float32, c []float32, ldc int, alpha, beta float32) {
	mr, nr := im.mr, im.nr
	load := 0
	if beta != 0 {
		load = 1
	}
	for jr := 0; jr < nb; jr += nr {
		nw := min(nr, nb-jr)
		bp := &pb[jr*kb]
		for ir := 0; ir < mb; ir += mr {
			im.direct(min(mr, mb-ir), nw, kb, &a[ir*lda], lda, bp, &c[ir*ldc+jr], ldc, alpha, beta, load)
		}
	}
}

// packABlock copies alpha·op(A)[i0:i0+mb, p0:p0+kb] into dst as
// ceil(mb/mr) panels; panel r holds, for each k step p, the mr values of
// rows r·mr..r·mr+mr-1 (zero past mb).
func (im *impl) packABlock(trans bool, a []float32, lda, i0, p0, mb, kb int, alpha float32, dst []float32) {
	mr := im.mr
	if im.dp != nil {
		im.packAPairs(trans, a, lda, i0, p0, mb, kb, dst)
		return
	}
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
	if im.dp != nil {
		im.packBPairs(trans, b, ldb, p0, j0, kb, nb, dst)
		return
	}
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
