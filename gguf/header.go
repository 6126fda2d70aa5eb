package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
)

// Limits on what a header may claim, far above any real model's and far
// below what would exhaust memory.
const (
	maxKeyBytes    = 1 << 16 // GGUF keys are at most 65535 bytes
	maxStringBytes = 1 << 26 // 64 MiB for one string value
	maxArrayLen    = 1 << 24 // 16M elements in one array
	maxArrayDepth  = 4       // arrays of arrays nested at most this deep
	maxDims        = 4       // GGML_MAX_DIMS
	maxElements    = 1 << 48 // elements of one tensor
	defaultAlign   = 32      // GGUF_DEFAULT_ALIGNMENT
)

// Magic is the four bytes a GGUF file starts with.
const Magic = "GGUF"

// KV is one metadata key/value pair.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of a GGUF file.
type TensorInfo struct {
	Name string
	// Dims are ggml's ne: Dims[0] varies fastest (a row), so the Hugging
	// Face shape is Dims reversed.
	Dims []int64
	Type GGMLType
	// Offset is the data's offset in the file (absolute).
	Offset int64
	// Size is the data's length in bytes.
	Size int64
	// File is the path of the file (the part of a split model) holding it.
	File string
}

// Elements returns the tensor's element count.
func (t TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Shape returns the Hugging Face (row-major, slowest first) shape.
func (t TensorInfo) Shape() []int {
	s := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		s[len(t.Dims)-1-i] = int(d)
	}
	return s
}

// Header is a parsed GGUF header.
type Header struct {
	Version   uint32
	KVs       []KV // in file order
	Tensors   []TensorInfo
	Alignment int64
	// DataOffset is where the tensor data section starts in the file.
	DataOffset int64

	byKey map[string]int
}

// Get returns the value of a key.
func (h *Header) Get(key string) (Value, bool) {
	i, ok := h.byKey[key]
	if !ok {
		return Value{}, false
	}
	return h.KVs[i].Value, true
}

// reader reads little-endian values and counts bytes, so every length can
// be checked against what is left of the file.
type reader struct {
	r    *bufio.Reader
	pos  int64
	size int64
	buf  [8]byte
}

var errShort = errors.New("unexpected end of file")

func (r *reader) left() int64 { return r.size - r.pos }

