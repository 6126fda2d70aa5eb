package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Constructors of metadata values for the writer.

// Uint32Value is a uint32 scalar.
func Uint32Value(v uint32) Value { return Value{Type: TypeUint32, bits: uint64(v)} }

// Float32Value is a float32 scalar.
func Float32Value(f float32) Value { return Value{Type: TypeFloat32, f: float64(f)} }

// BoolValue is a bool scalar.
func BoolValue(b bool) Value {
	v := Value{Type: TypeBool}
	if b {
		v.bits = 1
	}
	return v
}

// StringValue is a string scalar.
func StringValue(s string) Value { return Value{Type: TypeString, s: s} }

// StringsValue is an array of strings.
func StringsValue(s []string) Value { return Value{Type: TypeArray, Elem: TypeString, strs: s} }

// Int32sValue is an array of int32.
func Int32sValue(v []int64) Value { return Value{Type: TypeArray, Elem: TypeInt32, ints: v} }

// Float32sValue is an array of float32.
func Float32sValue(v []float64) Value { return Value{Type: TypeArray, Elem: TypeFloat32, floats: v} }

// encoder writes little-endian GGUF fields and counts the bytes written.
type encoder struct {
	w   *bufio.Writer
	n   int64
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err != nil {
		return
	}
	var k int
	k, e.err = e.w.Write(b)
	e.n += int64(k)
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.bytes(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:8], v)
	e.bytes(e.buf[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.bytes([]byte(s))
}

// scalar writes one element of type t from its integer bits or float.
func (e *encoder) scalar(t ValueType, bits uint64, f float64) {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		e.bytes([]byte{byte(bits)})
	case TypeUint16, TypeInt16:
		binary.LittleEndian.PutUint16(e.buf[:2], uint16(bits))
		e.bytes(e.buf[:2])
	case TypeUint32, TypeInt32:
		e.u32(uint32(bits))
	case TypeUint64, TypeInt64:
		e.u64(bits)
	case TypeFloat32:
		e.u32(math.Float32bits(float32(f)))
	case TypeFloat64:
		e.u64(math.Float64bits(f))
	default:
		e.fail(fmt.Errorf("cannot encode a scalar of type %s", t))
	}
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// value writes a value's type-specific part (not its leading type tag).
func (e *encoder) value(v Value) {
	switch v.Type {
	case TypeString:
		e.str(v.s)
	case TypeArray:
		e.u32(uint32(v.Elem))
		e.u64(uint64(v.Len()))
		switch {
		case v.Elem == TypeString:
			for _, s := range v.strs {
				e.str(s)
			}
		case v.Elem == TypeFloat32 || v.Elem == TypeFloat64:
			for _, f := range v.floats {
				e.scalar(v.Elem, 0, f)
			}
		case v.Elem.isInteger() || v.Elem == TypeBool:
			for _, i := range v.ints {
				e.scalar(v.Elem, uint64(i), 0)
			}
		default:
			e.fail(fmt.Errorf("cannot encode an array of %s", v.Elem))
		}
	default:
		e.scalar(v.Type, v.bits, v.f)
	}
}

// OutTensor is one tensor of a file being written: its name, ggml dims
// (Dims[0] varies fastest), type, and a function that writes exactly its
// Size() bytes of data.
type OutTensor struct {
	Name  string
	Dims  []int64
	Type  GGMLType
	Write func(w io.Writer) error
}

// Size returns the tensor's data bytes.
func (t OutTensor) Size() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n / int64(t.Type.BlockSize()) * int64(t.Type.TypeSize())
}

// FileSize returns the bytes WriteFile writes for kvs and tensors.
func FileSize(kvs []KV, tensors []OutTensor) int64 {
	e := &encoder{w: bufio.NewWriter(io.Discard)}
	off := writeHeader(e, kvs, tensors)
	return alignUp(e.n, defaultAlign) + off
}

// writeHeader writes the magic, version, counts, key/value pairs and tensor
// infos, and returns the bytes of the (aligned) data section.
func writeHeader(e *encoder, kvs []KV, tensors []OutTensor) int64 {
	e.bytes([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.Type))
		e.value(kv.Value)
	}
	var off int64
	for _, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(off))
		off = alignUp(off+t.Size(), defaultAlign)
	}
	return off
}

// WriteFile writes a GGUF v3 file (alignment 32) to w: the header, then
// each tensor's data as its Write produces it, padded to the alignment.
// A tensor whose Write produces other than Size() bytes is an error.
func WriteFile(w io.Writer, kvs []KV, tensors []OutTensor) error {
	e := &encoder{w: bufio.NewWriterSize(w, 1<<20)}
	writeHeader(e, kvs, tensors)
	pad := func() { e.bytes(make([]byte, alignUp(e.n, defaultAlign)-e.n)) }
	pad()
	for _, t := range tensors {
		if e.err != nil {
			break
		}
		start := e.n
		cw := &countWriter{e: e}
		if err := t.Write(cw); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if e.err == nil && e.n-start != t.Size() {
			return fmt.Errorf("tensor %q: wrote %d bytes, want %d", t.Name, e.n-start, t.Size())
		}
		pad()
	}
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}

// countWriter lets a tensor's Write go through the encoder.
type countWriter struct{ e *encoder }

func (c *countWriter) Write(b []byte) (int, error) {
	c.e.bytes(b)
	if c.e.err != nil {
		return 0, c.e.err
	}
	return len(b), nil
}
