//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasDPBF16 says whether this CPU can run the AVX-512 BF16 path
// (VDPBF16PS, with the AVX-512 packing).
var hasDPBF16 = hasAVX512 && cpu.X86.HasAVX512BF16

// dpbf16Impl is SgemmBF16 on AVX-512 BF16: 12×32 tiles of VDPBF16PS
// over operands packed as bfloat16 pairs, the conversion done while
// packing (see pairs.go), with the blocking and the goroutine split of
// Sgemm. nil on CPUs without AVX512_BF16.
var dpbf16Impl = func() *impl {
	if !hasDPBF16 {
		return nil
	}
	return &impl{name: "avx512bf16", mr: 12, nr: 32, kc: 512, mc: 96, nc: 2048,
		dp: dpbf16Tile, pairPackA: dpPackA12, pairPackB: dpPackB32}
}()

// VDPBF16PS kernels in sgemm_amd64.s: the first r rows of a 12×32 tile
// from kp pairs, the columns of C set in mask.
//
//go:noescape
func dpbf16KernelR1(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR2(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR3(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR4(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR5(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR6(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR7(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR8(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR9(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR10(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR11(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

//go:noescape
func dpbf16KernelR12(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)

var dpbf16Kernels = [13]func(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32){
	1: dpbf16KernelR1, 2: dpbf16KernelR2, 3: dpbf16KernelR3, 4: dpbf16KernelR4,
	5: dpbf16KernelR5, 6: dpbf16KernelR6, 7: dpbf16KernelR7, 8: dpbf16KernelR8,
	9: dpbf16KernelR9, 10: dpbf16KernelR10, 11: dpbf16KernelR11, 12: dpbf16KernelR12,
}

// dpbf16Tile runs the kernel on a rows×cols tile (rows ≤ 12, cols ≤ 32).
func dpbf16Tile(rows, cols, kp int, a, b, c *float32, ldc int, alpha, beta float32, load int) {
	dpbf16Kernels[rows](kp, a, b, c, ldc, alpha, beta, load, uint32(uint64(1)<<cols-1))
}

// dpbf16Loop runs n iterations of 24 independent VDPBF16PS (1536 flops
// each), for PeakBF16GFLOPS.
//
//go:noescape
func dpbf16Loop(n int)

// Packing routines in dpbf16_amd64.s for full panels (see pairs.go).
//
//go:noescape
func dpPackRows32(pairs int, src *float32, ld int, dst *float32)

//go:noescape
func dpPackRows12(pairs int, src *float32, ld int, dst *float32)

//go:noescape
func dpPackGather12(pairs int, src *float32, ld int, dst *float32)

//go:noescape
func dpPackGather32(pairs int, src *float32, ld int, dst *float32)

// Transposing packs in sgemm_amd64.s (asmgen/transpose.go): whole blocks
// of 16 pairs of rows whose k steps are contiguous, a register transpose
// instead of gathers.
//
//go:noescape
func dpPackT12(blocks int, src *float32, ld int, dst *float32)

//go:noescape
func dpPackT32(blocks int, src *float32, ld int, dst *float32)

// dpPackA12 packs a full 12-row A panel: op(A) = Aᵀ has the 12 rows side
// by side in each stored row; op(A) = A has each row's k steps contiguous.
func dpPackA12(trans bool, pairs int, src *float32, ld int, dst *float32) {
	if trans {
		dpPackRows12(pairs, src, ld, dst)
		return
	}
	packContiguous(12, dpPackT12, dpPackGather12, pairs, src, ld, dst)
}

// dpPackB32 packs a full 32-column B panel.
func dpPackB32(trans bool, pairs int, src *float32, ld int, dst *float32) {
	if !trans {
		dpPackRows32(pairs, src, ld, dst)
		return
	}
	packContiguous(32, dpPackT32, dpPackGather32, pairs, src, ld, dst)
}

// packContiguous packs a panel w wide whose rows have their k steps
// contiguous: whole blocks of 16 pairs by the transposing pack, the rest
// by the gathering one.
func packContiguous(w int, transpose, gather func(n int, src *float32, ld int, dst *float32), pairs int, src *float32, ld int, dst *float32) {
	blocks := pairs / 16
	if blocks > 0 {
		transpose(blocks, src, ld, dst)
	}
	if rest := pairs - 16*blocks; rest > 0 {
		gather(rest, addF(src, 32*blocks), ld, addF(dst, 16*w*blocks))
	}
}

// addF returns p advanced by n float32s.
func addF(p *float32, n int) *float32 { return (*float32)(unsafe.Add(unsafe.Pointer(p), 4*n)) }

// bf16PeakLoop returns the VDPBF16PS loop and the flops of one iteration,
// or nil on CPUs without AVX512_BF16.
func bf16PeakLoop() (func(n int), float64) {
	if !hasDPBF16 {
		return nil, 0
	}
	return dpbf16Loop, 1536
}
