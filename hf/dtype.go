package hf

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// littleEndian reports whether float32 values in memory are laid out as
// safetensors stores them, so F32 data can be copied as bytes.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// f32Bytes views a float32 slice as its bytes.
func f32Bytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// f16Table maps every binary16 pattern to its float32 value.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = Float32FromF16(uint16(i))
	}
	return &t
})

// DType is a safetensors element type, spelled as in the file header
// ("F32", "BF16", ...).
type DType string

// The safetensors element types. F32, BF16, F16 and F64 convert to and from
// float32; the others can be read only as raw bytes.
const (
	F64    DType = "F64"
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	BOOL   DType = "BOOL"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
)

var dtypeSizes = map[DType]int{
	F64: 8, F32: 4, F16: 2, BF16: 2,
	I64: 8, I32: 4, I16: 2, I8: 1,
	U64: 8, U32: 4, U16: 2, U8: 1,
	BOOL: 1, F8E4M3: 1, F8E5M2: 1,
}

// Size returns the size of one element in bytes, or 0 for an unknown type.
func (d DType) Size() int { return dtypeSizes[d] }

// Valid reports whether d is a known safetensors type.
func (d DType) Valid() bool { return dtypeSizes[d] != 0 }

// IsFloat reports whether d converts to and from float32 (F32, BF16, F16,
// F64).
func (d DType) IsFloat() bool {
	switch d {
	case F32, BF16, F16, F64:
		return true
	}
	return false
}

// ParseDType accepts a safetensors dtype name or a torch/config spelling
// ("float32", "bfloat16", "float16", "fp32", "bf16", "fp16", case
// insensitive) and returns the DType.
func ParseDType(s string) (DType, error) {
	switch s {
	case "F32", "f32", "float32", "fp32", "FP32", "float":
		return F32, nil
	case "BF16", "bf16", "bfloat16":
		return BF16, nil
	case "F16", "f16", "float16", "fp16", "FP16", "half":
		return F16, nil
	case "F64", "f64", "float64", "fp64", "double":
		return F64, nil
	}
	if d := DType(s); d.Valid() {
		return d, nil
	}
	return "", fmt.Errorf("unknown dtype %q", s)
}

// BF16FromFloat32 rounds f to bfloat16 bits, to nearest even. NaN stays
// NaN (sign and top payload kept, quiet bit set); ±Inf stays ±Inf; values
// too large round to ±Inf as in IEEE arithmetic.
func BF16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x0040
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// Float32FromBF16 widens bfloat16 bits to float32 (exact).
func Float32FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F16FromFloat32 rounds f to IEEE 754 binary16 bits, to nearest even,
// producing subnormals, ±0, ±Inf (overflow) and NaN (quiet, sign and top
// payload kept) as IEEE arithmetic does. (The method is F. Giesen's
// float_to_half_fast3_rtne: subnormals are rounded by the FPU through a
// magic addend, normals by integer rounding of the bits.)
func F16FromFloat32(f float32) uint16 {
	x := math.Float32bits(f)
	sign := x & 0x80000000
	x ^= sign
	var o uint32
	switch {
	case x >= 0x47800000: // |f| >= 65536 (rounds to Inf), Inf or NaN
		o = 0x7c00
		if x > 0x7f800000 {
			o = 0x7e00 | (x&0x7fffff)>>13
		}
	case x < 113<<23: // |f| < 2^-14: f16 subnormal or zero
		// Adding 0.5 aligns the 10 mantissa bits at the bottom of the
		// float32; the addition rounds to nearest even.
		const magic = 126 << 23
		o = math.Float32bits(float32(math.Float32frombits(x)+math.Float32frombits(magic))) - magic
	default:
		odd := (x >> 13) & 1
		x = x - (127-15)<<23 + 0xfff + odd // rebias, round half to even
		o = x >> 13
	}
	return uint16(o | sign>>16)
}

// Float32FromF16 widens IEEE binary16 bits to float32 (exact).
func Float32FromF16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: normalise.
	e := uint32(113)
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
}

// decodeFloat32 converts raw little-endian data of type d into dst
// (len(dst) elements). The caller checked the lengths.
func decodeFloat32(dst []float32, src []byte, d DType) error {
	switch d {
	case F32:
		src = src[:4*len(dst)]
		if littleEndian {
			copy(f32Bytes(dst), src)
			return nil
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case BF16:
		src = src[:2*len(dst)]
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case F16:
		src = src[:2*len(dst)]
		t := f16Table()
		for i := range dst {
			dst[i] = t[uint16(src[2*i])|uint16(src[2*i+1])<<8]
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	default:
		return fmt.Errorf("dtype %s does not convert to float32", d)
	}
	return nil
}

// encodeFloat32 converts src to little-endian data of type d in dst
// (len(src)·d.Size() bytes).
func encodeFloat32(dst []byte, src []float32, d DType) error {
	switch d {
	case F32:
		if littleEndian {
			copy(dst[:4*len(src)], f32Bytes(src))
			return nil
		}
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], BF16FromFloat32(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F16FromFloat32(v))
		}
	case F64:
		for i, v := range src {
			binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(float64(v)))
		}
	default:
		return fmt.Errorf("cannot convert float32 to dtype %s", d)
	}
	return nil
}
