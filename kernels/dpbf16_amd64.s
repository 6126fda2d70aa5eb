//go:build amd64 && !purego

#include "textflag.h"

// Packing of float32 operands into the bfloat16 pair panels of the
// VDPBF16PS kernels (see dpbf16.go): word p·w + j of a panel w wide holds
// the values of k steps 2p (low half) and 2p+1 (high half) of row or
// column j, each rounded to bfloat16, to nearest even; NaN becomes 0x7fc0.

DATA dpConst<>+0(SB)/4, $1
DATA dpConst<>+4(SB)/4, $0x7fff
DATA dpConst<>+8(SB)/4, $0x7fc0
GLOBL dpConst<>(SB), RODATA|NOPTR, $12

DATA dpIota<>+0(SB)/4, $0
DATA dpIota<>+4(SB)/4, $1
DATA dpIota<>+8(SB)/4, $2
DATA dpIota<>+12(SB)/4, $3
DATA dpIota<>+16(SB)/4, $4
DATA dpIota<>+20(SB)/4, $5
DATA dpIota<>+24(SB)/4, $6
DATA dpIota<>+28(SB)/4, $7
DATA dpIota<>+32(SB)/4, $8
DATA dpIota<>+36(SB)/4, $9
DATA dpIota<>+40(SB)/4, $10
DATA dpIota<>+44(SB)/4, $11
DATA dpIota<>+48(SB)/4, $12
DATA dpIota<>+52(SB)/4, $13
DATA dpIota<>+56(SB)/4, $14
DATA dpIota<>+60(SB)/4, $15
GLOBL dpIota<>(SB), RODATA|NOPTR, $64

// DPSETUP loads Z28 = 1, Z29 = 0x7fff, Z30 = 0x7fc0 in every lane.
#define DPSETUP \
	VPBROADCASTD dpConst<>+0(SB), Z28; \
	VPBROADCASTD dpConst<>+4(SB), Z29; \
	VPBROADCASTD dpConst<>+8(SB), Z30

// RND(x, t) replaces each float32 lane of zmm x by its bfloat16 rounding
// in the low 16 bits (high bits zero); t is scratch, K7 is used.
#define RND(x, t) \
	VPSRLD $16, x, t; \
	VPANDD Z28, t, t; \
	VPADDD Z29, t, t; \
	VPADDD x, t, t; \
	VCMPPS $3, x, x, K7; \
	VPSRLD $16, t, x; \
	VMOVDQA32 Z30, K7, x

// RNDY is RND on ymm registers.
#define RNDY(x, t) \
	VPSRLD $16, x, t; \
	VPANDD Y28, t, t; \
	VPADDD Y29, t, t; \
	VPADDD x, t, t; \
	VCMPPS $3, x, x, K7; \
	VPSRLD $16, t, x; \
	VMOVDQA32 Y30, K7, x

// func dpPackRows32(pairs int, src *float32, ld int, dst *float32)
// For p < pairs and j < 32: dst word p·32+j = pair(src[2p·ld+j], src[(2p+1)·ld+j]).
TEXT ·dpPackRows32(SB), NOSPLIT, $0-32
	DPSETUP
	MOVQ pairs+0(FP), CX
	MOVQ src+8(FP), AX
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	MOVQ dst+24(FP), DX
	TESTQ CX, CX
	JEQ dpr32_done
dpr32_loop:
	VMOVUPS (AX), Z0
	VMOVUPS 64(AX), Z1
	VMOVUPS (AX)(BX*1), Z2
	VMOVUPS 64(AX)(BX*1), Z3
	RND(Z0, Z4)
	RND(Z1, Z5)
	RND(Z2, Z6)
	RND(Z3, Z7)
	VPSLLD $16, Z2, Z2
	VPSLLD $16, Z3, Z3
	VPORD Z2, Z0, Z0
	VPORD Z3, Z1, Z1
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	LEAQ (AX)(BX*2), AX
	ADDQ $128, DX
	DECQ CX
	JNE dpr32_loop
dpr32_done:
	VZEROUPPER
	RET

// func dpPackRows12(pairs int, src *float32, ld int, dst *float32)
// For p < pairs and j < 12: dst word p·12+j = pair(src[2p·ld+j], src[(2p+1)·ld+j]).
TEXT ·dpPackRows12(SB), NOSPLIT, $0-32
	DPSETUP
	MOVQ pairs+0(FP), CX
	MOVQ src+8(FP), AX
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	MOVQ dst+24(FP), DX
	MOVL $0x0fff, R8
	KMOVW R8, K1
	TESTQ CX, CX
	JEQ dpr12_done
