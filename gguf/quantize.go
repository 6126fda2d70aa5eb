package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/longrecipe/longrecipe/hf"
)

// A quantizer encodes whole blocks: len(src) is a multiple of the type's
// block size and len(dst) the matching number of block bytes.
type quantizer func(dst []byte, src []float32)

var quantizers = map[GGMLType]quantizer{
	F32: qF32, F16: qF16, BF16: qBF16, Q8_0: qQ8_0, Q4_K: qQ4K, Q6_K: qQ6K,
}

// QuantizableTypes lists the types Quantize writes, for error messages.
const QuantizableTypes = "F32, F16, BF16, Q8_0, Q4_K, Q6_K"

// Quantize encodes src into dst as ggml type t with llama.cpp's block
// layouts (the inverse of Dequantize). len(src) must be a multiple of the
// type's block size and len(dst) the bytes of those blocks.
func Quantize(dst []byte, src []float32, t GGMLType) error {
	f := quantizers[t]
	if f == nil {
		return fmt.Errorf("ggml type %s cannot be written (writable: %s)", t, QuantizableTypes)
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	if len(src)%bs != 0 || len(dst) != len(src)/bs*ts {
		return fmt.Errorf("%s: %d values do not fill %d bytes of whole blocks", t, len(src), len(dst))
	}
	f(dst, src)
	return nil
}

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, hf.F16FromFloat32(f)) }

func qF32(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func qF16(dst []byte, src []float32) {
	for i, v := range src {
		putF16(dst[2*i:], v)
	}
}

func qBF16(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], hf.BF16FromFloat32(v))
	}
}

// roundAway rounds half away from zero (C's roundf).
func roundAway(x float32) int { return int(math.Round(float64(x))) }

// nearestInt rounds half to even as ggml's nearest_int does (|x| < 2^22).
func nearestInt(x float32) int {
	v := x + 12582912
	return int(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// Q8_0: per 32 values d = max|x|/127 (stored as f16), q = round(x/d)
// computed with the float32 d, as ggml's quantize_row_q8_0_ref.
func qQ8_0(dst []byte, src []float32) {
	for b := 0; len(src) > 0; b++ {
		blk := dst[b*34 : (b+1)*34]
		var amax float32
		for _, v := range src[:32] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(blk, d)
		for i, v := range src[:32] {
			blk[2+i] = byte(int8(roundAway(v * id)))
		}
		src = src[32:]
	}
}

// groupMaxEps is ggml's GROUP_MAX_EPS: a group below it is all zero.
const groupMaxEps = 1e-15

// Q6_K: a super-block of 256 values in 16 groups of 16; each group gets a
// symmetric 6-bit code q ∈ [−32, 31] with its own scale, the 16 scales are
// themselves int8 multiples of one f16 d: x ≈ d·scale[g]·q.
func qQ6K(dst []byte, src []float32) {
	var L [256]int8
	var scales [16]float32
	for b := 0; len(src) > 0; b++ {
		blk := dst[b*210 : (b+1)*210]
		x := src[:256]
		src = src[256:]
		var maxScale, maxAbs float32
		for g := range 16 {
			s := makeQxQuants(x[16*g:16*g+16], 32, L[16*g:16*g+16])
			scales[g] = s
			if a := float32(math.Abs(float64(s))); a > maxAbs {
				maxAbs, maxScale = a, s
			}
		}
		clear(blk)
		if maxAbs < groupMaxEps {
			continue
		}
		iscale := -128 / maxScale
		putF16(blk[208:], 1/iscale)
		d16 := f16(blk[208:])
		for g := range 16 {
			sc := int8(min(127, nearestInt(iscale*scales[g])))
			blk[192+g] = byte(sc)
			d := d16 * float32(sc)
			if d == 0 {
				continue
			}
			for i := range 16 {
				l := nearestInt(x[16*g+i] / d)
				L[16*g+i] = int8(max(-32, min(31, l)) + 32)
			}
		}
		packQ6K(blk, &L)
	}
}

// packQ6K stores the 256 unsigned 6-bit codes: low nibbles in ql (two per
// byte), the top two bits in qh (four per byte), in ggml's interleaving.
func packQ6K(blk []byte, L *[256]int8) {
	ql, qh := blk[0:128], blk[128:192]
	for j := 0; j < 256; j += 128 {
		for l := range 32 {
			q1, q2 := byte(L[j+l])&0xf, byte(L[j+l+32])&0xf
			q3, q4 := byte(L[j+l+64])&0xf, byte(L[j+l+96])&0xf
			ql[l] = q1 | q3<<4
			ql[l+32] = q2 | q4<<4
			qh[l] = byte(L[j+l])>>4 | (byte(L[j+l+32])>>4)<<2 | (byte(L[j+l+64])>>4)<<4 | (byte(L[j+l+96])>>4)<<6
		}
		ql, qh = ql[64:], qh[32:]
	}
}

// makeQxQuants finds a scale s for a symmetric code L ∈ [0, 2·nmax) (L−nmax
// is the signed value) minimising Σ x²·(x − s·(L−nmax))², trying the 19
// candidate inverse scales around −nmax/max as ggml's make_qx_quants
// (rmse_type 1) does.
func makeQxQuants(x []float32, nmax int, L []int8) float32 {
	var mx, amax float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, mx = a, v
		}
	}
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	fit := func(iscale float32, store bool) (sumlx, suml2 float32) {
		for i, v := range x {
			l := max(-nmax, min(nmax-1, nearestInt(iscale*v)))
			if store {
				L[i] = int8(l + nmax)
			}
			w := v * v
			fl := float32(l)
			sumlx += w * v * fl
			suml2 += w * fl * fl
		}
		return
	}
	iscale := float32(-nmax) / mx
	sumlx, suml2 := fit(iscale, true)
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(float32(nmax) + 0.1*float32(is)) / mx
		sumlx, suml2 = fit(iscale, false)
		if suml2 > 0 && sumlx*sumlx > best*suml2 {
			fit(iscale, true)
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}
