package hf

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// TensorSource is a tensor to be written: its name, shape and stored dtype,
// and a function producing its data when its turn comes (so a checkpoint is
// never held in memory at once). Exactly one of Float32 (converted to DType,
// which must be F32, BF16, F16 or F64), Chunks (the same, in pieces) and
// Raw (bytes already in DType, little-endian) is set.
type TensorSource struct {
	Name    string
	Shape   []int
	DType   DType
	Float32 func() ([]float32, error)
	// Chunks calls yield with consecutive pieces of the tensor (row-major)
	// whose lengths add up to the element count; yield converts and writes
	// each piece before returning, so the piece's buffer may be reused.
	Chunks func(yield func([]float32) error) error
	Raw    func() ([]byte, error)
}

// WriteOptions controls WriteCheckpoint.
type WriteOptions struct {
	// MaxShardBytes is the largest shard (sum of tensor bytes); 0 writes a
	// single model.safetensors. A tensor larger than the limit gets a shard
	// of its own, as in transformers.
	MaxShardBytes int64
	// Metadata goes into every file's "__metadata__"; "format" is always
	// set to "pt" (transformers refuses other values for PyTorch models).
	Metadata map[string]string
	// Progress, when set, is called with the byte count of each tensor
	// after it is written.
	Progress func(bytes int64)
}

// DefaultMaxShardBytes is transformers' default max_shard_size "5GB".
const DefaultMaxShardBytes = 5_000_000_000

// Tensor is an in-memory tensor for WriteSafetensors: exactly one of F32
// (converted to DType) and Raw (bytes already in DType) is set.
type Tensor struct {
	Name  string
	Shape []int
	DType DType
	F32   []float32
	Raw   []byte
}

// WriteSafetensors writes tensors (in the given order) to one safetensors
// file, atomically.
func WriteSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	srcs := make([]TensorSource, len(tensors))
	for i, t := range tensors {
		t := t
		srcs[i] = TensorSource{Name: t.Name, Shape: t.Shape, DType: t.DType}
		switch {
		case t.F32 != nil && t.Raw != nil:
			return fmt.Errorf("write %s: tensor %q has both F32 and Raw data", path, t.Name)
		case t.Raw != nil:
			srcs[i].Raw = func() ([]byte, error) { return t.Raw, nil }
		default:
			srcs[i].Float32 = func() ([]float32, error) { return t.F32, nil }
		}
	}
	plan, err := planTensors(srcs)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFile(path, plan, metadata, nil)
}

// plannedTensor is a TensorSource with its byte size.
type plannedTensor struct {
	TensorSource
	bytes int64
}

// planTensors checks the sources and computes their sizes.
func planTensors(srcs []TensorSource) ([]plannedTensor, error) {
	seen := map[string]bool{}
	out := make([]plannedTensor, len(srcs))
	for i, s := range srcs {
		switch {
		case s.Name == "" || s.Name == "__metadata__":
			return nil, fmt.Errorf("tensor %d: invalid name %q", i, s.Name)
		case seen[s.Name]:
			return nil, fmt.Errorf("tensor %q appears twice", s.Name)
		case !s.DType.Valid():
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", s.Name, s.DType)
		case count3(s.Float32 != nil, s.Chunks != nil, s.Raw != nil) != 1:
			return nil, fmt.Errorf("tensor %q: exactly one of Float32, Chunks and Raw must be set", s.Name)
		case s.Raw == nil && !s.DType.IsFloat():
			return nil, fmt.Errorf("tensor %q: cannot convert float32 data to dtype %s", s.Name, s.DType)
		}
		seen[s.Name] = true
		count := uint64(1)
		for _, d := range s.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q: negative dimension in shape %v", s.Name, s.Shape)
			}
			hi, lo := bits.Mul64(count, uint64(d))
			if hi != 0 || lo > 1<<60 {
				return nil, fmt.Errorf("tensor %q: shape %v is too large", s.Name, s.Shape)
			}
			count = lo
		}
		out[i] = plannedTensor{TensorSource: s, bytes: int64(count) * int64(s.DType.Size())}
	}
	return out, nil
}

