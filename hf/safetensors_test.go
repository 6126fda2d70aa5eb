package hf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawFile builds safetensors bytes from a header string and a data section.
func rawFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func writeTemp(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadHandBuilt reads a file built byte by byte from the format
// specification.
func TestReadHandBuilt(t *testing.T) {
	data := make([]byte, 0, 24)
	for _, v := range []float32{1, -2.5, 3} {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	data = binary.LittleEndian.AppendUint16(data, 0x3f80) // bf16 1.0
	data = binary.LittleEndian.AppendUint16(data, 0xc000) // bf16 -2
	data = binary.LittleEndian.AppendUint16(data, 0x3c00) // f16 1.0
	data = binary.LittleEndian.AppendUint16(data, 0x0001) // f16 2^-24
	data = binary.LittleEndian.AppendUint64(data, 7)      // i64 7
	header := `{"b":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},"__metadata__":{"format":"pt","note":"x"},` +
		`"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"h":{"dtype":"F16","shape":[1,2],"data_offsets":[16,20]},` +
		`"n":{"dtype":"I64","shape":[],"data_offsets":[20,28]}}`
	path := writeTemp(t, "x.safetensors", rawFile(header, data))
	f, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "h", "n"}) {
		t.Errorf("file order %v", names)
	}
	checks := map[string][]float32{"a": {1, -2.5, 3}, "b": {1, -2}, "h": {1, float32(math.Ldexp(1, -24))}}
	for name, want := range checks {
		got, err := f.Float32(name)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v %v, want %v", name, got, err, want)
		}
	}
	raw, err := f.Raw("n")
	if err != nil || binary.LittleEndian.Uint64(raw) != 7 {
		t.Errorf("raw n = %v %v", raw, err)
	}
	if _, err := f.Float32("n"); err == nil || !strings.Contains(err.Error(), `"n"`) || !strings.Contains(err.Error(), "I64") {
		t.Errorf("I64 to float32: %v", err)
	}
	if m := f.Metadata(); m["note"] != "x" || m["format"] != "pt" {
		t.Errorf("metadata %v", m)
	}
	info, ok := f.Info("h")
	if !ok || !reflect.DeepEqual(info.Shape, []int{1, 2}) || info.DType != F16 || info.Begin != 16 || info.End != 20 {
		t.Errorf("info h = %+v", info)
	}
	if _, err := f.Float32("zz"); err == nil {
		t.Error("missing tensor: no error")
	}
	f.Close()
	if _, err := f.Raw("a"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("read after close: %v", err)
	}
}

func TestReadWithoutMmap(t *testing.T) {
	useMmap = false
	defer func() { useMmap = true }()
	t.Run("hand built", TestReadHandBuilt)
	t.Run("round trip", TestRoundTripAllDTypes)
}

func TestRoundTripAllDTypes(t *testing.T) {
	vals := []float32{0, 1, -1, 0.1, 3.14159, -65504, 1e-6, float32(math.Inf(1)), 1e30, -7.25}
	var tensors []Tensor
	for _, d := range []DType{F32, BF16, F16, F64} {
		tensors = append(tensors, Tensor{Name: "t." + string(d), Shape: []int{2, 5}, DType: d, F32: vals})
	}
	raws := map[DType][]byte{}
	for _, d := range []DType{I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8E4M3, F8E5M2} {
		b := make([]byte, 3*d.Size())
		for i := range b {
			b[i] = byte(i*7 + 1)
		}
		raws[d] = b
		tensors = append(tensors, Tensor{Name: "r." + string(d), Shape: []int{3}, DType: d, Raw: b})
	}
	tensors = append(tensors, Tensor{Name: "empty", Shape: []int{0, 4}, DType: F32, F32: []float32{}})
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := WriteSafetensors(path, tensors, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m := f.Metadata(); m["format"] != "pt" || m["k"] != "v" {
		t.Errorf("metadata %v", m)
	}
	for _, d := range []DType{F32, BF16, F16, F64} {
		got, err := f.Float32("t." + string(d))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			want := v
			switch d {
			case BF16:
				want = Float32FromBF16(BF16FromFloat32(v))
			case F16:
				want = Float32FromF16(F16FromFloat32(v))
			}
			if got[i] != want {
				t.Errorf("%s[%d] = %v, want %v", d, i, got[i], want)
			}
		}
	}
	for d, want := range raws {
		got, err := f.Raw("r." + string(d))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s raw = %v %v", d, got, err)
		}
		if info, _ := f.Info("r." + string(d)); info.DType != d {
			t.Errorf("dtype %s read as %s", d, info.DType)
		}
	}
	if got, err := f.Float32("empty"); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	// The data section starts 8-byte aligned.
	raw, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(raw); (8+n)%8 != 0 {
		t.Errorf("header length %d leaves data unaligned", n)
	}
}

