//go:build amd64 && !purego

package kernels

import (
	"sync"

	"github.com/longrecipe/longrecipe/internal/freelist"
	"golang.org/x/sys/cpu"
)

// amxKernel32x32 is in sgemm_amd64.s: for each of npanels (≥ 1) packed
// B panels, bstride bytes apart, a 32×32 block of C (the next 32 columns)
// from kblocks 32-deep blocks of packed bf16 panels (see packPanelA and
// packPanelB), combined as C = alpha·acc (+ beta·C when load ≠ 0) through
// scratch (32×32 floats). It loads the tile configuration cfg and releases
// the tiles before returning, so no tile state outlives the call
// (goroutines move between threads, and tile state is per thread).
//
//go:noescape
func amxKernel32x32(kblocks int, a, b *uint16, c *float32, ldc int, alpha, beta float32, load int, scratch *float32, cfg *byte, npanels, bstride int)

// Packing routines in bf16_amd64.s for full 32-row or 32-column panels.
//
//go:noescape
func bf16PackANoTrans(src *float32, ld, k int, dst *uint16)

//go:noescape
func bf16PackBTrans(src *float32, ld, k int, dst *uint16)

//go:noescape
func bf16PackPairs(src *float32, ld, k int, dst *uint16, scatter int)

var (
	amxOnce sync.Once
	amxOK   bool
)

// amxTileConfig is the LDTILECFG block: palette 1, eight tiles of 16
// rows × 64 bytes.
var amxTileConfig = func() *[64]byte {
	var c [64]byte
	c[0] = 1
	for t := 0; t < 8; t++ {
		c[16+2*t] = 64
		c[48+t] = 16
	}
	return &c
}()

// HasAMX reports whether SgemmBF16 runs on AMX tiles: the CPU has
// AMX-TILE and AMX-BF16, the CPU has AVX-512 (for the packing and the
// combine) and Linux granted this process the tile-data state
// (arch_prctl ARCH_REQ_XCOMP_PERM, asked once, on the first call).
func HasAMX() bool {
	amxOnce.Do(func() {
		if !cpu.X86.HasAMXTile || !cpu.X86.HasAMXBF16 || !hasAVX512 {
			return
		}
		amxOK = requestAMXPermission()
	})
	return amxOK
}

// amxNC and amxKC are the columns and the depth of the blocks of B
// packed at once (amxKC a multiple of 32).
const (
	amxNC = 256
	amxKC = 512
)

// sgemmAMX is SgemmBF16 on AMX: pack all of A into 32-row bf16 panels,
// then, for each block of amxNC columns and amxKC depth, pack B into
// 32-column panels and run the 32×32 kernel over all (row panel, column
// panel) pairs, accumulating into C from the second depth block on.
func sgemmAMX(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !HasAMX() {
		// Without the permission the first tile instruction kills the
		// process with SIGILL.
		panic("kernels: sgemmAMX called on a process without AMX tile permission")
	}
	kp := ceilDiv(k, 32) * 32
	rowPanels := ceilDiv(m, 32)
	if m*n*k < minParallelFlops {
		workers = 1
	}
	pa := getU16(rowPanels * 32 * kp)
	defer putU16(pa)
	kcp := min(kp, amxKC)
	pb := getU16(ceilDiv(min(n, amxNC), 32) * 32 * kcp)
	defer putU16(pb)
	pab, pbb := *pa, *pb
	parallelTasks(workers, rowPanels, func(_, p int) {
		packPanelA(transA, a, lda, p*32, min(32, m-p*32), k, kp, pab[p*32*kp:(p+1)*32*kp])
	})
	for jc := 0; jc < n; jc += amxNC {
		nb := min(amxNC, n-jc)
		colPanels := ceilDiv(nb, 32)
		fullPanels := nb / 32
		for pc := 0; pc < k; pc += amxKC {
			kb := min(amxKC, k-pc)
			kbp := ceilDiv(kb, 32) * 32
			var bs []float32
			if transB {
				bs = b[pc:]
			} else {
				bs = b[pc*ldb:]
			}
			parallelTasks(workers, colPanels, func(_, q int) {
				j0 := jc + q*32
				packPanelB(transB, bs, ldb, j0, min(32, n-j0), kb, kbp, pbb[q*32*kbp:(q+1)*32*kbp])
			})
			bet := beta
			if pc > 0 {
				bet = 1
			}
			load := 0
			if bet != 0 {
				load = 1
			}
			// A task is one row panel × all full column panels of the
			// block (one kernel call), plus the edge panel if any.
			parallelTasks(workers, rowPanels, func(_, p int) {
				i0 := p * 32
				rows := min(32, m-i0)
				ap := &pab[p*32*kp+(pc/32)*1024]
				s := getScratch()
				defer scratchPool.Put(s)
				q0 := 0
				if rows == 32 && fullPanels > 0 {
					amxKernel32x32(kbp/32, ap, &pbb[0], &c[i0*ldc+jc], ldc, alpha, bet, load, &s[0], &amxTileConfig[0], fullPanels, 32*kbp*2)
					q0 = fullPanels
				}
				out := s[1024:]
				for q := q0; q < colPanels; q++ {
					j0 := jc + q*32
					cols := min(32, n-j0)
					amxKernel32x32(kbp/32, ap, &pbb[q*32*kbp], &out[0], 32, alpha, 0, 0, &s[0], &amxTileConfig[0], 1, 0)
					for i := 0; i < rows; i++ {
						crow := c[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+cols]
						orow := out[i*32 : i*32+cols]
						if bet == 0 {
							copy(crow, orow)
							continue
						}
						for j, v := range orow {
							crow[j] = bet*crow[j] + v
						}
					}
				}
			})
		}
	}
}

