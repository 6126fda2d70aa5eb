package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// builder writes GGUF files for tests.
type builder struct {
	kv      bytes.Buffer
	nKV     int
	infos   bytes.Buffer
	nT      int
	data    bytes.Buffer
	align   int
	version uint32
	// setU32 replaces the value of a uint32 key when it is written.
	setU32 map[string]uint32
}

func newBuilder() *builder { return &builder{align: 32, version: 3} }

func putStr(b *bytes.Buffer, s string) {
	binary.Write(b, binary.LittleEndian, uint64(len(s)))
	b.WriteString(s)
}

func (g *builder) key(k string, t ValueType) {
	putStr(&g.kv, k)
	binary.Write(&g.kv, binary.LittleEndian, uint32(t))
	g.nKV++
}

func (g *builder) u32(k string, v uint32) *builder {
	if o, ok := g.setU32[k]; ok {
		v = o
	}
	g.key(k, TypeUint32)
	binary.Write(&g.kv, binary.LittleEndian, v)
	return g
}

func (g *builder) f32(k string, v float32) *builder {
	g.key(k, TypeFloat32)
	binary.Write(&g.kv, binary.LittleEndian, v)
	return g
}

func (g *builder) str(k, v string) *builder {
	g.key(k, TypeString)
	putStr(&g.kv, v)
	return g
}

func (g *builder) strs(k string, v []string) *builder {
	g.key(k, TypeArray)
	binary.Write(&g.kv, binary.LittleEndian, uint32(TypeString))
	binary.Write(&g.kv, binary.LittleEndian, uint64(len(v)))
	for _, s := range v {
		putStr(&g.kv, s)
	}
	return g
}

func (g *builder) i32s(k string, v []int32) *builder {
	g.key(k, TypeArray)
	binary.Write(&g.kv, binary.LittleEndian, uint32(TypeInt32))
	binary.Write(&g.kv, binary.LittleEndian, uint64(len(v)))
	binary.Write(&g.kv, binary.LittleEndian, v)
	return g
}

// tensor appends a tensor with raw data (padded to the alignment).
func (g *builder) tensor(name string, typ GGMLType, dims []int64, raw []byte) *builder {
	putStr(&g.infos, name)
	binary.Write(&g.infos, binary.LittleEndian, uint32(len(dims)))
	for _, d := range dims {
		binary.Write(&g.infos, binary.LittleEndian, uint64(d))
	}
	binary.Write(&g.infos, binary.LittleEndian, uint32(typ))
	binary.Write(&g.infos, binary.LittleEndian, uint64(g.data.Len()))
	g.data.Write(raw)
	for g.data.Len()%g.align != 0 {
		g.data.WriteByte(0)
	}
	g.nT++
	return g
}