func TestHeaderErrors(t *testing.T) {
	four := make([]byte, 16)
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"short", []byte{1, 2, 3}, "truncated"},
		{"huge header length", append(binary.LittleEndian.AppendUint64(nil, 200_000_000), '{', '}'), "exceeds the 100000000-byte limit"},
		{"lying header length", append(binary.LittleEndian.AppendUint64(nil, 50), []byte(`{}`)...), "exceeds the file size"},
		{"not json", rawFile(`{"a":`, nil), "not valid JSON"},
		{"not object", rawFile(`[1]`, nil), "not a JSON object"},
		{"trailing", rawFile(`{} {}`, nil), "trailing data"},
		{"offset past end", rawFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, four[:8]), `"w"`},
		{"begin after end", rawFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}`, four), "begin ≤ end"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, four), "overlaps"},
		{"shape mismatch", rawFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}`, four), "needs 12 bytes"},
		{"bad dtype", rawFile(`{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}}`, four), `unknown dtype "F7"`},
		{"no dtype", rawFile(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, four), "no dtype"},
		{"no shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, four), "no shape"},
		{"no offsets", rawFile(`{"w":{"dtype":"F32","shape":[1]}}`, four), "no data_offsets"},
		{"three offsets", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, four), "3 values"},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, four), "negative"},
		{"overflow", rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, four), "too many elements"},
		{"overflow bytes", rawFile(`{"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, four), "needs"},
		{"metadata not strings", rawFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"duplicate", rawFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, four), "appears twice"},
		{"entry not object", rawFile(`{"w":5}`, nil), `"w"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "bad.safetensors", tc.content)
			f, err := OpenSafetensors(path)
			if err == nil {
				f.Close()
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should contain %q and the path", err, tc.want)
			}
		})
	}
}

