package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/longrecipe/longrecipe/hf"
)

// A dequantizer converts whole blocks: len(src) is a multiple of the type's
// block bytes and len(dst) the matching number of values.
type dequantizer func(dst []float32, src []byte)

var dequantizers map[GGMLType]dequantizer

func init() {
	dequantizers = map[GGMLType]dequantizer{
		F32: deqF32, F16: deqF16, BF16: deqBF16, Q8_0: deqQ8_0,
		Q4_0: deqQ4_0, Q4_1: deqQ4_1, Q5_0: deqQ5_0, Q5_1: deqQ5_1,
		Q4_K: deqQ4K, Q5_K: deqQ5K, Q6_K: deqQ6K,
	}
}

// Dequantize converts src, whole blocks of type t, into dst, which must
// hold exactly the values those blocks encode.
func Dequantize(dst []float32, src []byte, t GGMLType) error {
	f := dequantizers[t]
	if f == nil {
		return fmt.Errorf("ggml type %s is not supported (supported: %s)", t, SupportedTypes)
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	if len(dst)%bs != 0 || len(src) != len(dst)/bs*ts {
		return fmt.Errorf("%s: %d bytes do not encode %d values", t, len(src), len(dst))
	}
	f(dst, src)
	return nil
}

func f16(b []byte) float32 { return hf.Float32FromF16(binary.LittleEndian.Uint16(b)) }

func deqF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func deqF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = f16(src[2*i:])
	}
}

func deqBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = hf.Float32FromBF16(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// Q8_0: f16 d, 32 int8 values; y = q·d.
func deqQ8_0(dst []float32, src []byte) {
	for b := 0; len(dst) > 0; b++ {
		blk := src[b*34 : (b+1)*34]
		d := f16(blk)
		for i := range 32 {
			dst[i] = float32(int8(blk[2+i])) * d
		}
		dst = dst[32:]
	}
}

// Q4_0: f16 d, 16 bytes of nibbles (low nibbles are values 0–15, high
// nibbles 16–31); y = (q−8)·d.
func deqQ4_0(dst []float32, src []byte) {
	for b := 0; len(dst) > 0; b++ {
		blk := src[b*18 : (b+1)*18]
		d := f16(blk)
		qs := blk[2:]
		for j := range 16 {
			dst[j] = d * float32(int(qs[j]&0xf)-8)
			dst[j+16] = d * float32(int(qs[j]>>4)-8)
		}
		dst = dst[32:]
	}
}

// Q4_1: f16 d, f16 m, 16 bytes of nibbles; y = q·d + m.
func deqQ4_1(dst []float32, src []byte) {
	for b := 0; len(dst) > 0; b++ {
		blk := src[b*20 : (b+1)*20]
		d, m := f16(blk), f16(blk[2:])
		qs := blk[4:]
		for j := range 16 {
			dst[j] = float32(d*float32(qs[j]&0xf)) + m
			dst[j+16] = float32(d*float32(qs[j]>>4)) + m
		}
		dst = dst[32:]
	}
}

// fifthBits returns value j's and value j+16's fifth bit (as 0 or 16) from
// Q5's 32-bit mask.
func fifthBits(qh uint32, j int) (int, int) {
	return int(qh>>j&1) << 4, int(qh>>(j+16)&1) << 4
}

// Q5_0: f16 d, uint32 of fifth bits, 16 bytes of nibbles; y = (q−16)·d.
func deqQ5_0(dst []float32, src []byte) {
	for b := 0; len(dst) > 0; b++ {
		blk := src[b*22 : (b+1)*22]
		d := f16(blk)
		qh := binary.LittleEndian.Uint32(blk[2:])
		qs := blk[6:]
		for j := range 16 {
			h0, h1 := fifthBits(qh, j)
			dst[j] = d * float32(int(qs[j]&0xf)|h0-16)
			dst[j+16] = d * float32(int(qs[j]>>4)|h1-16)
		}
		dst = dst[32:]
	}
}

// Q5_1: f16 d, f16 m, uint32 of fifth bits, 16 bytes of nibbles;
// y = q·d + m.
func deqQ5_1(dst []float32, src []byte) {
	for b := 0; len(dst) > 0; b++ {
		blk := src[b*24 : (b+1)*24]
		d, m := f16(blk), f16(blk[2:])
		qh := binary.LittleEndian.Uint32(blk[4:])
		qs := blk[8:]
		for j := range 16 {
			h0, h1 := fifthBits(qh, j)
			dst[j] = float32(d*float32(int(qs[j]&0xf)|h0)) + m
			dst[j+16] = float32(d*float32(int(qs[j]>>4)|h1)) + m
		}
		dst = dst[32:]
	}
}

// scaleMinK4 unpacks the j-th 6-bit scale and min of a Q4_K/Q5_K block's
// twelve scale bytes (ggml's get_scale_min_k4).
func scaleMinK4(j int, q []byte) (sc, m byte) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// Q4_K: 256 values in eight groups of 32, each with a 6-bit scale and min:
// y = (d·sc)·q − (dmin·m).
func deqQ4K(dst []float32, src []byte) {
	for b := 0; len(dst) > 0; b++ {
		blk := src[b*144 : (b+1)*144]
		d, dmin := f16(blk), f16(blk[2:])
		scales, qs := blk[4:16], blk[16:]
		for g := range 4 { // 64 values per pass: low nibbles, then high
			sc1, m1 := scaleMinK4(2*g, scales)
			sc2, m2 := scaleMinK4(2*g+1, scales)
			d1, dm1 := d*float32(sc1), dmin*float32(m1)
			d2, dm2 := d*float32(sc2), dmin*float32(m2)
			q := qs[32*g : 32*g+32]
			y := dst[64*g : 64*g+64]
			for l := range 32 {
				y[l] = float32(d1*float32(q[l]&0xf)) - dm1
				y[l+32] = float32(d2*float32(q[l]>>4)) - dm2
			}
		}
		dst = dst[256:]
	}
}

// Q5_K: as Q4_K with a fifth bit per value from 32 bytes of qh (bit 2g of
// qh[l] for the low nibbles of pass g, bit 2g+1 for the high ones).
func deqQ5K(dst []float32, src []byte) {
	for b := 0; len(dst) > 0; b++ {
		blk := src[b*176 : (b+1)*176]
		d, dmin := f16(blk), f16(blk[2:])
		scales, qh, qs := blk[4:16], blk[16:48], blk[48:]
		for g := range 4 {
			sc1, m1 := scaleMinK4(2*g, scales)
			sc2, m2 := scaleMinK4(2*g+1, scales)
			d1, dm1 := d*float32(sc1), dmin*float32(m1)
			d2, dm2 := d*float32(sc2), dmin*float32(m2)
			q := qs[32*g : 32*g+32]
			y := dst[64*g : 64*g+64]
			for l := range 32 {
				lo := q[l]&0xf | (qh[l]>>(2*g)&1)<<4
				hi := q[l]>>4 | (qh[l]>>(2*g+1)&1)<<4
				y[l] = float32(d1*float32(lo)) - dm1
				y[l+32] = float32(d2*float32(hi)) - dm2
			}
		}
		dst = dst[256:]
	}
}

// Q6_K: 128 bytes of low nibbles, 64 bytes of high bit pairs, sixteen int8
// scales (one per 16 values) and f16 d; y = (d·sc)·(q−32).
func deqQ6K(dst []float32, src []byte) {
	for b := 0; len(dst) > 0; b++ {
		blk := src[b*210 : (b+1)*210]
		d := f16(blk[208:])
		for half := range 2 { // 128 values each
			ql := blk[64*half : 64*half+64]
			qh := blk[128+32*half : 128+32*half+32]
			sc := blk[192+8*half : 192+8*half+8]
			y := dst[128*half : 128*half+128]
			for l := range 32 {
				is := l / 16
				q1 := int(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
				q2 := int(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				y[l] = d * float32(int8(sc[is])) * float32(q1)
				y[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				y[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				y[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
		dst = dst[256:]
	}
}
