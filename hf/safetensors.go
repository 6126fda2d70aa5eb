package hf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sort"
	"sync"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// MaxHeaderBytes is the largest safetensors header accepted (100 MB, as
// the reference implementation).
const MaxHeaderBytes = 100_000_000

// useMmap is switched off by tests to exercise the ReadAt path.
var useMmap = true

// TensorInfo describes one tensor of a safetensors file. Begin and End are
// byte offsets into the data section (after the 8-byte length and the
// header), as in the header's data_offsets.
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// Bytes returns End − Begin.
func (t TensorInfo) Bytes() int64 { return t.End - t.Begin }

// File is an open safetensors file. Its methods are safe for concurrent
// use until Close.
type File struct {
	path      string
	f         *os.File
	mapped    []byte // whole file, read-only; nil when mmap failed
	dataStart int64  // 8 + header length
	tensors   []TensorInfo
	byName    map[string]int
	metadata  map[string]string

	mu     sync.RWMutex
	closed bool
}

// OpenSafetensors opens a safetensors file and validates its header: the
// 8-byte length (≤ MaxHeaderBytes and within the file), a JSON object whose
// entries each have a known dtype, a non-negative shape and data_offsets
// [begin, end] with begin ≤ end inside the data section, a byte length equal
// to the dtype size times the element count, no two tensors overlapping,
// and an optional "__metadata__" object of strings. The file is
// memory-mapped read-only; when mapping fails it is read with ReadAt.
func OpenSafetensors(path string) (*File, error) {
	// OpenRegular refuses a FIFO or device before open(2) could block on it.
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("open safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	size := st.Size()
	if size < 8 {
		f.Close()
		return nil, fmt.Errorf("%s: truncated safetensors file: %d bytes, need at least 8 for the header length", path, size)
	}
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderBytes {
		f.Close()
		return nil, fmt.Errorf("%s: header length %d exceeds the %d-byte limit (not a safetensors file?)", path, n, MaxHeaderBytes)
	}
	if int64(n) > size-8 {
		f.Close()
		return nil, fmt.Errorf("%s: header length %d exceeds the file size %d (truncated file?)", path, n, size)
	}
	header := make([]byte, n)
	if _, err := f.ReadAt(header, 8); err != nil {
		f.Close()
		return nil, fmt.Errorf("read header of %s: %w", path, err)
	}
	tensors, meta, err := parseHeader(header, size-8-int64(n))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sf := &File{path: path, f: f, dataStart: 8 + int64(n), tensors: tensors, metadata: meta, byName: make(map[string]int, len(tensors))}
	for i, t := range tensors {
		sf.byName[t.Name] = i
	}
	if useMmap {
		if m, err := mmapFile(f, size); err == nil {
			sf.mapped = m
		}
	}
	return sf, nil
}

// headerEntry is one tensor's header value; pointers detect absent keys.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// parseHeader validates a safetensors JSON header against a data section of
// dataLen bytes and returns the tensors sorted by offset (then name).
func parseHeader(header []byte, dataLen int64) ([]TensorInfo, map[string]string, error) {
	trimmed := bytes.TrimLeft(header, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, errors.New("header is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("header is not valid JSON: %w", err)
	}
	var tensors []TensorInfo
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header is not valid JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("header is not valid JSON: unexpected %v", tok)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("header: tensor %q appears twice", name)
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, nil, fmt.Errorf("header is not valid JSON at %q: %w", name, err)
		}
		if name == "__metadata__" {
			if string(bytes.TrimSpace(value)) == "null" {
				continue
			}
			if err := json.Unmarshal(value, &meta); err != nil || meta == nil {
				return nil, nil, fmt.Errorf("header: __metadata__ must be an object of strings: %s", truncate(string(value), 60))
			}
			continue
		}
		t, err := parseEntry(name, value, dataLen)
		if err != nil {
			return nil, nil, err
		}
		tensors = append(tensors, t)
	}
	if _, err := dec.Token(); err != nil { // closing brace
		return nil, nil, fmt.Errorf("header is not valid JSON: %w", err)
	}
	rest, _ := io.ReadAll(dec.Buffered())
	if len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return nil, nil, fmt.Errorf("header has trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("header has trailing data after the JSON object")
	}
	sort.Slice(tensors, func(i, j int) bool {
		if tensors[i].Begin != tensors[j].Begin {
			return tensors[i].Begin < tensors[j].Begin
		}
		if tensors[i].End != tensors[j].End {
			return tensors[i].End < tensors[j].End
		}
		return tensors[i].Name < tensors[j].Name
	})
	var prev *TensorInfo
	for i := range tensors {
		t := &tensors[i]
		if t.Begin == t.End {
			continue
		}
		if prev != nil && t.Begin < prev.End {
			return nil, nil, fmt.Errorf("header: tensor %q (bytes %d–%d) overlaps tensor %q (bytes %d–%d)", t.Name, t.Begin, t.End, prev.Name, prev.Begin, prev.End)
		}
		prev = t
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return tensors, meta, nil
}

// parseEntry validates one tensor entry of the header.
func parseEntry(name string, value json.RawMessage, dataLen int64) (TensorInfo, error) {
	var e headerEntry
	if err := json.Unmarshal(value, &e); err != nil {
		return TensorInfo{}, fmt.Errorf("header: tensor %q: bad entry %s: %v", name, truncate(string(value), 80), err)
	}
	if name == "" {
		return TensorInfo{}, errors.New("header: tensor with an empty name")
	}
	switch {
	case e.DType == nil:
		return TensorInfo{}, fmt.Errorf("header: tensor %q has no dtype", name)
	case e.Shape == nil:
		return TensorInfo{}, fmt.Errorf("header: tensor %q has no shape", name)
	case e.DataOffsets == nil:
		return TensorInfo{}, fmt.Errorf("header: tensor %q has no data_offsets", name)
	}
	d := DType(*e.DType)
	if !d.Valid() {
		return TensorInfo{}, fmt.Errorf("header: tensor %q has unknown dtype %q", name, *e.DType)
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return TensorInfo{}, fmt.Errorf("header: tensor %q: data_offsets has %d values, want 2", name, len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < 0 || begin > end {
		return TensorInfo{}, fmt.Errorf("header: tensor %q: data_offsets [%d, %d] are not 0 ≤ begin ≤ end", name, begin, end)
	}
	if end > dataLen {
		return TensorInfo{}, fmt.Errorf("header: tensor %q: data_offsets [%d, %d] run past the end of the data section (%d bytes; truncated file?)", name, begin, end, dataLen)
	}
	shape := make([]int, len(*e.Shape))
	count := uint64(1)
	for i, dim := range *e.Shape {
		if dim < 0 || int64(int(dim)) != dim {
			return TensorInfo{}, fmt.Errorf("header: tensor %q: shape %v has a negative or huge dimension", name, *e.Shape)
		}
		shape[i] = int(dim)
		hi, lo := bits.Mul64(count, uint64(dim))
		if hi != 0 || lo > 1<<62 {
			return TensorInfo{}, fmt.Errorf("header: tensor %q: shape %v has too many elements", name, *e.Shape)
		}
		count = lo
	}
	hi, want := bits.Mul64(count, uint64(d.Size()))
	if hi != 0 || want != uint64(end-begin) {
		return TensorInfo{}, fmt.Errorf("header: tensor %q: %s shape %v needs %d bytes but data_offsets [%d, %d] give %d", name, d, shape, want, begin, end, end-begin)
	}
	return TensorInfo{Name: name, DType: d, Shape: shape, Begin: begin, End: end}, nil
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Tensors returns the tensors in file order (by data offset).
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.tensors))
	for i, t := range f.tensors {
		t.Shape = append([]int(nil), t.Shape...)
		out[i] = t
	}
	return out
}

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.tensors[i]
	t.Shape = append([]int(nil), t.Shape...)
	return t, true
}

