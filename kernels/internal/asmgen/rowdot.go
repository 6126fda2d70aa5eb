package main

import "fmt"

// The row-dot kernels multiply a few rows of A by Bᵀ one row of B at a
// time, for SgemmBF16 with few rows (decoding one token, scoring a short
// continuation): packing B into pair panels would cost more than the
// arithmetic there. Each row of B is read once, rounded to bfloat16 in
// registers (VCVTNE2PS2BF16, 32 values an instruction) and multiplied
// with up to four rows of A at once (VDPBF16PS).
//
// A is packed by the caller, chunk-interleaved: for chunk q (32 k steps)
// and row r of the group, 32 bfloat16 values at word (q·R + r)·32, the
// last chunk zero-padded past k. B's rows are read with a masked load in
// the last, partial chunk.

// evexZ returns the encoding of a 512-bit EVEX instruction of map 0F38,
// W0, with prefix pp (1 66, 2 F3, 3 F2) and opcode op on registers:
// zmm(dst), zmm(src1) (EVEX.vvvv), zmm(src2) (ModRM.rm).
func evexZ(pp, op byte, dst, src1, src2 int) []byte {
	inv := func(b int) byte { return byte(^b & 1) }
	p0 := inv(dst>>3)<<7 | inv(src2>>4)<<6 | inv(src2>>3)<<5 | inv(dst>>4)<<4 | 0x2
	p1 := byte((^src1&0xf)<<3) | 0x4 | pp
	p2 := byte(0x40) | inv(src1>>4)<<3
	modrm := byte(0xc0 | (dst&7)<<3 | src2&7)
	return []byte{0x62, p0, p1, p2, op, modrm}
}

// cvtne2ps2bf16 emits VCVTNE2PS2BF16 zmm(dst), zmm(hi), zmm(lo): words
// 0..15 of dst are lo's 16 floats rounded to bfloat16 (to nearest even),
// words 16..31 hi's.
func (g *gen) cvtne2ps2bf16(dst, hi, lo int) {
	g.bytes(fmt.Sprintf("VCVTNE2PS2BF16 Z%d, Z%d, Z%d", lo, hi, dst), evexZ(3, 0x72, dst, hi, lo))
}

// dpRowDotKernel emits dpRowDotR<rows>: for each of n rows j of B (stride
// ldw floats), c[r·ldc + j] = alpha·Σ_k bf16(a[r][k])·bf16(w[j][k])
// (+ beta·c when load ≠ 0) for r < rows, over chunks full chunks of 32 k
// steps and a partial one whose columns are set in tail (0: none).
// Accumulators Z0..Z3, B's chunk in Z16/Z17 and rounded in Z18, A's
// chunks in Z20..Z23, alpha in Z30, beta in Z31.
// Arguments: chunks int, a *uint16, w *float32, ldw, n int, c *float32,
// ldc int, alpha, beta float32, load int, tail uint32.
func dpRowDotKernel(g *gen, rows int) {
	name := fmt.Sprintf("dpRowDotR%d", rows)
	g.p("// func %s(chunks int, a *uint16, w *float32, ldw, n int, c *float32, ldc int, alpha, beta float32, load int, tail uint32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-76", name)
	g.p("\tMOVQ chunks+0(FP), R12")
	g.p("\tMOVQ a+8(FP), BX")
	g.p("\tMOVQ w+16(FP), AX")
	g.p("\tMOVQ ldw+24(FP), R10")
	g.p("\tSHLQ $2, R10")
	g.p("\tMOVQ n+32(FP), R11")
	g.p("\tMOVQ c+40(FP), DX")
	g.p("\tMOVQ ldc+48(FP), SI")
	g.p("\tSHLQ $2, SI")
	g.p("\tVBROADCASTSS alpha+56(FP), Z30")
	g.p("\tVBROADCASTSS beta+60(FP), Z31")
	g.p("\tMOVQ load+64(FP), R8")
	g.p("\tMOVL tail+72(FP), R9")
	g.p("\tKMOVW R9, K1")
	g.p("\tSHRL $16, R9")
	g.p("\tKMOVW R9, K2")
	g.p("\tTESTQ R11, R11")
	g.p("\tJEQ %s_done", name)
	g.p("%s_row:", name)
	for r := 0; r < rows; r++ {
		g.p("\tVPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	g.p("\tMOVQ AX, R13")
	g.p("\tMOVQ BX, DI")
	g.p("\tMOVQ R12, CX")
	g.p("\tTESTQ CX, CX")
	g.p("\tJEQ %s_tail", name)
	chunk := func() {
		g.cvtne2ps2bf16(18, 17, 16)
		for r := 0; r < rows; r++ {
			g.p("\tVMOVDQU32 %d(DI), Z%d", 64*r, 20+r)
		}
		for r := 0; r < rows; r++ {
			g.dpbf16ps(r, 18, 20+r)
		}
	}
	g.p("%s_chunk:", name)
	g.p("\tVMOVUPS (R13), Z16")
	g.p("\tVMOVUPS 64(R13), Z17")
	chunk()
	g.p("\tADDQ $128, R13")
	g.p("\tADDQ $%d, DI", 64*rows)
	g.p("\tDECQ CX")
	g.p("\tJNE %s_chunk", name)
	g.p("%s_tail:", name)
	g.p("\tMOVL tail+72(FP), R9")
	g.p("\tTESTL R9, R9")
	g.p("\tJEQ %s_reduce", name)
	g.p("\tVMOVUPS.Z (R13), K1, Z16")
	g.p("\tVMOVUPS.Z 64(R13), K2, Z17")
	chunk()
	g.p("%s_reduce:", name)
	g.p("\tMOVQ DX, R9")
	for r := 0; r < rows; r++ {
		g.p("\tVEXTRACTF64X4 $1, Z%d, Y16", r)
		g.p("\tVADDPS Y16, Y%d, Y%d", r, r)
		g.p("\tVEXTRACTF32X4 $1, Y%d, X16", r)
		g.p("\tVADDPS X16, X%d, X%d", r, r)
		g.p("\tVMOVHLPS X%d, X%d, X16", r, r)
		g.p("\tVADDPS X16, X%d, X%d", r, r)
		g.p("\tVMOVSHDUP X%d, X16", r)
		g.p("\tVADDSS X16, X%d, X%d", r, r)
		g.p("\tVMULSS X30, X%d, X%d", r, r)
		g.p("\tTESTQ R8, R8")
		g.p("\tJEQ %s_store%d", name, r)
		g.p("\tVFMADD231SS (R9), X31, X%d", r)
		g.p("%s_store%d:", name, r)
		g.p("\tVMOVSS X%d, (R9)", r)
		if r < rows-1 {
			g.p("\tADDQ SI, R9")
		}
	}
	g.p("\tADDQ $4, DX")
	g.p("\tADDQ R10, AX")
	g.p("\tDECQ R11")
	g.p("\tJNE %s_row", name)
	g.p("%s_done:", name)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
	g.p("")
}