func TestCheckpointSharded(t *testing.T) {
	dir := t.TempDir()
	var srcs []TensorSource
	want := map[string][]float32{}
	for i := range 7 {
		name := "layer." + string(rune('a'+i)) + ".weight"
		vals := make([]float32, 100+i)
		for j := range vals {
			vals[j] = float32(i*1000 + j)
		}
		want[name] = vals
		srcs = append(srcs, TensorSource{Name: name, Shape: []int{len(vals)}, DType: F32,
			Float32: func() ([]float32, error) { return vals, nil }})
	}
	var written int64
	if err := WriteCheckpoint(dir, srcs, WriteOptions{MaxShardBytes: 900, Progress: func(n int64) { written += n }}); err != nil {
		t.Fatal(err)
	}
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if !ck.Sharded() || len(ck.Files()) != 4 || filepath.Base(ck.Files()[0]) != "model-00001-of-00004.safetensors" {
		t.Errorf("files %v", ck.Files())
	}
	if ck.TotalBytes() != written {
		t.Errorf("total %d, progress %d", ck.TotalBytes(), written)
	}
	var idx struct {
		Metadata  map[string]int64
		WeightMap map[string]string `json:"weight_map"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err := json.Unmarshal(data, &idx); err != nil || idx.Metadata["total_size"] != written || len(idx.WeightMap) != 7 {
		t.Errorf("index %s %v", data, err)
	}
	var order []string
	for _, s := range srcs {
		order = append(order, s.Name)
	}
	if !reflect.DeepEqual(ck.Names(), order) {
		t.Errorf("names %v", ck.Names())
	}
	for name, vals := range want {
		got, err := ck.Float32(name)
		if err != nil || !reflect.DeepEqual(got, vals) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Rewriting as one file removes the shards and the index.
	ck.Close()
	if err := WriteCheckpoint(dir, srcs[:2], WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != SingleFileName {
		t.Errorf("after single write: %v", entries)
	}
}

func TestCheckpointErrors(t *testing.T) {
	mk := func(t *testing.T, index string, shards map[string][]Tensor) string {
		dir := t.TempDir()
		for name, ts := range shards {
			if err := WriteSafetensors(filepath.Join(dir, name), ts, nil); err != nil {
				t.Fatal(err)
			}
		}
		if index != "" {
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(index), 0o644)
		}
		return dir
	}
	one := []Tensor{{Name: "a", Shape: []int{1}, DType: F32, F32: []float32{1}}}
	tests := []struct {
		name   string
		index  string
		shards map[string][]Tensor
		want   string
	}{
		{"empty folder", "", nil, "no model.safetensors"},
		{"index and single file", `{"weight_map":{"a":"model.safetensors"}}`, map[string][]Tensor{"model.safetensors": one}, "both model.safetensors"},
		{"missing shard", `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`, map[string][]Tensor{"s1.safetensors": one}, "shard s2.safetensors is missing"},
		{"missing tensor", `{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}`, map[string][]Tensor{"s1.safetensors": one}, `tensor "b" is missing from its shard`},
		{"unlisted tensor", `{"weight_map":{"b":"s1.safetensors"}}`, map[string][]Tensor{"s1.safetensors": one}, `"a" of shard s1.safetensors is not listed`},
		{"path escape", `{"weight_map":{"a":"../s1.safetensors"}}`, nil, "not a plain file name"},
		{"bad index json", `{"weight_map":`, nil, "bad JSON"},
		{"empty map", `{"weight_map":{}}`, nil, "weight_map"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := mk(t, tc.index, tc.shards)
			ck, err := OpenCheckpoint(dir)
			if err == nil {
				ck.Close()
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q should contain %q and the folder", err, tc.want)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	f32 := func() ([]float32, error) { return []float32{1, 2}, nil }
	tests := []struct {
		name string
		src  TensorSource
		want string
	}{
		{"bad dtype", TensorSource{Name: "x", Shape: []int{2}, DType: "Q4", Float32: f32}, "unknown dtype"},
		{"int from float", TensorSource{Name: "x", Shape: []int{2}, DType: I32, Float32: f32}, "cannot convert"},
		{"wrong length", TensorSource{Name: "x", Shape: []int{3}, DType: F32, Float32: f32}, "needs 3 values, got 2"},
		{"raw wrong length", TensorSource{Name: "x", Shape: []int{3}, DType: U8, Raw: func() ([]byte, error) { return []byte{1}, nil }}, "needs 3 bytes"},
		{"no producer", TensorSource{Name: "x", Shape: []int{3}, DType: U8}, "exactly one"},
		{"negative", TensorSource{Name: "x", Shape: []int{-3}, DType: F32, Float32: f32}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteCheckpoint(dir, []TensorSource{tc.src}, WriteOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"x"`) {
				t.Errorf("error %v, want %q naming the tensor", err, tc.want)
			}
		})
	}
	dup := []TensorSource{{Name: "x", Shape: []int{2}, DType: F32, Float32: f32}, {Name: "x", Shape: []int{2}, DType: F32, Float32: f32}}
	if err := WriteCheckpoint(dir, dup, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("failed writes left files: %v", entries)
	}
}