// Metadata returns a copy of the header's "__metadata__" (empty if absent).
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.metadata))
	for k, v := range f.metadata {
		m[k] = v
	}
	return m
}

// read calls fn with the named tensor's bytes while holding the read lock:
// a read-only slice of the mapping (never to be written or kept) or a
// buffer read with ReadAt.
func (f *File) read(name string, fn func(t TensorInfo, b []byte, mapped bool) error) error {
	i, ok := f.byName[name]
	if !ok {
		return fmt.Errorf("%s: no tensor %q", f.path, name)
	}
	t := f.tensors[i]
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return fmt.Errorf("%s: read tensor %q: file is closed", f.path, name)
	}
	if f.mapped != nil {
		return fn(t, f.mapped[f.dataStart+t.Begin:f.dataStart+t.End], true)
	}
	buf := make([]byte, t.End-t.Begin)
	if _, err := f.f.ReadAt(buf, f.dataStart+t.Begin); err != nil {
		return fmt.Errorf("%s: read tensor %q: %w", f.path, name, err)
	}
	return fn(t, buf, false)
}

// Raw returns a copy of the named tensor's bytes (little-endian, as stored).
func (f *File) Raw(name string) ([]byte, error) {
	var out []byte
	err := f.read(name, func(_ TensorInfo, b []byte, mapped bool) error {
		if mapped {
			b = append([]byte(nil), b...)
		}
		out = b
		return nil
	})
	return out, err
}

// Float32 returns the named tensor converted to float32. F32, BF16, F16
// and F64 convert; other dtypes are an error naming the tensor.
func (f *File) Float32(name string) ([]float32, error) {
	t, ok := f.Info(name)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", f.path, name)
	}
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("%s: tensor %q has dtype %s, which does not convert to float32", f.path, name, t.DType)
	}
	dst := make([]float32, t.NumElements())
	if err := f.Float32Into(name, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// Float32Into converts the named tensor into dst, which must have exactly
// the tensor's element count.
func (f *File) Float32Into(name string, dst []float32) error {
	return f.read(name, func(t TensorInfo, b []byte, _ bool) error {
		if !t.DType.IsFloat() {
			return fmt.Errorf("%s: tensor %q has dtype %s, which does not convert to float32", f.path, name, t.DType)
		}
		if int64(len(dst)) != t.NumElements() {
			return fmt.Errorf("%s: tensor %q has %d elements, destination has %d", f.path, name, t.NumElements(), len(dst))
		}
		return decodeFloat32(dst, b, t.DType)
	})
}

// Float32Range converts elements [start, start+len(dst)) of the named
// tensor (in row-major order) into dst, so that a large tensor can be
// streamed in chunks.
func (f *File) Float32Range(name string, start int64, dst []float32) error {
	t, ok := f.Info(name)
	if !ok {
		return fmt.Errorf("%s: no tensor %q", f.path, name)
	}
	if !t.DType.IsFloat() {
		return fmt.Errorf("%s: tensor %q has dtype %s, which does not convert to float32", f.path, name, t.DType)
	}
	n := t.NumElements()
	if start < 0 || start > n || int64(len(dst)) > n-start {
		return fmt.Errorf("%s: tensor %q has %d elements; range [%d, %d) is out of bounds", f.path, name, n, start, start+int64(len(dst)))
	}
	size := int64(t.DType.Size())
	lo, hi := t.Begin+start*size, t.Begin+(start+int64(len(dst)))*size
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return fmt.Errorf("%s: read tensor %q: file is closed", f.path, name)
	}
	if f.mapped != nil {
		return decodeFloat32(dst, f.mapped[f.dataStart+lo:f.dataStart+hi], t.DType)
	}
	buf := make([]byte, hi-lo)
	if _, err := f.f.ReadAt(buf, f.dataStart+lo); err != nil {
		return fmt.Errorf("%s: read tensor %q: %w", f.path, name, err)
	}
	return decodeFloat32(dst, buf, t.DType)
}

// Close unmaps and closes the file. Close is idempotent.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.mapped != nil {
		err = munmap(f.mapped)
		f.mapped = nil
	}
	if e := f.f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	return nil
}