dpr12_loop:
	VMOVUPS.Z (AX), K1, Z0
	VMOVUPS.Z (AX)(BX*1), K1, Z2
	RND(Z0, Z4)
	RND(Z2, Z6)
	VPSLLD $16, Z2, Z2
	VPORD Z2, Z0, Z0
	VMOVUPS Z0, K1, (DX)
	LEAQ (AX)(BX*2), AX
	ADDQ $48, DX
	DECQ CX
	JNE dpr12_loop
dpr12_done:
	VZEROUPPER
	RET

// func dpPackGather12(pairs int, src *float32, ld int, dst *float32)
// For p < pairs and i < 12: dst word p·12+i = pair(src[i·ld+2p], src[i·ld+2p+1]).
TEXT ·dpPackGather12(SB), NOSPLIT, $0-32
	DPSETUP
	MOVQ pairs+0(FP), CX
	MOVQ src+8(FP), AX
	MOVQ ld+16(FP), BX
	MOVQ dst+24(FP), DX
	VPBROADCASTD BX, Z8
	VPMULLD dpIota<>(SB), Z8, Z8 // i·ld, i < 16
	VEXTRACTI32X8 $1, Z8, Y9     // rows 8..15
	MOVL $0xff, R8
	KMOVW R8, K1
	MOVL $0x0f, R8
	KMOVW R8, K3
	TESTQ CX, CX
	JEQ dpg12_done
dpg12_loop:
	KMOVW K1, K2
	VPGATHERDQ (AX)(Y8*4), K2, Z0
	KMOVW K3, K4
	VPGATHERDQ (AX)(X9*4), K4, Y1
	RND(Z0, Z4)
	RNDY(Y1, Y5)
	VPMOVDW Z0, Y0
	VPMOVDW Y1, X1
	VMOVDQU Y0, (DX)
	VMOVDQU X1, 32(DX)
	ADDQ $8, AX
	ADDQ $48, DX
	DECQ CX
	JNE dpg12_loop
dpg12_done:
	VZEROUPPER
	RET

// func dpPackGather32(pairs int, src *float32, ld int, dst *float32)
// For p < pairs and j < 32: dst word p·32+j = pair(src[j·ld+2p], src[j·ld+2p+1]).
TEXT ·dpPackGather32(SB), NOSPLIT, $0-32
	DPSETUP
	MOVQ pairs+0(FP), CX
	MOVQ src+8(FP), AX
	MOVQ ld+16(FP), BX
	MOVQ dst+24(FP), DX
	VPBROADCASTD BX, Z8
	VPMULLD dpIota<>(SB), Z8, Z8 // j·ld, j < 16
	VEXTRACTI32X8 $1, Z8, Y9     // j = 8..15
	MOVQ BX, R9
	SHLQ $4, R9
	VPBROADCASTD R9, Y10
	VPADDD Y10, Y8, Y11          // j = 16..23
	VPADDD Y10, Y9, Y12          // j = 24..31
	MOVL $0xff, R8
	KMOVW R8, K1
	TESTQ CX, CX
	JEQ dpg32_done
dpg32_loop:
	KMOVW K1, K2
	VPGATHERDQ (AX)(Y8*4), K2, Z0
	KMOVW K1, K3
	VPGATHERDQ (AX)(Y9*4), K3, Z1
	KMOVW K1, K4
	VPGATHERDQ (AX)(Y11*4), K4, Z2
	KMOVW K1, K5
	VPGATHERDQ (AX)(Y12*4), K5, Z3
	RND(Z0, Z4)
	RND(Z1, Z5)
	RND(Z2, Z6)
	RND(Z3, Z7)
	VPMOVDW Z0, Y0
	VPMOVDW Z1, Y1
	VPMOVDW Z2, Y2
	VPMOVDW Z3, Y3
	VMOVDQU Y0, (DX)
	VMOVDQU Y1, 32(DX)
	VMOVDQU Y2, 64(DX)
	VMOVDQU Y3, 96(DX)
	ADDQ $8, AX
	ADDQ $128, DX
	DECQ CX
	JNE dpg32_loop
dpg32_done:
	VZEROUPPER
	RET
