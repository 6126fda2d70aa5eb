package main

import "fmt"

// The transposing pair packs round rows of float32 to bfloat16 pairs
// (VCVTNE2PS2BF16: row i's 32 values of one block become the 16 pair
// words i·16 + p) and transpose 16 rows × 16 pairs in registers, so that
// the 16 pair words of each k pair p land side by side, as the VDPBF16PS
// panels want them: word p·w + i. They replace the gathers of
// dpPackGather12/32 for whole blocks of 16 pairs (32 k steps).

// transpose16 emits the in-register transpose of the 16×16 dwords in
// Z0..Z15 (row i in Zi) into Z0..Z15 (row p in Zp), through Z16..Z31.
func transpose16(g *gen) {
	// Stage 1: dwords of row pairs (2a, 2a+1) interleaved, in Z16..Z31.
	for a := 0; a < 8; a++ {
		g.p("\tVPUNPCKLDQ Z%d, Z%d, Z%d", 2*a+1, 2*a, 16+2*a)
		g.p("\tVPUNPCKHDQ Z%d, Z%d, Z%d", 2*a+1, 2*a, 16+2*a+1)
	}
	// Stage 2: quadwords, per group of four rows: Z(4b+e) holds, in lane
	// L, rows 4b..4b+3 at pair 4L+e.
	for b := 0; b < 4; b++ {
		a0, a1, a2, a3 := 16+4*b, 16+4*b+1, 16+4*b+2, 16+4*b+3
		g.p("\tVPUNPCKLQDQ Z%d, Z%d, Z%d", a2, a0, 4*b)
		g.p("\tVPUNPCKHQDQ Z%d, Z%d, Z%d", a2, a0, 4*b+1)
		g.p("\tVPUNPCKLQDQ Z%d, Z%d, Z%d", a3, a1, 4*b+2)
		g.p("\tVPUNPCKHQDQ Z%d, Z%d, Z%d", a3, a1, 4*b+3)
	}
	// Stage 3: lanes 0,1 (C) and 2,3 (D) of rows e and 4+e, 8+e and 12+e.
	for e := 0; e < 4; e++ {
		g.p("\tVSHUFI32X4 $0x44, Z%d, Z%d, Z%d", 4+e, e, 16+4*e)      // C
		g.p("\tVSHUFI32X4 $0xee, Z%d, Z%d, Z%d", 4+e, e, 16+4*e+1)    // D
		g.p("\tVSHUFI32X4 $0x44, Z%d, Z%d, Z%d", 12+e, 8+e, 16+4*e+2) // C'
		g.p("\tVSHUFI32X4 $0xee, Z%d, Z%d, Z%d", 12+e, 8+e, 16+4*e+3) // D'
	}
	// Stage 4: row p = 4L+e from lane L of each.
	for e := 0; e < 4; e++ {
		c, d, c2, d2 := 16+4*e, 16+4*e+1, 16+4*e+2, 16+4*e+3
		g.p("\tVSHUFI32X4 $0x88, Z%d, Z%d, Z%d", c2, c, e)
		g.p("\tVSHUFI32X4 $0xdd, Z%d, Z%d, Z%d", c2, c, 4+e)
		g.p("\tVSHUFI32X4 $0x88, Z%d, Z%d, Z%d", d2, d, 8+e)
		g.p("\tVSHUFI32X4 $0xdd, Z%d, Z%d, Z%d", d2, d, 12+e)
	}
}

// loadPairRows emits the loads of rows 0..rows−1 (stride BX bytes, from
// R10, which it advances) of one block of 32 floats, rounded to pairs in
// Z0..Z(rows−1); the rows up to 15 are zeroed.
func loadPairRows(g *gen, rows int) {
	g.p("\tMOVQ AX, R10")
	for i := 0; i < rows; i++ {
		g.p("\tVMOVUPS (R10), Z16")
		g.p("\tVMOVUPS 64(R10), Z17")
		g.cvtne2ps2bf16(i, 17, 16)
		g.p("\tADDQ BX, R10")
	}
	for i := rows; i < 16; i++ {
		g.p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
}

// packTransKernel emits dpPackT<w>(blocks int, src *float32, ld int, dst
// *float32): for b < blocks, p < 16, i < w: dst word (16b+p)·w + i =
// pair(src[i·ld + 32b + 2p], src[i·ld + 32b + 2p + 1]), w = 12 or 32.
func packTransKernel(g *gen, w int) {
	name := fmt.Sprintf("dpPackT%d", w)
	g.p("// func %s(blocks int, src *float32, ld int, dst *float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-32", name)
	g.p("\tMOVQ blocks+0(FP), CX")
	g.p("\tMOVQ src+8(FP), AX")
	g.p("\tMOVQ ld+16(FP), BX")
	g.p("\tSHLQ $2, BX")
	g.p("\tMOVQ dst+24(FP), DX")
	g.p("\tMOVL $0x0fff, R8")
	g.p("\tKMOVW R8, K1")
	g.p("\tTESTQ CX, CX")
	g.p("\tJEQ %s_done", name)
	g.p("%s_loop:", name)
	for h := 0; h*16 < w; h++ {
		rows := min(16, w-16*h)
		if h > 0 {
			g.p("\tMOVQ BX, R11")
			g.p("\tSHLQ $4, R11")
			g.p("\tADDQ R11, AX") // rows 16..31
		}
		loadPairRows(g, rows)
		transpose16(g)
		for p := 0; p < 16; p++ {
			off := (p*w + 16*h) * 4
			if rows == 16 {
				g.p("\tVMOVDQU32 Z%d, %d(DX)", p, off)
			} else {
				g.p("\tVMOVDQU32 Z%d, K1, %d(DX)", p, off)
			}
		}
		if h > 0 {
			g.p("\tSUBQ R11, AX")
		}
	}
	g.p("\tADDQ $128, AX")
	g.p("\tADDQ $%d, DX", 16*w*4)
	g.p("\tDECQ CX")
	g.p("\tJNE %s_loop", name)
	g.p("%s_done:", name)
	g.p("\tVZEROUPPER")
	g.p("\tRET")
	g.p("")
}
