//go:build amd64 && !purego

#include "textflag.h"

// Vector helpers (AVX-512). Each processes 64 or 16 floats per step and
// finishes with one masked step, so any n works.

// tailMask sets K1 to the low CX bits (CX < 16); clobbers R10.
#define TAILMASK \
	MOVQ $1, R10; \
	SHLQ CX, R10; \
	DECQ R10; \
	KMOVW R10, K1

// func dotAVX512(a, b *float32, n int) float32
TEXT ·dotAVX512(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
dot_loop64:
	CMPQ CX, $64
	JLT dot_loop16
	VMOVUPS (AX), Z4
	VMOVUPS 64(AX), Z5
	VMOVUPS 128(AX), Z6
	VMOVUPS 192(AX), Z7
	VFMADD231PS (BX), Z4, Z0
	VFMADD231PS 64(BX), Z5, Z1
	VFMADD231PS 128(BX), Z6, Z2
	VFMADD231PS 192(BX), Z7, Z3
	ADDQ $256, AX
	ADDQ $256, BX
	SUBQ $64, CX
	JMP dot_loop64
dot_loop16:
	CMPQ CX, $16
	JLT dot_tail
	VMOVUPS (AX), Z4
	VFMADD231PS (BX), Z4, Z0
	ADDQ $64, AX
	ADDQ $64, BX
	SUBQ $16, CX
	JMP dot_loop16
dot_tail:
	TESTQ CX, CX
	JEQ dot_reduce
	TAILMASK
	VMOVUPS.Z (AX), K1, Z4
	VMOVUPS.Z (BX), K1, Z5
	VFMADD231PS Z5, Z4, Z1
dot_reduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyAVX512(alpha float32, x, y *float32, n int)
TEXT ·axpyAVX512(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Z0
	MOVQ x+8(FP), AX
	MOVQ y+16(FP), BX
	MOVQ n+24(FP), CX
axpy_loop64:
	CMPQ CX, $64
	JLT axpy_loop16
	VMOVUPS (BX), Z1
	VMOVUPS 64(BX), Z2
	VMOVUPS 128(BX), Z3
	VMOVUPS 192(BX), Z4
	VFMADD231PS (AX), Z0, Z1
	VFMADD231PS 64(AX), Z0, Z2
	VFMADD231PS 128(AX), Z0, Z3
	VFMADD231PS 192(AX), Z0, Z4
	VMOVUPS Z1, (BX)
	VMOVUPS Z2, 64(BX)
	VMOVUPS Z3, 128(BX)
	VMOVUPS Z4, 192(BX)
	ADDQ $256, AX
	ADDQ $256, BX
	SUBQ $64, CX
	JMP axpy_loop64
axpy_loop16:
	CMPQ CX, $16
	JLT axpy_tail
	VMOVUPS (BX), Z1
	VFMADD231PS (AX), Z0, Z1
	VMOVUPS Z1, (BX)
	ADDQ $64, AX
	ADDQ $64, BX
	SUBQ $16, CX
	JMP axpy_loop16
axpy_tail:
	TESTQ CX, CX
	JEQ axpy_done
	TAILMASK
	VMOVUPS.Z (AX), K1, Z2
	VMOVUPS.Z (BX), K1, Z1
	VFMADD231PS Z2, Z0, Z1
	VMOVUPS Z1, K1, (BX)
axpy_done:
	VZEROUPPER
	RET

// func scaleAVX512(alpha float32, x *float32, n int)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-24
	VBROADCASTSS alpha+0(FP), Z0
	MOVQ x+8(FP), AX
	MOVQ n+16(FP), CX
scale_loop64:
	CMPQ CX, $64
	JLT scale_loop16
	VMULPS (AX), Z0, Z1
	VMULPS 64(AX), Z0, Z2
	VMULPS 128(AX), Z0, Z3
	VMULPS 192(AX), Z0, Z4
	VMOVUPS Z1, (AX)
	VMOVUPS Z2, 64(AX)
	VMOVUPS Z3, 128(AX)
	VMOVUPS Z4, 192(AX)
	ADDQ $256, AX
	SUBQ $64, CX
	JMP scale_loop64
scale_loop16:
	CMPQ CX, $16
	JLT scale_tail
	VMULPS (AX), Z0, Z1
	VMOVUPS Z1, (AX)
	ADDQ $64, AX
	SUBQ $16, CX
	JMP scale_loop16
scale_tail:
	TESTQ CX, CX
	JEQ scale_done
	TAILMASK
	VMOVUPS.Z (AX), K1, Z1
	VMULPS Z1, Z0, Z1
	VMOVUPS Z1, K1, (AX)
scale_done:
	VZEROUPPER
	RET

// func addAVX512(dst, a, b *float32, n int)
TEXT ·addAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ n+24(FP), CX
add_loop64:
	CMPQ CX, $64
	JLT add_loop16
	VMOVUPS (AX), Z1
	VMOVUPS 64(AX), Z2
	VMOVUPS 128(AX), Z3
	VMOVUPS 192(AX), Z4
	VADDPS (BX), Z1, Z1
	VADDPS 64(BX), Z2, Z2
	VADDPS 128(BX), Z3, Z3
	VADDPS 192(BX), Z4, Z4
	VMOVUPS Z1, (DX)
	VMOVUPS Z2, 64(DX)
	VMOVUPS Z3, 128(DX)
	VMOVUPS Z4, 192(DX)
	ADDQ $256, AX
	ADDQ $256, BX
	ADDQ $256, DX
	SUBQ $64, CX
	JMP add_loop64
add_loop16:
	CMPQ CX, $16
	JLT add_tail
	VMOVUPS (AX), Z1
	VADDPS (BX), Z1, Z1
	VMOVUPS Z1, (DX)
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, DX
	SUBQ $16, CX
	JMP add_loop16
add_tail:
	TESTQ CX, CX
	JEQ add_done
	TAILMASK
	VMOVUPS.Z (AX), K1, Z1
	VMOVUPS.Z (BX), K1, Z2
	VADDPS Z2, Z1, Z1
	VMOVUPS Z1, K1, (DX)
add_done:
	VZEROUPPER
	RET

DATA negInf<>+0(SB)/4, $0xff800000
GLOBL negInf<>(SB), RODATA|NOPTR, $4

// func maxAVX512(x *float32, n int) (m float32, nan bool)
// n ≥ 1. nan reports a NaN in x (m is then meaningless).
TEXT ·maxAVX512(SB), NOSPLIT, $0-21
	MOVQ x+0(FP), AX
	MOVQ n+8(FP), CX
	VBROADCASTSS negInf<>(SB), Z0
	VMOVAPS Z0, Z1
	VMOVAPS Z0, Z5
	KXORW K2, K2, K2
max_loop32:
	CMPQ CX, $32
	JLT max_loop16
	VMOVUPS (AX), Z2
	VMOVUPS 64(AX), Z3
	VCMPPS $3, Z2, Z2, K3
	VCMPPS $3, Z3, Z3, K4
	KORW K3, K2, K2
	KORW K4, K2, K2
	VMAXPS Z2, Z0, Z0
	VMAXPS Z3, Z1, Z1
	ADDQ $128, AX
	SUBQ $32, CX
	JMP max_loop32
max_loop16:
	CMPQ CX, $16
	JLT max_tail
	VMOVUPS (AX), Z2
	VCMPPS $3, Z2, Z2, K3
	KORW K3, K2, K2
	VMAXPS Z2, Z0, Z0
	ADDQ $64, AX
	SUBQ $16, CX
	JMP max_loop16
max_tail:
	TESTQ CX, CX
	JEQ max_reduce
	TAILMASK
	VMOVAPS Z5, Z2
	VMOVUPS (AX), K1, Z2
	VCMPPS $3, Z2, Z2, K3
	KORW K3, K2, K2
	VMAXPS Z2, Z1, Z1
max_reduce:
	VMAXPS Z1, Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VMOVSS X0, m+16(FP)
	KORTESTW K2, K2
	SETNE nan+20(FP)
	VZEROUPPER
	RET

// Constants of expSubAVX512 (Cephes expf: range reduction by ln 2 in two
// parts, then a degree-5 polynomial for (exp(r)-1-r)/r²).
DATA expConst<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expConst<>+4(SB)/4, $0x3f318000  // ln2 high part 0.693359375
DATA expConst<>+8(SB)/4, $0xb95e8083  // ln2 low part -2.12194440e-4
DATA expConst<>+12(SB)/4, $0x3950696f // 1.9875691500e-4
DATA expConst<>+16(SB)/4, $0x3ab743ce // 1.3981999507e-3
DATA expConst<>+20(SB)/4, $0x3c088908 // 8.3334519073e-3
DATA expConst<>+24(SB)/4, $0x3d2aa9c1 // 4.1665795894e-2
DATA expConst<>+28(SB)/4, $0x3e2aaaaa // 1.6666665459e-1
DATA expConst<>+32(SB)/4, $0x3f000000 // 0.5
DATA expConst<>+36(SB)/4, $0x3f800000 // 1
DATA expConst<>+40(SB)/4, $0xc2dc0000 // -110: lower clamp of x-max
DATA expConst<>+44(SB)/4, $0x42b17218 // 88.72284: upper clamp
GLOBL expConst<>(SB), RODATA|NOPTR, $48

// EXPCONSTS loads EXPSTEP's constants (expConst) into Z10..Z21.
#define EXPCONSTS \
	VBROADCASTSS expConst<>+0(SB), Z10; \
	VBROADCASTSS expConst<>+4(SB), Z11; \
	VBROADCASTSS expConst<>+8(SB), Z12; \
	VBROADCASTSS expConst<>+12(SB), Z13; \
	VBROADCASTSS expConst<>+16(SB), Z14; \
	VBROADCASTSS expConst<>+20(SB), Z15; \
	VBROADCASTSS expConst<>+24(SB), Z16; \
	VBROADCASTSS expConst<>+28(SB), Z17; \
	VBROADCASTSS expConst<>+32(SB), Z18; \
	VBROADCASTSS expConst<>+36(SB), Z19; \
	VBROADCASTSS expConst<>+40(SB), Z20; \
	VBROADCASTSS expConst<>+44(SB), Z21

// EXPSTEP computes Z1 = exp(Z1) for 16 lanes; uses Z2, Z3, Z4.
#define EXPSTEP \
	VMAXPS Z1, Z20, Z1; \
	VMINPS Z1, Z21, Z1; \
	VMULPS Z10, Z1, Z2; \
	VRNDSCALEPS $0, Z2, Z2; \
	VFNMADD231PS Z11, Z2, Z1; \
	VFNMADD231PS Z12, Z2, Z1; \
	VMOVAPS Z13, Z3; \
	VFMADD213PS Z14, Z1, Z3; \
	VFMADD213PS Z15, Z1, Z3; \
	VFMADD213PS Z16, Z1, Z3; \
	VFMADD213PS Z17, Z1, Z3; \
	VFMADD213PS Z18, Z1, Z3; \
	VMULPS Z1, Z1, Z4; \
	VFMADD213PS Z1, Z4, Z3; \
	VADDPS Z19, Z3, Z3; \
	VSCALEFPS Z2, Z3, Z1

// func expSubAVX512(dst, x *float32, n int, max float32) float32
TEXT ·expSubAVX512(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DX
	MOVQ x+8(FP), AX
	MOVQ n+16(FP), CX
	VBROADCASTSS max+24(FP), Z9
	EXPCONSTS
	VPXORD Z0, Z0, Z0
exp_loop16:
	CMPQ CX, $16
	JLT exp_tail
	VMOVUPS (AX), Z1
	VSUBPS Z9, Z1, Z1
	EXPSTEP
	VADDPS Z1, Z0, Z0
	VMOVUPS Z1, (DX)
	ADDQ $64, AX
	ADDQ $64, DX
	SUBQ $16, CX
	JMP exp_loop16
exp_tail:
	TESTQ CX, CX
	JEQ exp_reduce
	TAILMASK
	VMOVUPS.Z (AX), K1, Z1
	VSUBPS Z9, Z1, Z1
	EXPSTEP
	VADDPS Z1, Z0, K1, Z0
	VMOVUPS Z1, K1, (DX)
exp_reduce:
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// func swigluAVX512(h, gate, up *float32, n int)
// h[i] = gate[i]·up[i] / (1 + exp(−gate[i])), the exponential as in expSubAVX512.
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ h+0(FP), DX
	MOVQ gate+8(FP), AX
	MOVQ up+16(FP), BX
	MOVQ n+24(FP), CX
	EXPCONSTS
	VPXORD Z9, Z9, Z9
swiglu_loop16:
	CMPQ CX, $16
	JLT swiglu_tail
	VMOVUPS (AX), Z5
	VSUBPS Z5, Z9, Z1
	EXPSTEP
	VADDPS Z19, Z1, Z1
	VMULPS (BX), Z5, Z5
	VDIVPS Z1, Z5, Z5
	VMOVUPS Z5, (DX)
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, DX
	SUBQ $16, CX
	JMP swiglu_loop16
swiglu_tail:
	TESTQ CX, CX
	JEQ swiglu_done
	TAILMASK
	VMOVUPS.Z (AX), K1, Z5
	VMOVUPS.Z (BX), K1, Z6
	VSUBPS Z5, Z9, Z1
	EXPSTEP
	VADDPS Z19, Z1, Z1
	VMULPS Z6, Z5, Z5
	VDIVPS Z1, Z5, Z5
	VMOVUPS Z5, K1, (DX)
swiglu_done:
	VZEROUPPER
	RET

// SWIGLUBACK computes, from gate in Z5, dh in Z6, up in Z7, du in Z24 and
// dg in Z25, the new du in Z23 and dg in Z22 (16 lanes of
// swigluBackAVX512).
#define SWIGLUBACK \
	VSUBPS Z5, Z9, Z1; \
	EXPSTEP; \
	VADDPS Z19, Z1, Z1; \
	VDIVPS Z1, Z19, Z8; \
	VMULPS Z8, Z6, Z22; \
	VMULPS Z5, Z22, Z23; \
	VADDPS Z24, Z23, Z23; \
	VSUBPS Z8, Z19, Z26; \
	VFMADD213PS Z19, Z5, Z26; \
	VMULPS Z7, Z22, Z22; \
	VMULPS Z26, Z22, Z22; \
	VADDPS Z25, Z22, Z22

// func swigluBackAVX512(dg, du, dh, gate, up *float32, n int)
// With s = 1/(1 + exp(−gate[i])): du[i] += dh[i]·gate[i]·s and
// dg[i] += dh[i]·up[i]·s·(1 + gate[i]·(1 − s)).
TEXT ·swigluBackAVX512(SB), NOSPLIT, $0-48
	MOVQ dg+0(FP), SI
	MOVQ du+8(FP), DI
	MOVQ dh+16(FP), BX
	MOVQ gate+24(FP), AX
	MOVQ up+32(FP), R8
	MOVQ n+40(FP), CX
	EXPCONSTS
	VPXORD Z9, Z9, Z9
swigluback_loop16:
	CMPQ CX, $16
	JLT swigluback_tail
	VMOVUPS (AX), Z5
	VMOVUPS (BX), Z6
	VMOVUPS (R8), Z7
	VMOVUPS (DI), Z24
	VMOVUPS (SI), Z25
	SWIGLUBACK
	VMOVUPS Z23, (DI)
	VMOVUPS Z22, (SI)
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, R8
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP swigluback_loop16
swigluback_tail:
	TESTQ CX, CX
	JEQ swigluback_done
	TAILMASK
	VMOVUPS.Z (AX), K1, Z5
	VMOVUPS.Z (BX), K1, Z6
	VMOVUPS.Z (R8), K1, Z7
	VMOVUPS.Z (DI), K1, Z24
	VMOVUPS.Z (SI), K1, Z25
	SWIGLUBACK
	VMOVUPS Z23, K1, (DI)
	VMOVUPS Z22, K1, (SI)
swigluback_done:
	VZEROUPPER
	RET