// encodeHeader returns the header JSON for the planned tensors, padded with
// spaces so that the data section starts at a multiple of 8.
func encodeHeader(plan []plannedTensor, metadata map[string]string) ([]byte, error) {
	meta := map[string]string{}
	for k, v := range metadata {
		meta[k] = v
	}
	meta["format"] = "pt" // transformers refuses files without it
	var b strings.Builder
	b.WriteString(`{"__metadata__":`)
	mj, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	b.Write(mj)
	var off int64
	for _, t := range plan {
		name, _ := json.Marshal(t.Name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sj, _ := json.Marshal(shape)
		fmt.Fprintf(&b, `,%s:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, string(t.DType), sj, off, off+t.bytes)
		off += t.bytes
	}
	b.WriteString("}")
	for (8+b.Len())%8 != 0 {
		b.WriteByte(' ')
	}
	return []byte(b.String()), nil
}

// writeFile writes one safetensors file atomically, producing each
// tensor's data in turn.
func writeFile(path string, plan []plannedTensor, metadata map[string]string, progress func(int64)) error {
	header, err := encodeHeader(plan, metadata)
	if err != nil {
		return fmt.Errorf("write %s: encode header: %w", path, err)
	}
	if len(header) > MaxHeaderBytes {
		return fmt.Errorf("write %s: header of %d bytes exceeds the %d-byte limit", path, len(header), MaxHeaderBytes)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var lenBuf [8]byte
		for i := range 8 {
			lenBuf[i] = byte(uint64(len(header)) >> (8 * i))
		}
		bw.Write(lenBuf[:])
		bw.Write(header)
		buf := make([]byte, encodeChunk*8)
		for _, t := range plan {
			if err := writeTensor(bw, t, buf); err != nil {
				return err
			}
			if progress != nil {
				progress(t.bytes)
			}
		}
		return bw.Flush()
	})
}

// encodeChunk is how many values are converted at a time when writing.
const encodeChunk = 1 << 16

// writeTensor produces and writes one tensor's data, converting through
// buf (at least encodeChunk·8 bytes).
func writeTensor(w io.Writer, t plannedTensor, buf []byte) error {
	if t.Raw != nil {
		data, err := t.Raw()
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if int64(len(data)) != t.bytes {
			return fmt.Errorf("tensor %q: %s shape %v needs %d bytes, got %d", t.Name, t.DType, t.Shape, t.bytes, len(data))
		}
		_, err = w.Write(data)
		return err
	}
	n := t.bytes / int64(t.DType.Size())
	// Convert in pieces so the encoded copy stays small.
	const chunk = encodeChunk
	var done int64
	put := func(data []float32) error {
		if int64(len(data)) > n-done {
			return fmt.Errorf("shape %v needs %d values, got more", t.Shape, n)
		}
		done += int64(len(data))
		for len(data) > 0 {
			m := min(chunk, len(data))
			out := buf[:m*t.DType.Size()]
			if err := encodeFloat32(out, data[:m], t.DType); err != nil {
				return err
			}
			if _, err := w.Write(out); err != nil {
				return err
			}
			data = data[m:]
		}
		return nil
	}
	if t.Chunks != nil {
		if err := t.Chunks(put); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if done != n {
			return fmt.Errorf("tensor %q: shape %v needs %d values, got %d", t.Name, t.Shape, n, done)
		}
		return nil
	}
	data, err := t.Float32()
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if int64(len(data)) != n {
		return fmt.Errorf("tensor %q: shape %v needs %d values, got %d", t.Name, t.Shape, n, len(data))
	}
	if err := put(data); err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return nil
}

func count3(a, b, c bool) int {
	n := 0
	for _, v := range []bool{a, b, c} {
		if v {
			n++
		}
	}
	return n
}

// shardName is transformers' shard file name.
func shardName(i, n int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n)
}

var weightFileRE = regexp.MustCompile(`^model(-[0-9]{5}-of-[0-9]{5})?\.safetensors(\.index\.json)?$`)

// WriteCheckpoint writes tensors into the folder dir (created if needed)
// in the given order, as transformers' save_pretrained does: one
// model.safetensors when everything fits in opts.MaxShardBytes (or it is
// 0), otherwise shards model-00001-of-0000N.safetensors and
// model.safetensors.index.json (metadata.total_size and weight_map). Each
// tensor's data is produced only when it is written. Every file is written
// atomically, the index last; an earlier index in dir is removed first and
// the earlier weight files that are not part of the new checkpoint
// afterwards, so a write that stops half-way leaves a folder that fails to
// open rather than a mix of old and new shards. (For an all-or-nothing
// folder, write into a new folder and rename it, as package merge does.)
func WriteCheckpoint(dir string, tensors []TensorSource, opts WriteOptions) error {
	if opts.MaxShardBytes < 0 {
		return fmt.Errorf("write checkpoint %s: negative MaxShardBytes %d", dir, opts.MaxShardBytes)
	}
	plan, err := planTensors(tensors)
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	// Temporaries of an earlier write killed half-way (up to a shard each).
	if _, err := atomicfile.RemoveStale(dir, isCheckpointFile); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	// Split into shards.
	var shards [][]plannedTensor
	var total, cur int64
	for _, t := range plan {
		total += t.bytes
		if opts.MaxShardBytes > 0 && len(shards) > 0 && cur+t.bytes > opts.MaxShardBytes {
			shards = append(shards, nil)
			cur = 0
		}
		if len(shards) == 0 {
			shards = append(shards, nil)
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], t)
		cur += t.bytes
	}
	if len(shards) == 0 {
		shards = [][]plannedTensor{nil}
	}
	// An index left from an earlier checkpoint goes first: were the write
	// to stop half-way, old and new shards of the same names must not
	// load as one checkpoint.
	if err := os.Remove(filepath.Join(dir, IndexFileName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write checkpoint: remove old index: %w", err)
	}
	keep := map[string]bool{}
	if len(shards) == 1 {
		path := filepath.Join(dir, SingleFileName)
		if err := writeFile(path, shards[0], opts.Metadata, opts.Progress); err != nil {
			return err
		}
		keep[SingleFileName] = true
	} else {
		weightMap := map[string]string{}
		for i, s := range shards {
			name := shardName(i+1, len(shards))
			if err := writeFile(filepath.Join(dir, name), s, opts.Metadata, opts.Progress); err != nil {
				return err
			}
			keep[name] = true
			for _, t := range s {
				weightMap[t.Name] = name
			}
		}
		idx := struct {
			Metadata  map[string]int64  `json:"metadata"`
			WeightMap map[string]string `json:"weight_map"`
		}{map[string]int64{"total_size": total}, weightMap}
		data, err := json.MarshalIndent(idx, "", "  ")
		if err != nil {
			return fmt.Errorf("write checkpoint %s: encode index: %w", dir, err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, IndexFileName), append(data, '\n')); err != nil {
			return err
		}
		keep[IndexFileName] = true
	}
	return removeStaleWeights(dir, keep)
}

// removeStaleWeights deletes weight files of dir not in keep.
func removeStaleWeights(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || keep[e.Name()] || !weightFileRE.MatchString(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("remove stale weight file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ParseByteSize parses a size such as transformers' max_shard_size:
// "5GB" (10^9), "500MB", "2GiB" (2^30), "100KB", or a plain byte count.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
	}
	upper := strings.ToUpper(t)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(upper, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v > 0) || v*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("bad size %q (want e.g. 5GB, 500MB, 2GiB)", s)
	}
	return int64(v * float64(mult)), nil
}

// isCheckpointFile reports the names of a checkpoint folder (WriteCheckpoint
// writes the weights and index, the caller config.json).
func isCheckpointFile(name string) bool {
	return name == IndexFileName || name == ConfigFileName || strings.HasPrefix(name, "model") && strings.HasSuffix(name, ".safetensors")
}
