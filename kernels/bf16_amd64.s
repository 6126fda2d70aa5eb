//go:build amd64 && !purego

#include "textflag.h"

// Packing of float32 panels into the bfloat16 tile layouts of
// amxKernel32x32 (see packPanelA and packPanelB in amx_amd64.go), 32 rows
// or columns at a time. Rounding is to nearest even; NaN becomes 0x7fc0.

DATA bf16Const<>+0(SB)/4, $1
DATA bf16Const<>+4(SB)/4, $0x7fff
DATA bf16Const<>+8(SB)/4, $0x7fc0
DATA bf16Const<>+12(SB)/4, $64
GLOBL bf16Const<>(SB), RODATA|NOPTR, $16

DATA bf16Iota<>+0(SB)/4, $0
DATA bf16Iota<>+4(SB)/4, $1
DATA bf16Iota<>+8(SB)/4, $2
DATA bf16Iota<>+12(SB)/4, $3
DATA bf16Iota<>+16(SB)/4, $4
DATA bf16Iota<>+20(SB)/4, $5
DATA bf16Iota<>+24(SB)/4, $6
DATA bf16Iota<>+28(SB)/4, $7
DATA bf16Iota<>+32(SB)/4, $8
DATA bf16Iota<>+36(SB)/4, $9
DATA bf16Iota<>+40(SB)/4, $10
DATA bf16Iota<>+44(SB)/4, $11
DATA bf16Iota<>+48(SB)/4, $12
DATA bf16Iota<>+52(SB)/4, $13
DATA bf16Iota<>+56(SB)/4, $14
DATA bf16Iota<>+60(SB)/4, $15
GLOBL bf16Iota<>(SB), RODATA|NOPTR, $64

// BF16SETUP loads the constants: Z28 = 1, Z29 = 0x7fff, Z30 = 0x7fc0,
// Z31 = 64·lane (scatter offsets of 16 tile rows).
#define BF16SETUP \
	VPBROADCASTD bf16Const<>+0(SB), Z28; \
	VPBROADCASTD bf16Const<>+4(SB), Z29; \
	VPBROADCASTD bf16Const<>+8(SB), Z30; \
	VPBROADCASTD bf16Const<>+12(SB), Z31; \
	VPMULLD bf16Iota<>(SB), Z31, Z31

// CVT(in, out) sets the low 16 bits of each lane of out to the bfloat16
// rounding of in (high bits zero); uses K7.
#define CVT(in, out) \
	VPSRLD $16, in, out; \
	VPANDD Z28, out, out; \
	VPADDD Z29, out, out; \
	VPADDD in, out, out; \
	VPSRLD $16, out, out; \
	VCMPPS $3, in, in, K7; \
	VMOVDQA32 Z30, K7, out

// func bf16PackANoTrans(src *float32, ld, k int, dst *uint16)
// 32 rows of src (stride ld), k columns: row r, column p goes to word
// (p/32)·1024 + (r/16)·512 + (r%16)·32 + p%32 of dst; padding up to a
// multiple of 32 columns is written as zeros.
TEXT ·bf16PackANoTrans(SB), NOSPLIT, $0-32
	BF16SETUP
	MOVQ src+0(FP), SI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVQ k+16(FP), R9
	MOVQ dst+24(FP), DI
	// Tail masks K2 (first 16) and K3 (next 16) for the last block.
	MOVQ R9, CX
	ANDQ $31, CX
	MOVQ $1, R10
	SHLQ CX, R10
	DECQ R10
	KMOVW R10, K2
	SHRQ $16, R10
	KMOVW R10, K3
	MOVQ R9, R11
	SHRQ $5, R11 // full blocks
	XORQ R12, R12 // row
pa_row:
	MOVQ SI, AX
	MOVQ R12, DX
	ANDQ $15, DX
	SHLQ $6, DX
	MOVQ R12, BX
	SHRQ $4, BX
	SHLQ $10, BX
	ADDQ BX, DX
	ADDQ DI, DX // dst of this row in block 0
	MOVQ R11, CX
	TESTQ CX, CX
	JEQ pa_tail
pa_block:
	VMOVUPS (AX), Z0
	VMOVUPS 64(AX), Z1
	CVT(Z0, Z2)
	CVT(Z1, Z3)
	VPMOVDW Z2, (DX)
	VPMOVDW Z3, 32(DX)
	ADDQ $128, AX
	ADDQ $2048, DX
	DECQ CX
	JNE pa_block
pa_tail:
	TESTQ $31, R9
	JEQ pa_next
	VMOVUPS.Z (AX), K2, Z0
	VMOVUPS.Z 64(AX), K3, Z1
	CVT(Z0, Z2)
	CVT(Z1, Z3)
	VPMOVDW Z2, (DX)
	VPMOVDW Z3, 32(DX)
pa_next:
	ADDQ R8, SI
	INCQ R12
	CMPQ R12, $32
	JLT pa_row
	VZEROUPPER
	RET

