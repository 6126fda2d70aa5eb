package main

import "fmt"

// The AVX-512 BF16 kernels: VDPBF16PS multiplies pairs of bfloat16 values
// and adds both products to a float32 lane, so the packed operands hold
// pairs of consecutive k steps in one 32-bit word (low half the even step,
// high half the odd one): a packed A panel is, per pair, 12 words (one per
// row); a packed B panel is, per pair, 32 words (one per column).

// evexDPBF16PS returns the encoding of VDPBF16PS zmm(dst), zmm(src1),
// zmm(src2): dst += src1·src2 over pairs (EVEX.512.F3.0F38.W0 52 /r).
func evexDPBF16PS(dst, src1, src2 int) []byte {
	inv := func(b int) byte { return byte(^b & 1) }
	p0 := inv(dst>>3)<<7 | inv(src2>>4)<<6 | inv(src2>>3)<<5 | inv(dst>>4)<<4 | 0x2
	p1 := byte((^src1&0xf)<<3) | 0x4 | 0x2
	p2 := byte(0x40) | inv(src1>>4)<<3
	modrm := byte(0xc0 | (dst&7)<<3 | src2&7)
	return []byte{0x62, p0, p1, p2, 0x52, modrm}
}

// evexDPBF16PSBcst returns the encoding of VDPBF16PS zmm(dst),
// zmm(src1), disp(base){1to16}: dst += src1·(the 32-bit pair at
// disp(base) in every lane). base is a general register below 8 other
// than SP and BP; disp a multiple of 4 below 512 (EVEX disp8·4).
func evexDPBF16PSBcst(dst, src1, base, disp int) []byte {
	if base >= 8 || base == 4 || base == 5 || disp%4 != 0 || disp/4 > 127 || disp < 0 {
		panic(fmt.Sprintf("evexDPBF16PSBcst: base %d disp %d not encodable here", base, disp))
	}
	inv := func(b int) byte { return byte(^b & 1) }
	p0 := inv(dst>>3)<<7 | 1<<6 | 1<<5 | inv(dst>>4)<<4 | 0x2
	p1 := byte((^src1&0xf)<<3) | 0x4 | 0x2
	p2 := byte(0x40) | 0x10 | inv(src1>>4)<<3
	modrm := byte(0x40 | (dst&7)<<3 | base)
	return []byte{0x62, p0, p1, p2, 0x52, modrm, byte(disp / 4)}
}

func (g *gen) dpbf16psBcst(dst, src1, base, disp int) {
	g.bytes(fmt.Sprintf("VDPBF16PS.BCST %d(%s), Z%d, Z%d", disp, regName[base], src1, dst), evexDPBF16PSBcst(dst, src1, base, disp))
}

func (g *gen) dpbf16ps(dst, src1, src2 int) {
	g.bytes(fmt.Sprintf("VDPBF16PS Z%d, Z%d, Z%d", src2, src1, dst), evexDPBF16PS(dst, src1, src2))
}

