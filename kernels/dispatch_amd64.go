//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Micro-kernels in sgemm_amd64.s (see microKernel for the contract).
//
//go:noescape
func sgemmKernelAVX512x12(kc int, a, b, c *float32, ldc int, beta float32, load int)

//go:noescape
func sgemmKernelAVX2x6(kc int, a, b, c *float32, ldc int, beta float32, load int)

var (
	avx512Impl = &impl{name: "avx512", mr: 12, nr: 32, kc: 384, mc: 96, nc: 2048, kernel: sgemmKernelAVX512x12,
		packA: packA12AVX512, packB: packB32AVX512, edge: edgeAVX512, direct: directAVX512}
	avx2Impl = &impl{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 96, nc: 2048, kernel: sgemmKernelAVX2x6}
)

// hasAVX512 and hasAVX2 say which assembly paths this CPU (and OS) can run.
var (
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// active is the matrix-multiply path Sgemm uses.
var active = bestImpl()

func bestImpl() *impl {
	switch {
	case hasAVX512:
		return avx512Impl
	case hasAVX2:
		return avx2Impl
	}
	return genericImpl
}

// impls lists the paths this machine can run, best first (for tests).
func impls() []*impl {
	var l []*impl
	if hasAVX512 {
		l = append(l, avx512Impl)
	}
	if hasAVX2 {
		l = append(l, avx2Impl)
	}
	return append(l, genericImpl)
}

// fmaLoopAVX512 runs n iterations of 24 independent 16-lane FMAs
// (768 flops each).
//
//go:noescape
func fmaLoopAVX512(n int)

// fmaLoopAVX2 runs n iterations of 12 independent 8-lane FMAs
// (192 flops each).
//
//go:noescape
func fmaLoopAVX2(n int)

// Packing routines in sgemm_amd64.s for full 12-row A panels and 32-column
// B panels (see impl.packABlock and impl.packBBlock for the layouts).
//
//go:noescape
func packA12GatherAVX512(kc int, src *float32, ld int, alpha float32, dst *float32)

//go:noescape
func packA12CopyAVX512(kc int, src *float32, ld int, alpha float32, dst *float32)

//go:noescape
func packB32GatherAVX512(kc int, src *float32, ld int, dst *float32)

//go:noescape
func packB32CopyAVX512(kc int, src *float32, ld int, dst *float32)

//go:noescape
func packB32TransAVX512(kc int, src *float32, ld int, dst *float32)

func packA12AVX512(trans bool, kb int, src *float32, ld int, alpha float32, dst *float32) {
	if trans {
		packA12CopyAVX512(kb, src, ld, alpha, dst)
	} else {
		packA12GatherAVX512(kb, src, ld, alpha, dst)
	}
}

func packB32AVX512(trans bool, kb int, src *float32, ld int, dst *float32) {
	if trans {
		// 16×16 transposes for the bulk, gathers for the last kb%16 steps.
		full := kb &^ 15
		packB32TransAVX512(full, src, ld, dst)
		if full < kb {
			packB32GatherAVX512(kb-full, (*float32)(unsafe.Add(unsafe.Pointer(src), 4*full)), ld, (*float32)(unsafe.Add(unsafe.Pointer(dst), 4*32*full)))
		}
	} else {
		packB32CopyAVX512(kb, src, ld, dst)
	}
}

// peakLoop returns the FMA loop matching the active matrix-multiply path
// and the flops of one of its iterations.
func peakLoop() (func(n int), float64) {
	switch active {
	case avx512Impl:
		return fmaLoopAVX512, 768
	case avx2Impl:
		return fmaLoopAVX2, 192
	}
	return func(n int) { peakSink += fmaLoopGeneric(n) }, 16
}

// Edge kernels in sgemm_amd64.s: the 12×32 kernel for the first r rows of
// a packed A panel and the columns set in mask.
//
//go:noescape
func sgemmEdgeAVX512x12r1(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r2(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r3(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r4(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r5(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r6(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r7(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r8(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r9(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r10(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r11(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

//go:noescape
func sgemmEdgeAVX512x12r12(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32)

var edgeKernelsAVX512 = [13]func(kc int, a, b, c *float32, ldc int, beta float32, load int, mask uint32){
	1:  sgemmEdgeAVX512x12r1,
	2:  sgemmEdgeAVX512x12r2,
	3:  sgemmEdgeAVX512x12r3,
	4:  sgemmEdgeAVX512x12r4,
	5:  sgemmEdgeAVX512x12r5,
	6:  sgemmEdgeAVX512x12r6,
	7:  sgemmEdgeAVX512x12r7,
	8:  sgemmEdgeAVX512x12r8,
	9:  sgemmEdgeAVX512x12r9,
	10: sgemmEdgeAVX512x12r10,
	11: sgemmEdgeAVX512x12r11,
	12: sgemmEdgeAVX512x12r12,
}

// edgeAVX512 runs the AVX-512 kernel on a rows×cols edge tile
// (rows ≤ 12, cols ≤ 32) with masked loads and stores.
func edgeAVX512(rows, cols, kc int, a, b, c *float32, ldc int, beta float32, load int) {
	edgeKernelsAVX512[rows](kc, a, b, c, ldc, beta, load, uint32(1<<cols-1))
}

// Direct kernels in sgemm_amd64.s: r rows of A read in place (stride
// lda), 32 columns of packed B, the columns of C set in mask,
// C = alpha·acc (+ beta·C).
//
//go:noescape
func sgemmDirectAVX512r1(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r2(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r3(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r4(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r5(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r6(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r7(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r8(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r9(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r10(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r11(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func sgemmDirectAVX512r12(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

var directKernelsAVX512 = [13]func(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32){
	1:  sgemmDirectAVX512r1,
	2:  sgemmDirectAVX512r2,
	3:  sgemmDirectAVX512r3,
	4:  sgemmDirectAVX512r4,
	5:  sgemmDirectAVX512r5,
	6:  sgemmDirectAVX512r6,
	7:  sgemmDirectAVX512r7,
	8:  sgemmDirectAVX512r8,
	9:  sgemmDirectAVX512r9,
	10: sgemmDirectAVX512r10,
	11: sgemmDirectAVX512r11,
	12: sgemmDirectAVX512r12,
}

// directAVX512 runs the AVX-512 kernel on a rows×cols tile (rows ≤ 12,
// cols ≤ 32) with A read in place.
func directAVX512(rows, cols, kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, load int) {
	directKernelsAVX512[rows](kc, a, lda, b, c, ldc, alpha, beta, load, uint32(1<<cols-1))
}
