package gguf

import (
	"fmt"
	"math"
	"strconv"
)

// Value is one metadata value. Scalars keep their type; arrays hold their
// elements by kind: integers and booleans as int64, floats as float64,
// strings, and nested arrays as Values.
type Value struct {
	Type ValueType
	// Elem is the element type of an array.
	Elem ValueType

	bits   uint64  // integer and bool scalars (two's complement for signed)
	f      float64 // float scalars
	s      string
	ints   []int64
	floats []float64
	strs   []string
	nested []Value
}

// isSigned reports whether an integer type is signed.
func (t ValueType) isSigned() bool {
	return t == TypeInt8 || t == TypeInt16 || t == TypeInt32 || t == TypeInt64
}

func (t ValueType) isInteger() bool {
	switch t {
	case TypeUint8, TypeInt8, TypeUint16, TypeInt16, TypeUint32, TypeInt32, TypeUint64, TypeInt64:
		return true
	}
	return false
}

// Int returns an integer scalar (any width, signed or not) as int64; ok is
// false for other types and for a uint64 above the int64 range.
func (v Value) Int() (int64, bool) {
	if !v.Type.isInteger() {
		return 0, false
	}
	if !v.Type.isSigned() && v.bits > math.MaxInt64 {
		return 0, false
	}
	return int64(v.bits), true
}

// Float returns a float scalar (float32 widened exactly) or an integer
// scalar converted; ok is false for other types.
func (v Value) Float() (float64, bool) {
	switch {
	case v.Type == TypeFloat32 || v.Type == TypeFloat64:
		return v.f, true
	case v.Type.isInteger():
		i, ok := v.Int()
		return float64(i), ok
	}
	return 0, false
}

// Bool returns a bool scalar.
func (v Value) Bool() (bool, bool) { return v.bits != 0, v.Type == TypeBool }

// Str returns a string scalar.
func (v Value) Str() (string, bool) { return v.s, v.Type == TypeString }

// Strings returns an array of strings.
func (v Value) Strings() ([]string, bool) {
	return v.strs, v.Type == TypeArray && v.Elem == TypeString
}

// Ints returns an array of integers or booleans.
func (v Value) Ints() ([]int64, bool) {
	return v.ints, v.Type == TypeArray && (v.Elem.isInteger() || v.Elem == TypeBool)
}

// Floats returns an array of floats.
func (v Value) Floats() ([]float64, bool) {
	return v.floats, v.Type == TypeArray && (v.Elem == TypeFloat32 || v.Elem == TypeFloat64)
}

// Len returns an array's length (0 for a scalar).
func (v Value) Len() int {
	return len(v.ints) + len(v.floats) + len(v.strs) + len(v.nested)
}

// String renders the value briefly (arrays as their type and length).
func (v Value) String() string {
	switch {
	case v.Type == TypeArray:
		return fmt.Sprintf("[%d × %s]", v.Len(), v.Elem)
	case v.Type == TypeString:
		if len(v.s) > 60 {
			return strconv.Quote(v.s[:60]) + "…"
		}
		return strconv.Quote(v.s)
	case v.Type == TypeBool:
		return strconv.FormatBool(v.bits != 0)
	case v.Type == TypeFloat32:
		return strconv.FormatFloat(v.f, 'g', -1, 32)
	case v.Type == TypeFloat64:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case v.Type.isSigned():
		return strconv.FormatInt(int64(v.bits), 10)
	}
	return strconv.FormatUint(v.bits, 10)
}