func (g *builder) bytes() []byte {
	var b bytes.Buffer
	b.WriteString(Magic)
	binary.Write(&b, binary.LittleEndian, g.version)
	binary.Write(&b, binary.LittleEndian, uint64(g.nT))
	binary.Write(&b, binary.LittleEndian, uint64(g.nKV))
	b.Write(g.kv.Bytes())
	b.Write(g.infos.Bytes())
	for b.Len()%g.align != 0 {
		b.WriteByte(0)
	}
	b.Write(g.data.Bytes())
	return b.Bytes()
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func parseBytes(data []byte) (*Header, error) {
	return Parse(bytes.NewReader(data), int64(len(data)), "t.gguf")
}

func TestParseRoundTrip(t *testing.T) {
	g := newBuilder().str("general.architecture", "llama").u32("llama.block_count", 2).
		f32("llama.rope.freq_base", 1e4).strs("tokenizer.ggml.tokens", []string{"a", "b"}).
		i32s("tokenizer.ggml.token_type", []int32{1, 3})
	g.tensor("x", F32, []int64{4, 2}, f32Bytes([]float32{1, 2, 3, 4, 5, 6, 7, 8}))
	g.tensor("y", F32, []int64{2}, f32Bytes([]float32{9, 10}))
	h, err := parseBytes(g.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := h.Get("general.architecture"); v.s != "llama" {
		t.Errorf("architecture %v", v)
	}
	if v, _ := h.Get("llama.block_count"); v.bits != 2 {
		t.Errorf("block_count %v", v)
	}
	if v, _ := h.Get("tokenizer.ggml.tokens"); len(v.strs) != 2 || v.strs[1] != "b" {
		t.Errorf("tokens %v", v)
	}
	if v, _ := h.Get("tokenizer.ggml.token_type"); len(v.ints) != 2 || v.ints[1] != 3 {
		t.Errorf("token_type %v", v)
	}
	if len(h.Tensors) != 2 || h.Tensors[0].Size != 32 || h.Tensors[1].Offset != h.DataOffset+32 {
		t.Fatalf("tensors %+v (data at %d)", h.Tensors, h.DataOffset)
	}
	if s := h.Tensors[0].Shape(); s[0] != 2 || s[1] != 4 {
		t.Errorf("shape %v, want [2 4]", s)
	}
}

// TestParseHostile: lying or truncated headers are errors naming the file
// and what is wrong, never a panic or a huge allocation.
func TestParseHostile(t *testing.T) {
	valid := func() *builder {
		g := newBuilder().str("general.architecture", "llama")
		return g.tensor("x", F32, []int64{4}, f32Bytes([]float32{1, 2, 3, 4}))
	}
	le64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	cases := []struct {
		name string
		data func() []byte
		want string
	}{
		{"empty", func() []byte { return nil }, "magic"},
		{"magic", func() []byte { return []byte("GGML\x03\x00\x00\x00") }, "not a GGUF file"},
		{"version", func() []byte { g := valid(); g.version = 7; return g.bytes() }, "unsupported GGUF version 7"},
		{"big-endian", func() []byte { g := valid(); g.version = 3 << 24; return g.bytes() }, "big-endian"},
		{"truncated", func() []byte { b := valid().bytes(); return b[:40] }, "only 24 bytes are left"},
		{"truncated string", func() []byte { return newBuilder().str("k", strings.Repeat("x", 100)).bytes()[:60] }, "string length 100 runs past the end"},
		{"tensor count", func() []byte {
			b := valid().bytes()
			copy(b[8:], le64(1<<40))
			return b
		}, "tensor count"},
		{"kv count", func() []byte {
			b := valid().bytes()
			copy(b[16:], le64(1<<20))
			return b
		}, "metadata count"},
		{"string length", func() []byte {
			b := valid().bytes()
			copy(b[24:], le64(math.MaxUint64))
			return b
		}, "string length"},
		{"array length", func() []byte {
			g := newBuilder()
			g.key("a", TypeArray)
			binary.Write(&g.kv, binary.LittleEndian, uint32(TypeUint64))
			binary.Write(&g.kv, binary.LittleEndian, uint64(1<<23))
			return g.bytes()
		}, "array length"},
		{"array type", func() []byte {
			g := newBuilder()
			g.key("a", TypeArray)
			binary.Write(&g.kv, binary.LittleEndian, uint32(99))
			binary.Write(&g.kv, binary.LittleEndian, uint64(1))
			return g.bytes()
		}, "unknown value type 99"},
		{"value type", func() []byte { g := newBuilder(); g.key("a", 42); return g.bytes() }, "unknown value type 42"},
		{"nested", func() []byte {
			g := newBuilder()
			g.key("a", TypeArray)
			for range 6 {
				binary.Write(&g.kv, binary.LittleEndian, uint32(TypeArray))
				binary.Write(&g.kv, binary.LittleEndian, uint64(1))
			}
			return g.bytes()
		}, "nested"},
		{"bool", func() []byte { g := newBuilder(); g.key("b", TypeBool); g.kv.WriteByte(7); return g.bytes() }, "neither 0 nor 1"},
		{"duplicate key", func() []byte { return newBuilder().u32("k", 1).u32("k", 2).bytes() }, `"k" appears twice`},
		{"alignment", func() []byte { return newBuilder().u32("general.alignment", 24).bytes() }, "power of two"},
		{"past end", func() []byte {
			g := newBuilder().tensor("x", F32, []int64{4}, nil)
			return g.bytes()
		}, `tensor "x": F32 data of 16 bytes at offset 0 runs past the end`},
		{"dims", func() []byte { return newBuilder().tensor("x", F32, []int64{1, 1, 1, 1, 1}, nil).bytes() }, `tensor "x": 5 dimensions`},
		{"zero dim", func() []byte { return newBuilder().tensor("x", F32, []int64{0}, nil).bytes() }, `tensor "x": dimension 0 = 0`},
		{"overflow", func() []byte {
			return newBuilder().tensor("x", F32, []int64{1 << 30, 1 << 30, 1 << 30}, nil).bytes()
		}, "absurdly large"},
		{"type", func() []byte { return newBuilder().tensor("x", 77, []int64{4}, nil).bytes() }, `tensor "x": unknown ggml type 77`},
		{"block", func() []byte { return newBuilder().tensor("x", Q4_0, []int64{48}, make([]byte, 36)).bytes() }, "not a multiple of Q4_0's block size 32"},
		{"duplicate tensor", func() []byte {
			return newBuilder().tensor("x", F32, []int64{1}, make([]byte, 4)).tensor("x", F32, []int64{1}, make([]byte, 4)).bytes()
		}, `tensor "x" appears twice`},
		{"misaligned", func() []byte {
			g := newBuilder().tensor("x", F32, []int64{1}, make([]byte, 64))
			g.infos.Truncate(g.infos.Len() - 8)
			binary.Write(&g.infos, binary.LittleEndian, uint64(4))
			return g.bytes()
		}, "not a multiple of the alignment"},
		{"overlap", func() []byte {
			g := newBuilder()
			g.tensor("a", F32, []int64{16}, make([]byte, 64))
			g.data.Reset()
			g.tensor("b", F32, []int64{16}, make([]byte, 64))
			return g.bytes()
		}, "overlap"},
	}
	for _, c := range cases {
		_, err := parseBytes(c.data())
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "t.gguf") {
			t.Errorf("%s: error %v, want it to name t.gguf and contain %q", c.name, err, c.want)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	g := newBuilder().str("general.architecture", "llama").strs("tokenizer.ggml.tokens", []string{"a", "bc"}).
		i32s("t", []int32{1, 2}).f32("f", 0.5).u32("general.alignment", 64)
	g.align = 64
	g.tensor("x", Q8_0, []int64{32, 2}, make([]byte, 68)).tensor("y", F32, []int64{3}, make([]byte, 12))
	f.Add(g.bytes())
	f.Add(newBuilder().bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseBytes(data)
		if err != nil {
			return
		}
		for _, tn := range h.Tensors {
			if tn.Offset < h.DataOffset || tn.Offset+tn.Size > int64(len(data)) {
				t.Fatalf("tensor %q at [%d, %d) outside the %d-byte file", tn.Name, tn.Offset, tn.Offset+tn.Size, len(data))
			}
		}
	})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSplit: a model cut into parts opens as one; a missing or mislabelled
// part is an error naming it.
func TestSplit(t *testing.T) {
	part := func(no int, count int, tensors ...string) []byte {
		g := newBuilder()
		g.key("split.no", TypeUint16)
		binary.Write(&g.kv, binary.LittleEndian, uint16(no))
		g.key("split.count", TypeUint16)
		binary.Write(&g.kv, binary.LittleEndian, uint16(count))
		if no == 0 {
			g.key("split.tensors.count", TypeInt32)
			binary.Write(&g.kv, binary.LittleEndian, int32(3))
			g.str("general.architecture", "llama")
		}
		for i, n := range tensors {
			g.tensor(n, F32, []int64{1}, f32Bytes([]float32{float32(no*10 + i)}))
		}
		return g.bytes()
	}
	dir := t.TempDir()
	writeFile(t, dir, "m-00001-of-00002.gguf", part(0, 2, "a", "b"))
	p2 := writeFile(t, dir, "m-00002-of-00002.gguf", part(1, 2, "c"))
	m, err := Open(filepath.Join(dir, "m-00001-of-00002.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m.Tensor("c")
	if !ok || len(m.Tensors) != 3 || c.File != p2 {
		t.Fatalf("tensors %+v", m.Tensors)
	}
	var buf []byte
	v := make([]float32, 1)
	if err := m.Float32Rows(c, 0, 1, v, &buf); err != nil || v[0] != 10 {
		t.Errorf("c = %v (%v), want 10", v, err)
	}
	m.Close()

	bad := []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"wrong no", "m-00002-of-00002.gguf", part(0, 2, "c"), `"split.no" = 0, want 1`},
		{"dup tensor", "m-00002-of-00002.gguf", part(1, 2, "a"), `tensor "a" is also in`},
		{"count", "m-00002-of-00002.gguf", part(1, 2, "c", "d"), `"split.tensors.count" = 3`},
	}
	for _, b := range bad {
		writeFile(t, dir, b.file, b.data)
		_, err := Open(filepath.Join(dir, "m-00001-of-00002.gguf"))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error %v, want %q", b.name, err, b.want)
		}
	}
	os.Remove(p2)
	if _, err := Open(filepath.Join(dir, "m-00001-of-00002.gguf")); err == nil || !strings.Contains(err.Error(), "m-00002-of-00002.gguf") {
		t.Errorf("missing part: error %v", err)
	}
}