func TestChunksAndRanges(t *testing.T) {
	dir := t.TempDir()
	vals := make([]float32, 1000)
	for i := range vals {
		vals[i] = float32(i) / 7
	}
	chunks := func(yield func([]float32) error) error {
		buf := make([]float32, 300)
		for i := 0; i < len(vals); i += len(buf) {
			n := copy(buf, vals[i:])
			if err := yield(buf[:n]); err != nil {
				return err
			}
		}
		return nil
	}
	src := []TensorSource{{Name: "c", Shape: []int{10, 100}, DType: BF16, Chunks: chunks}}
	if err := WriteCheckpoint(dir, src, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	part := make([]float32, 50)
	if err := ck.Float32Range("c", 960, part); err == nil {
		t.Error("out-of-range read accepted")
	}
	if err := ck.Float32Range("c", 900, part); err != nil {
		t.Fatal(err)
	}
	for i, v := range part {
		if want := Float32FromBF16(BF16FromFloat32(vals[900+i])); v != want {
			t.Fatalf("element %d = %v, want %v", 900+i, v, want)
		}
	}
	short := []TensorSource{{Name: "c", Shape: []int{10, 101}, DType: BF16, Chunks: chunks}}
	if err := WriteCheckpoint(t.TempDir(), short, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "needs 1010 values, got 1000") {
		t.Errorf("short chunks: %v", err)
	}
	long := []TensorSource{{Name: "c", Shape: []int{10, 99}, DType: BF16, Chunks: chunks}}
	if err := WriteCheckpoint(t.TempDir(), long, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "got more") {
		t.Errorf("long chunks: %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"5GB", 5e9, true}, {"500MB", 5e8, true}, {"2GiB", 2 << 30, true}, {"10kb", 1e4, true},
		{"123", 123, true}, {"1.5GB", 1.5e9, true}, {"0", 0, false}, {"-1GB", 0, false}, {"GB", 0, false}, {"5XB", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func FuzzSafetensorsHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`), 8)
	f.Add([]byte(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}`), 4)
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[],"data_offsets":[4,5]}}`), 16)
	f.Add([]byte(`[]`), 0)
	f.Fuzz(func(t *testing.T, header []byte, dataLen int) {
		if dataLen < 0 || dataLen > 1<<16 {
			return
		}
		tensors, _, err := parseHeader(header, int64(dataLen))
		if err != nil {
			return
		}
		// Whatever the header parser accepts, the reader must serve.
		path := filepath.Join(t.TempDir(), "f.safetensors")
		if err := os.WriteFile(path, rawFile(string(header), make([]byte, dataLen)), 0o644); err != nil {
			t.Fatal(err)
		}
		sf, err := OpenSafetensors(path)
		if err != nil {
			t.Fatalf("parseHeader accepted what OpenSafetensors refuses: %v", err)
		}
		defer sf.Close()
		if len(sf.Tensors()) != len(tensors) {
			t.Fatal("tensor count differs")
		}
		var prevEnd int64
		for _, ti := range sf.Tensors() {
			if ti.Begin < 0 || ti.End > int64(dataLen) || ti.Begin > ti.End {
				t.Fatalf("accepted bad offsets %+v", ti)
			}
			if ti.End-ti.Begin != ti.NumElements()*int64(ti.DType.Size()) {
				t.Fatalf("accepted bad size %+v", ti)
			}
			if ti.Begin < prevEnd && ti.Begin != ti.End {
				t.Fatalf("accepted overlap %+v", ti)
			}
			if ti.End > ti.Begin {
				prevEnd = ti.End
			}
			if _, err := sf.Raw(ti.Name); err != nil {
				t.Fatal(err)
			}
			if ti.DType.IsFloat() {
				if _, err := sf.Float32(ti.Name); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestInterruptedRewrite: a rewrite that fails half-way must not leave old
// and new shards that open as one checkpoint.
func TestInterruptedRewrite(t *testing.T) {
	dir := t.TempDir()
	mk := func(v float32, failSecond bool) []TensorSource {
		var srcs []TensorSource
		for i, name := range []string{"a", "b"} {
			fail := failSecond && i == 1
			srcs = append(srcs, TensorSource{Name: name, Shape: []int{100}, DType: F32, Float32: func() ([]float32, error) {
				if fail {
					return nil, os.ErrDeadlineExceeded
				}
				x := make([]float32, 100)
				for j := range x {
					x[j] = v
				}
				return x, nil
			}})
		}
		return srcs
	}
	if err := WriteCheckpoint(dir, mk(1, false), WriteOptions{MaxShardBytes: 400}); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheckpoint(dir, mk(2, true), WriteOptions{MaxShardBytes: 400}); err == nil || !strings.Contains(err.Error(), `tensor "b"`) {
		t.Fatalf("failing producer: %v", err)
	}
	if ck, err := OpenCheckpoint(dir); err == nil {
		ck.Close()
		t.Fatal("half-rewritten checkpoint opened")
	}
}