// dpbf16Kernel emits dpbf16KernelR<rows>: the first rows rows of a 12×32
// tile from kp pairs of a packed A panel (48 bytes a pair) and a packed B
// panel (128 bytes a pair), C = alpha·acc (+ beta·C when load ≠ 0), only
// the columns set in mask read and written. Accumulators Z0..Z23 (two per
// row), B in Z24/Z25, A pairs broadcast from memory by the instruction itself
// (embedded broadcast).
// Arguments: kp int, a, b, c *float32, ldc int, alpha, beta float32,
// load int, mask uint32.
func dpbf16Kernel(g *gen, rows int) {
	name := fmt.Sprintf("dpbf16KernelR%d", rows)
	g.p("// func %s(kp int, a, b, c *float32, ldc int, alpha, beta float32, load int, mask uint32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-60", name)
	g.p("\tMOVQ kp+0(FP), CX")
	g.p("\tMOVQ a+8(FP), AX")
	g.p("\tMOVQ b+16(FP), BX")
	g.p("\tMOVQ c+24(FP), DX")
	g.p("\tMOVQ ldc+32(FP), SI")
	g.p("\tSHLQ $2, SI")
	g.p("\tMOVQ load+48(FP), R8")
	g.p("\tMOVL mask+56(FP), R9")
	g.p("\tKMOVW R9, K1")
	g.p("\tSHRL $16, R9")
	g.p("\tKMOVW R9, K2")
	g.p("\tMOVQ DX, R9")
	for i := 0; i < rows; i++ {
		g.p("\tPREFETCHT0 (R9)")
		g.p("\tPREFETCHT0 64(R9)")
		if i < rows-1 {
			g.p("\tADDQ SI, R9")
		}
	}
	for i := 0; i < 2*rows; i++ {
		g.p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	const aStep, bStep = 48, 128
	step := func(u int) {
		ao, bo := u*aStep, u*bStep
		g.p("\tVMOVUPS %d(BX), Z24", bo)
		g.p("\tVMOVUPS %d(BX), Z25", bo+64)
		for i := 0; i < rows; i++ {
			g.dpbf16psBcst(2*i, 24, rAX, ao+4*i)
			g.dpbf16psBcst(2*i+1, 25, rAX, ao+4*i)
		}
	}
	g.kLoop(name, aStep, bStep, step)
	g.p("\tVBROADCASTSS alpha+40(FP), Z26")
	g.p("\tTESTQ R8, R8")
	g.p("\tJEQ %s_overwrite", name)
	g.p("\tVBROADCASTSS beta+44(FP), Z27")
	for i := 0; i < rows; i++ {
		g.p("\tVMULPS Z26, Z%d, Z%d", 2*i, 2*i)
		g.p("\tVMOVUPS.Z (DX), K1, Z28")
		g.p("\tVFMADD231PS Z27, Z28, Z%d", 2*i)
		g.p("\tVMULPS Z26, Z%d, Z%d", 2*i+1, 2*i+1)
		g.p("\tVMOVUPS.Z 64(DX), K2, Z28")
		g.p("\tVFMADD231PS Z27, Z28, Z%d", 2*i+1)
		g.p("\tVMOVUPS Z%d, K1, (DX)", 2*i)
		g.p("\tVMOVUPS Z%d, K2, 64(DX)", 2*i+1)
		g.p("\tADDQ SI, DX")
	}
	g.p("\tVZEROUPPER")
	g.p("\tRET")
	g.p("%s_overwrite:", name)
	for i := 0; i < rows; i++ {
		g.p("\tVMULPS Z26, Z%d, Z%d", 2*i, 2*i)
		g.p("\tVMULPS Z26, Z%d, Z%d", 2*i+1, 2*i+1)
		g.p("\tVMOVUPS Z%d, K1, (DX)", 2*i)
		g.p("\tVMOVUPS Z%d, K2, 64(DX)", 2*i+1)
		g.p("\tADDQ SI, DX")
	}
	g.p("\tVZEROUPPER")
	g.p("\tRET")
	g.p("")
}

// dpbf16PeakLoop emits dpbf16Loop(n): n iterations of 24 independent
// VDPBF16PS on zmm registers (24·16·4 = 1536 flops each).
func dpbf16PeakLoop(g *gen) {
	g.p("// func dpbf16Loop(n int)")
	g.p("TEXT ·dpbf16Loop(SB), NOSPLIT, $0-8")
	g.p("\tMOVQ n+0(FP), CX")
	for i := 0; i < 26; i++ {
		g.p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	g.p("\tTESTQ CX, CX")
	g.p("\tJEQ dpbf16Loop_done")
	g.p("dpbf16Loop_loop:")
	for i := 0; i < 24; i++ {
		g.dpbf16ps(i, 24, 25)
	}
	g.p("\tDECQ CX")
	g.p("\tJNE dpbf16Loop_loop")
	g.p("dpbf16Loop_done:")
	g.p("\tVZEROUPPER")
	g.p("\tRET")
	g.p("")
}