func (r *reader) read(n int) ([]byte, error) {
	if int64(n) > r.left() {
		return nil, errShort
	}
	if _, err := io.ReadFull(r.r, r.buf[:n]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errShort
		}
		return nil, err
	}
	r.pos += int64(n)
	return r.buf[:n], nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64() (uint64, error) {
	b, err := r.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a uint64 count of items each at least minSize bytes long and
// checks that they can fit in the rest of the file.
func (r *reader) count(what string, minSize int64, limit uint64) (int, error) {
	n, err := r.u64()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if n > limit {
		return 0, fmt.Errorf("%s: %d exceeds the limit of %d", what, n, limit)
	}
	if hi, lo := bits.Mul64(n, uint64(minSize)); hi != 0 || lo > uint64(r.left()) {
		return 0, fmt.Errorf("%s: %d needs at least %d bytes per item but only %d bytes are left", what, n, minSize, r.left())
	}
	return int(n), nil
}

// str reads a GGUF string (uint64 length, bytes).
func (r *reader) str(what string, limit uint64) (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if n > limit {
		return "", fmt.Errorf("%s: string length %d exceeds the limit of %d", what, n, limit)
	}
	if n > uint64(r.left()) {
		return "", fmt.Errorf("%s: string length %d runs past the end of the file (%d bytes left)", what, n, r.left())
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		return "", fmt.Errorf("%s: %w", what, errShort)
	}
	r.pos += int64(n)
	return string(b), nil
}

// Parse reads a GGUF header from r, which holds size bytes in all; name
// (usually the path) is used in errors. It checks every tensor against the
// data section but reads no tensor data.
func Parse(r io.Reader, size int64, name string) (*Header, error) {
	rd := &reader{r: bufio.NewReaderSize(r, 1<<16), size: size}
	h, err := parseHeader(rd)
	if err != nil {
		return nil, fmt.Errorf("gguf %s: %w", name, err)
	}
	for i := range h.Tensors {
		h.Tensors[i].File = name
	}
	return h, nil
}

func parseHeader(rd *reader) (*Header, error) {
	magic, err := rd.read(4)
	if err != nil {
		return nil, fmt.Errorf("magic: %w", err)
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("not a GGUF file (magic %q, want %q)", magic, Magic)
	}
	h := &Header{byKey: map[string]int{}, Alignment: defaultAlign}
	if h.Version, err = rd.u32(); err != nil {
		return nil, fmt.Errorf("version: %w", err)
	}
	if h.Version != 2 && h.Version != 3 {
		if h.Version&0xffff == 0 && h.Version != 0 {
			return nil, fmt.Errorf("version %#x: big-endian GGUF files are not supported", h.Version)
		}
		return nil, fmt.Errorf("unsupported GGUF version %d (want 2 or 3)", h.Version)
	}
	// A tensor info takes at least 8 (name) + 4 + 8 + 4 + 8 bytes, a KV at
	// least 8 (key) + 4 + 1.
	nTensors, err := rd.count("tensor count", 32, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	nKV, err := rd.count("metadata count", 13, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if err := h.readKVs(rd, nKV); err != nil {
		return nil, err
	}
	if err := h.readAlignment(); err != nil {
		return nil, err
	}
	if err := h.readTensorInfos(rd, nTensors); err != nil {
		return nil, err
	}
	h.DataOffset = alignUp(rd.pos, h.Alignment)
	return h, h.checkTensors(rd.size)
}

func (h *Header) readKVs(rd *reader, n int) error {
	h.KVs = make([]KV, 0, n)
	for i := range n {
		key, err := rd.str(fmt.Sprintf("metadata key %d", i), maxKeyBytes)
		if err != nil {
			return err
		}
		if _, dup := h.byKey[key]; dup {
			return fmt.Errorf("metadata key %q appears twice", key)
		}
		t, err := rd.u32()
		if err != nil {
			return fmt.Errorf("metadata %q: type: %w", key, err)
		}
		v, err := readValue(rd, ValueType(t), 0)
		if err != nil {
			return fmt.Errorf("metadata %q: %w", key, err)
		}
		h.byKey[key] = len(h.KVs)
		h.KVs = append(h.KVs, KV{key, v})
	}
	return nil
}

// readValue reads one value of type t; depth counts enclosing arrays.
func readValue(rd *reader, t ValueType, depth int) (Value, error) {
	v := Value{Type: t}
	switch {
	case t == TypeString:
		s, err := rd.str("string", maxStringBytes)
		v.s = s
		return v, err
	case t == TypeArray:
		return readArray(rd, depth)
	case t.scalarSize() == 0:
		return v, fmt.Errorf("unknown value type %d", uint32(t))
	}
	b, err := rd.read(t.scalarSize())
	if err != nil {
		return v, err
	}
	v.bits, v.f = decodeScalar(t, b)
	if t == TypeBool && v.bits > 1 {
		return v, fmt.Errorf("bool value %d is neither 0 nor 1", v.bits)
	}
	return v, nil
}

// decodeScalar decodes a fixed-size value: integer bits (sign-extended) and
// the float value.
func decodeScalar(t ValueType, b []byte) (uint64, float64) {
	switch t {
	case TypeUint8, TypeBool:
		return uint64(b[0]), 0
	case TypeInt8:
		return uint64(int64(int8(b[0]))), 0
	case TypeUint16:
		return uint64(binary.LittleEndian.Uint16(b)), 0
	case TypeInt16:
		return uint64(int64(int16(binary.LittleEndian.Uint16(b)))), 0
	case TypeUint32:
		return uint64(binary.LittleEndian.Uint32(b)), 0
	case TypeInt32:
		return uint64(int64(int32(binary.LittleEndian.Uint32(b)))), 0
	case TypeFloat32:
		return 0, float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case TypeFloat64:
		return 0, math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return binary.LittleEndian.Uint64(b), 0 // uint64, int64
}

func readArray(rd *reader, depth int) (Value, error) {
	if depth >= maxArrayDepth {
		return Value{}, fmt.Errorf("arrays nested more than %d deep", maxArrayDepth)
	}
	et, err := rd.u32()
	if err != nil {
		return Value{}, fmt.Errorf("array type: %w", err)
	}
	elem := ValueType(et)
	minSize := int64(elem.scalarSize())
	switch {
	case elem == TypeString:
		minSize = 8
	case elem == TypeArray:
		minSize = 12
	case minSize == 0:
		return Value{}, fmt.Errorf("array of unknown value type %d", et)
	}
	n, err := rd.count("array length", minSize, maxArrayLen)
	if err != nil {
		return Value{}, err
	}
	v := Value{Type: TypeArray, Elem: elem}
	switch {
	case elem == TypeString:
		v.strs = make([]string, n)
	case elem == TypeArray:
		v.nested = make([]Value, n)
	case elem == TypeFloat32 || elem == TypeFloat64:
		v.floats = make([]float64, n)
	default:
		v.ints = make([]int64, n)
	}
	for i := range n {
		if err := readElem(rd, &v, i, depth); err != nil {
			return Value{}, fmt.Errorf("array element %d: %w", i, err)
		}
	}
	return v, nil
}

func readElem(rd *reader, v *Value, i, depth int) error {
	switch {
	case v.Elem == TypeString:
		s, err := rd.str("string", maxStringBytes)
		v.strs[i] = s
		return err
	case v.Elem == TypeArray:
		e, err := readArray(rd, depth+1)
		v.nested[i] = e
		return err
	}
	e, err := readValue(rd, v.Elem, depth+1)
	if err != nil {
		return err
	}
	switch {
	case v.floats != nil:
		v.floats[i] = e.f
	case v.Elem == TypeUint64 && e.bits > math.MaxInt64:
		return fmt.Errorf("uint64 value %d is out of range", e.bits)
	default:
		v.ints[i] = int64(e.bits)
	}
	return nil
}

func (h *Header) readAlignment() error {
	v, ok := h.Get("general.alignment")
	if !ok {
		return nil
	}
	a, isInt := v.Int()
	if !isInt || v.Type != TypeUint32 {
		return fmt.Errorf("metadata \"general.alignment\": want uint32, got %s", v.Type)
	}
	if a <= 0 || a&(a-1) != 0 || a > 1<<20 {
		return fmt.Errorf("metadata \"general.alignment\": %d is not a power of two up to 1 MiB", a)
	}
	h.Alignment = a
	return nil
}

func (h *Header) readTensorInfos(rd *reader, n int) error {
	h.Tensors = make([]TensorInfo, 0, n)
	seen := map[string]bool{}
	for i := range n {
		t, err := readTensorInfo(rd, i)
		if err != nil {
			return err
		}
		if seen[t.Name] {
			return fmt.Errorf("tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		h.Tensors = append(h.Tensors, t)
	}
	return nil
}

func readTensorInfo(rd *reader, i int) (TensorInfo, error) {
	var t TensorInfo
	name, err := rd.str(fmt.Sprintf("tensor %d name", i), maxKeyBytes)
	if err != nil {
		return t, err
	}
	t.Name = name
	nd, err := rd.u32()
	if err != nil {
		return t, fmt.Errorf("tensor %q: dimension count: %w", name, err)
	}
	if nd == 0 || nd > maxDims {
		return t, fmt.Errorf("tensor %q: %d dimensions (want 1 to %d)", name, nd, maxDims)
	}
	t.Dims = make([]int64, nd)
	count := uint64(1)
	for d := range t.Dims {
		n, err := rd.u64()
		if err != nil {
			return t, fmt.Errorf("tensor %q: dimension %d: %w", name, d, err)
		}
		hi, lo := bits.Mul64(count, n)
		if n == 0 || hi != 0 || lo > maxElements {
			return t, fmt.Errorf("tensor %q: dimension %d = %d makes an empty or absurdly large tensor", name, d, n)
		}
		count = lo
		t.Dims[d] = int64(n)
	}
	typ, err := rd.u32()
	if err != nil {
		return t, fmt.Errorf("tensor %q: type: %w", name, err)
	}
	t.Type = GGMLType(typ)
	info, known := ggmlTypes[t.Type]
	if !known {
		return t, fmt.Errorf("tensor %q: unknown ggml type %d", name, typ)
	}
	if t.Dims[0]%int64(info.blockSize) != 0 {
		return t, fmt.Errorf("tensor %q: row length %d is not a multiple of %s's block size %d", name, t.Dims[0], info.name, info.blockSize)
	}
	t.Size = int64(count) / int64(info.blockSize) * int64(info.typeSize)
	off, err := rd.u64()
	if err != nil {
		return t, fmt.Errorf("tensor %q: offset: %w", name, err)
	}
	if off > math.MaxInt64/2 {
		return t, fmt.Errorf("tensor %q: offset %d is absurd", name, off)
	}
	t.Offset = int64(off) // relative to the data section until checkTensors
	return t, nil
}

// checkTensors makes offsets absolute and checks that every tensor is
// aligned, lies inside the file and overlaps no other.
func (h *Header) checkTensors(size int64) error {
	dataLen := size - h.DataOffset
	if len(h.Tensors) > 0 && dataLen < 0 {
		return fmt.Errorf("data section starts at %d, past the end of the file (%d bytes)", h.DataOffset, size)
	}
	order := make([]int, len(h.Tensors))
	for i := range h.Tensors {
		t := &h.Tensors[i]
		order[i] = i
		if t.Offset%h.Alignment != 0 {
			return fmt.Errorf("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, h.Alignment)
		}
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return fmt.Errorf("tensor %q: %s data of %d bytes at offset %d runs past the end of the file (data section is %d bytes)", t.Name, t.Type, t.Size, t.Offset, dataLen)
		}
		t.Offset += h.DataOffset
	}
	sort.Slice(order, func(a, b int) bool { return h.Tensors[order[a]].Offset < h.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		prev, cur := h.Tensors[order[k-1]], h.Tensors[order[k]]
		if prev.Offset+prev.Size > cur.Offset {
			return fmt.Errorf("tensors %q and %q overlap", prev.Name, cur.Name)
		}
	}
	return nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }
