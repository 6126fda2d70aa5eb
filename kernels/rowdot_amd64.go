//go:build amd64 && !purego

package kernels

import "github.com/longrecipe/longrecipe/internal/freelist"

// Row-dot kernels in sgemm_amd64.s (see asmgen/rowdot.go): for each of n
// rows j of W, c[r·ldc+j] = alpha·Σ bf16(a_r)·bf16(w_j) (+ beta·c when
// load ≠ 0) for the rows r of one chunk-interleaved group of A.
//
//go:noescape
func dpRowDotR1(chunks int, a *uint16, w *float32, ldw, n int, c *float32, ldc int, alpha, beta float32, load int, tail uint32)

//go:noescape
func dpRowDotR2(chunks int, a *uint16, w *float32, ldw, n int, c *float32, ldc int, alpha, beta float32, load int, tail uint32)

//go:noescape
func dpRowDotR3(chunks int, a *uint16, w *float32, ldw, n int, c *float32, ldc int, alpha, beta float32, load int, tail uint32)

//go:noescape
func dpRowDotR4(chunks int, a *uint16, w *float32, ldw, n int, c *float32, ldc int, alpha, beta float32, load int, tail uint32)

var dpRowDots = [5]func(chunks int, a *uint16, w *float32, ldw, n int, c *float32, ldc int, alpha, beta float32, load int, tail uint32){
	1: dpRowDotR1, 2: dpRowDotR2, 3: dpRowDotR3, 4: dpRowDotR4,
}

// rowDotMax is the most rows of A for which SgemmBF16 of A·Bᵀ runs the
// row-dot kernels instead of packing B (see BenchmarkRowDot): with few
// rows, rounding all of B into pair panels costs more than multiplying
// (one core, n 1024, k 384: 9.5× faster at m = 1, 1.9× at 16, even at 24).
const rowDotMax = 16

// rowDotCols is the fewest rows of B (columns of C) a goroutine takes.
const rowDotCols = 64

// useRowDot reports whether sgemmBF16 should run sgemmRowDot.
func useRowDot(transA, transB bool, m int) bool {
	return hasDPBF16 && !transA && transB && m <= rowDotMax
}

var rowDotPool freelist.List[[]uint16]

// sgemmRowDot is SgemmBF16 for op(A) = A, op(B) = Bᵀ and few rows: A is
// rounded into groups of up to four chunk-interleaved rows, then each
// worker runs the kernels over its share of B's rows.
func sgemmRowDot(workers, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	chunks, rest := k/32, k%32
	stride := (chunks + min(rest, 1)) * 32 // words per row of A
	buf := rowDotPool.Get()
	if buf == nil {
		buf = new([]uint16)
	}
	defer rowDotPool.Put(buf)
	if cap(*buf) < m*stride {
		*buf = make([]uint16, m*stride)
	}
	packed := (*buf)[:m*stride]
	packRowDot(m, k, a, lda, stride, packed)
	tail := uint32(uint64(1)<<rest - 1)
	load := 0
	if beta != 0 {
		load = 1
	}
	tasks := max(1, min(workers*4, n/rowDotCols))
	parallelTasks(workers, tasks, func(_, t int) {
		j0, j1 := t*n/tasks, (t+1)*n/tasks
		if j0 == j1 {
			return
		}
		for r0 := 0; r0 < m; r0 += 4 {
			rows := min(4, m-r0)
			dpRowDots[rows](chunks, &packed[r0*stride], &b[j0*ldb], ldb, j1-j0, &c[r0*ldc+j0], ldc, alpha, beta, load, tail)
		}
	})
}

// packRowDot rounds the m×k matrix a (stride lda) to bfloat16 into dst,
// rows in groups of four, each group chunk-interleaved: chunk q of row r
// of a group of R rows at word (q·R + r)·32 of the group, which starts at
// word r0·stride. Words past k are zero.
func packRowDot(m, k int, a []float32, lda, stride int, dst []uint16) {
	for r0 := 0; r0 < m; r0 += 4 {
		rows := min(4, m-r0)
		g := dst[r0*stride : (r0+rows)*stride]
		for r := 0; r < rows; r++ {
			src := a[(r0+r)*lda : (r0+r)*lda+k]
			for q := 0; q*32 < stride; q++ {
				w := g[(q*rows+r)*32 : (q*rows+r+1)*32]
				for e := range w {
					w[e] = 0
					if i := q*32 + e; i < k {
						w[e] = toBF16(src[i])
					}
				}
			}
		}
	}
}