// packPanelA packs rows [i0, i0+rows) of op(A) (rows ≤ 32, the rest
// zero) over k (zero-padded to kp) as kp/32 blocks of two 16×32 bf16
// tiles: element (r, kk) of block kb at ((kb·2 + r/16)·16 + r%16)·32 + kk.
func packPanelA(trans bool, a []float32, lda, i0, rows, k, kp int, dst []uint16) {
	if rows == 32 && !trans {
		bf16PackANoTrans(&a[i0*lda], lda, k, &dst[0])
		return
	}
	if rows == 32 && trans {
		if k%32 != 0 {
			clear(dst[(k/32)*1024:])
		}
		bf16PackPairs(&a[i0], lda, k, &dst[0], 1)
		return
	}
	clear(dst)
	for r := 0; r < rows; r++ {
		base := ((r/16)*16 + r%16) * 32
		if !trans {
			src := a[(i0+r)*lda : (i0+r)*lda+k]
			for p, v := range src {
				dst[(p/32)*1024+base+p%32] = toBF16(v)
			}
			continue
		}
		for p := 0; p < k; p++ {
			dst[(p/32)*1024+base+p%32] = toBF16(a[p*lda+i0+r])
		}
	}
}

// packPanelB packs columns [j0, j0+cols) of op(B) (cols ≤ 32, the rest
// zero) over k (zero-padded to kp) as kp/32 blocks of two B tiles of 16
// rows (pairs of k) × 16 columns × 2: element (kk, j) of block kb at
// ((kb·2 + j/16)·16 + kk/2)·32 + (j%16)·2 + kk%2.
func packPanelB(trans bool, b []float32, ldb, j0, cols, k, kp int, dst []uint16) {
	if cols == 32 && trans {
		bf16PackBTrans(&b[j0*ldb], ldb, k, &dst[0])
		return
	}
	if cols == 32 && !trans {
		if k%32 != 0 {
			clear(dst[(k/32)*1024:])
		}
		bf16PackPairs(&b[j0], ldb, k, &dst[0], 0)
		return
	}
	clear(dst)
	for p := 0; p < k; p++ {
		blk := (p / 32) * 1024
		off := ((p%32)/2)*32 + p%2
		if !trans {
			src := b[p*ldb+j0 : p*ldb+j0+cols]
			for j, v := range src {
				dst[blk+(j/16)*512+off+(j%16)*2] = toBF16(v)
			}
			continue
		}
		for j := 0; j < cols; j++ {
			dst[blk+(j/16)*512+off+(j%16)*2] = toBF16(b[(j0+j)*ldb+p])
		}
	}
}

// scratchPool holds the kernel's 32×32 combine block and a 32×32 block
// for edge tiles.
var scratchPool freelist.List[[2048]float32]

func getScratch() *[2048]float32 {
	if s := scratchPool.Get(); s != nil {
		return s
	}
	return new([2048]float32)
}

var u16Pool freelist.List[[]uint16]

func getU16(n int) *[]uint16 {
	if p := u16Pool.Get(); p != nil && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]uint16, n)
	return &s
}

func putU16(p *[]uint16) { u16Pool.Put(p) }