// func bf16PackBTrans(src *float32, ld, k int, dst *uint16)
// 32 rows of src (stride ld) are the 32 columns j of op(B), k deep:
// element (p, j) goes to word (p/32)·1024 + (j/16)·512 + ((p%32)/2)·32 +
// (j%16)·2 + p%2 of dst. Padding up to a multiple of 32 is zeros.
TEXT ·bf16PackBTrans(SB), NOSPLIT, $0-32
	BF16SETUP
	MOVQ src+0(FP), SI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVQ k+16(FP), R9
	MOVQ dst+24(FP), DI
	MOVQ R9, CX
	ANDQ $31, CX
	MOVQ $1, R10
	SHLQ CX, R10
	DECQ R10
	KMOVW R10, K2
	SHRQ $16, R10
	KMOVW R10, K3
	MOVQ R9, R11
	SHRQ $5, R11
	XORQ R12, R12 // column j
pbt_col:
	MOVQ SI, AX
	MOVQ R12, DX
	ANDQ $15, DX
	SHLQ $2, DX
	MOVQ R12, BX
	SHRQ $4, BX
	SHLQ $10, BX
	ADDQ BX, DX
	ADDQ DI, DX
	MOVQ R11, CX
	TESTQ CX, CX
	JEQ pbt_tail
pbt_block:
	VMOVUPS (AX), Z0
	VMOVUPS 64(AX), Z1
	CVT(Z0, Z2)
	CVT(Z1, Z3)
	VPMOVDW Z2, Y2
	VPMOVDW Z3, Y3
	VINSERTI64X4 $1, Y3, Z2, Z2
	KXNORW K1, K1, K1
	VPSCATTERDD Z2, K1, (DX)(Z31*1)
	ADDQ $128, AX
	ADDQ $2048, DX
	DECQ CX
	JNE pbt_block
pbt_tail:
	TESTQ $31, R9
	JEQ pbt_next
	VMOVUPS.Z (AX), K2, Z0
	VMOVUPS.Z 64(AX), K3, Z1
	CVT(Z0, Z2)
	CVT(Z1, Z3)
	VPMOVDW Z2, Y2
	VPMOVDW Z3, Y3
	VINSERTI64X4 $1, Y3, Z2, Z2
	KXNORW K1, K1, K1
	VPSCATTERDD Z2, K1, (DX)(Z31*1)
pbt_next:
	ADDQ R8, SI
	INCQ R12
	CMPQ R12, $32
	JLT pbt_col
	VZEROUPPER
	RET

// PAIR(lo, hi, out): out = bf16(lo) | bf16(hi)<<16 per lane; uses Z4, Z5.
#define PAIR(lo, hi, out) \
	CVT(lo, Z4); \
	CVT(hi, Z5); \
	VPSLLD $16, Z5, Z5; \
	VPORD Z5, Z4, out

// func bf16PackPairs(src *float32, ld, k int, dst *uint16, scatter int)
// Rows p and p+1 of src (stride ld) hold 32 consecutive values each (a
// row of op(B) when scatter == 0, a row of stored Aᵀ when scatter ≠ 0).
// For each pair q = p/2 the 32 dwords bf16(row p)|bf16(row p+1)<<16 go to
// dst at block (q/16)·2048 bytes; lanes 0-15 and 16-31 to halves 0 and
// 1024 bytes further. Without scatter, lane l of a half is dword l of row
// q%16 (B layout: 64 bytes per pair row); with scatter, lane l goes to
// tile row l at dword q%16 (A layout). An odd k pairs the last row with
// zeros. The caller zeroes dst beyond the pairs written.
TEXT ·bf16PackPairs(SB), NOSPLIT, $0-40
	BF16SETUP
	MOVQ src+0(FP), SI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	MOVQ k+16(FP), R9
	MOVQ dst+24(FP), DI
	MOVQ scatter+32(FP), R13
	VPXORD Z6, Z6, Z6
	XORQ R12, R12 // pair q
pp_loop:
	MOVQ R12, AX
	SHLQ $1, AX
	CMPQ AX, R9
	JGE pp_done
	// Source rows 2q and 2q+1.
	MOVQ R12, AX
	SHLQ $1, AX
	IMULQ R8, AX
	ADDQ SI, AX
	VMOVUPS (AX), Z0
	VMOVUPS 64(AX), Z1
	VMOVAPS Z6, Z2
	VMOVAPS Z6, Z3
	MOVQ R12, BX
	SHLQ $1, BX
	INCQ BX
	CMPQ BX, R9
	JGE pp_odd
	VMOVUPS (AX)(R8*1), Z2
	VMOVUPS 64(AX)(R8*1), Z3
pp_odd:
	PAIR(Z0, Z2, Z7)
	PAIR(Z1, Z3, Z8)
	// Block base: dst + (q/16)*2048.
	MOVQ R12, DX
	SHRQ $4, DX
	SHLQ $11, DX
	ADDQ DI, DX
	MOVQ R12, BX
	ANDQ $15, BX
	TESTQ R13, R13
	JNE pp_scatter
	SHLQ $6, BX
	ADDQ BX, DX
	VMOVDQU32 Z7, (DX)
	VMOVDQU32 Z8, 1024(DX)
	JMP pp_next
pp_scatter:
	SHLQ $2, BX
	ADDQ BX, DX
	KXNORW K1, K1, K1
	VPSCATTERDD Z7, K1, (DX)(Z31*1)
	KXNORW K1, K1, K1
	VPSCATTERDD Z8, K1, 1024(DX)(Z31*1)
pp_next:
	INCQ R12
	JMP pp_loop
pp_done:
	VZEROUPPER
	RET
