package gguf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Model is an opened GGUF model: one file, or every part of a split one.
// Metadata comes from the first part; Tensors lists the tensors of all
// parts in order, each naming its file.
type Model struct {
	Path    string   // the path given to Open
	Parts   []string // the files, in order
	Header  *Header  // the first part's header
	Tensors []TensorInfo

	files map[string]*os.File
}

// splitRE matches llama.cpp's split file names, NAME-00001-of-00003.gguf.
var splitRE = regexp.MustCompile(`^(.*)-([0-9]{5})-of-([0-9]{5})\.gguf$`)

// Open opens a GGUF file. A file named like NAME-0000i-of-0000N.gguf, or
// whose metadata says split.count > 1, is opened with all its parts (which
// must sit next to it, numbered from 00001) as one model.
func Open(path string) (*Model, error) {
	m := &Model{Path: path, files: map[string]*os.File{}}
	first, err := m.openPart(path)
	if err != nil {
		m.Close()
		return nil, err
	}
	parts, err := splitParts(path, first)
	if err != nil {
		m.Close()
		return nil, err
	}
	if len(parts) > 1 {
		m.Close()
		m.files = map[string]*os.File{}
		err = m.openParts(parts)
	} else {
		m.Parts, m.Header, m.Tensors = []string{path}, first, first.Tensors
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// openPart opens and parses one file, keeping it open for reading tensors.
func (m *Model) openPart(path string) (*Header, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	m.files[path] = f
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("gguf %s: not a regular file", path)
	}
	return Parse(io.NewSectionReader(f, 0, st.Size()), st.Size(), path)
}

// splitCount reads split.count (1 when absent).
func splitCount(h *Header, name string) (int, error) {
	v, ok := h.Get("split.count")
	if !ok {
		return 1, nil
	}
	n, isInt := v.Int()
	if !isInt || n < 1 || n > 99999 {
		return 0, fmt.Errorf("gguf %s: metadata \"split.count\" = %s is not a part count", name, v)
	}
	return int(n), nil
}

// splitParts returns the part files of the model path belongs to.
func splitParts(path string, h *Header) ([]string, error) {
	count, err := splitCount(h, path)
	if err != nil {
		return nil, err
	}
	sm := splitRE.FindStringSubmatch(filepath.Base(path))
	if sm == nil {
		if count > 1 {
			return nil, fmt.Errorf("gguf %s: metadata says it is one of %d parts, but the name is not NAME-0000i-of-0000N.gguf", path, count)
		}
		return []string{path}, nil
	}
	n, _ := strconv.Atoi(sm[3])
	if n != count {
		return nil, fmt.Errorf("gguf %s: the name says %d parts, metadata \"split.count\" says %d", path, n, count)
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = filepath.Join(filepath.Dir(path), fmt.Sprintf("%s-%05d-of-%05d.gguf", sm[1], i+1, n))
	}
	return parts, nil
}

// openParts opens every part, checks split.no and the counts, and joins
// the tensor lists.
func (m *Model) openParts(parts []string) error {
	m.Parts = parts
	seen := map[string]string{}
	for i, p := range parts {
		h, err := m.openPart(p)
		if err != nil {
			return err
		}
		if err := checkPart(h, p, i, len(parts)); err != nil {
			return err
		}
		if i == 0 {
			m.Header = h
		}
		for _, t := range h.Tensors {
			if other, dup := seen[t.Name]; dup {
				return fmt.Errorf("gguf %s: tensor %q is also in %s", p, t.Name, other)
			}
			seen[t.Name] = p
			m.Tensors = append(m.Tensors, t)
		}
	}
	if v, ok := m.Header.Get("split.tensors.count"); ok {
		if n, _ := v.Int(); n != int64(len(m.Tensors)) {
			return fmt.Errorf("gguf %s: metadata \"split.tensors.count\" = %s but the %d parts hold %d tensors", parts[0], v, len(parts), len(m.Tensors))
		}
	}
	return nil
}

func checkPart(h *Header, path string, i, n int) error {
	count, err := splitCount(h, path)
	if err != nil {
		return err
	}
	if count != n {
		return fmt.Errorf("gguf %s: metadata \"split.count\" = %d, want %d", path, count, n)
	}
	v, ok := h.Get("split.no")
	if !ok {
		return fmt.Errorf("gguf %s: part %d of %d has no \"split.no\"", path, i+1, n)
	}
	if no, _ := v.Int(); no != int64(i) || !v.Type.isInteger() {
		return fmt.Errorf("gguf %s: metadata \"split.no\" = %s, want %d", path, v, i)
	}
	return nil
}

// Tensor returns the named tensor's info.
func (m *Model) Tensor(name string) (TensorInfo, bool) {
	for _, t := range m.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// ReadAt reads len(dst) bytes of tensor t's data starting at byte off of
// the tensor.
func (m *Model) ReadAt(t TensorInfo, dst []byte, off int64) error {
	f := m.files[t.File]
	if f == nil {
		return fmt.Errorf("gguf: tensor %q: file %s is not open", t.Name, t.File)
	}
	if off < 0 || int64(len(dst)) > t.Size-off {
		return fmt.Errorf("gguf %s: tensor %q: read of %d bytes at %d is outside its %d bytes", t.File, t.Name, len(dst), off, t.Size)
	}
	if _, err := f.ReadAt(dst, t.Offset+off); err != nil {
		if errors.Is(err, io.EOF) {
			err = errShort
		}
		return fmt.Errorf("gguf %s: tensor %q: %w", t.File, t.Name, err)
	}
	return nil
}

// Float32Rows dequantises rows [r0, r0+n) of tensor t (a row is Dims[0]
// values) into dst, which must hold n·Dims[0] values.
func (m *Model) Float32Rows(t TensorInfo, r0, n int64, dst []float32, buf *[]byte) error {
	if !t.Type.Supported() {
		return fmt.Errorf("gguf %s: tensor %q: ggml type %s is not supported (supported: %s)", t.File, t.Name, t.Type, SupportedTypes)
	}
	rowBytes := t.Dims[0] / int64(t.Type.BlockSize()) * int64(t.Type.TypeSize())
	need := n * rowBytes
	if int64(cap(*buf)) < need {
		*buf = make([]byte, need)
	}
	raw := (*buf)[:need]
	if err := m.ReadAt(t, raw, r0*rowBytes); err != nil {
		return err
	}
	if err := Dequantize(dst, raw, t.Type); err != nil {
		return fmt.Errorf("gguf %s: tensor %q: %w", t.File, t.Name, err)
	}
	return nil
}

// Close closes the files.
func (m *Model) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	m.files = nil
	return errors.Join(errs...)
}
