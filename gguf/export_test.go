package gguf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// readAll parses a GGUF file and returns its header and each tensor's bytes.
func readAll(t *testing.T, path string) (*Header, map[string][]byte) {
	t.Helper()
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := map[string][]byte{}
	for _, ti := range m.Tensors {
		b := make([]byte, ti.Size)
		if err := m.ReadAt(ti, b, 0); err != nil {
			t.Fatal(err)
		}
		out[ti.Name] = b
	}
	return m.Header, out
}

// TestImportExportRoundTrip: a GGUF imported to an f32 folder and exported
// to the type it was written in gives back every tensor's bytes (query and
// key rows permuted back), the llama3 rope_freqs tensor, and the
// tokenizer and hyper-parameter metadata.
func TestImportExportRoundTrip(t *testing.T) {
	f := llama3Factors(5e5, 4, 8, 1, 4, 8192)
	for _, typ := range []GGMLType{F32, F16, BF16} {
		dir := t.TempDir()
		src := tinyModel("llama", "qwen2", func(g *builder) {
			g.tensor("rope_freqs.weight", F32, []int64{2}, f32Bytes([]float32{float32(f[0]), float32(f[1])}))
		})
		if typ != F32 {
			src = requantized(t, src, typ)
		}
		in := writeFile(t, dir, "in.gguf", src)
		folder := filepath.Join(dir, "hf")
		if _, err := Import(context.Background(), in, folder, ImportOptions{DType: hf.F32}); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out.gguf")
		res, err := Export(folder, out, ExportOptions{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(out)
		if res.Tensors != 12 || st.Size() != res.Bytes {
			t.Errorf("%s: %+v, file of %d bytes", typ, res, st.Size())
		}
		h0, want := readAll(t, in)
		h1, got := readAll(t, out)
		if len(got) != len(want) {
			t.Errorf("%s: %d tensors, want %d", typ, len(got), len(want))
		}
		for name, w := range want {
			if !bytes.Equal(got[name], w) {
				t.Errorf("%s: tensor %s differs", typ, name)
			}
		}
		for _, key := range []string{"llama.context_length", "llama.embedding_length", "llama.attention.head_count_kv",
			"llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model",
			"tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
			"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.chat_template"} {
			a, _ := h0.Get(key)
			b, ok := h1.Get(key)
			if !ok || !sameValue(a, b) {
				t.Errorf("%s: metadata %s = %v, want %v", typ, key, b, a)
			}
		}
	}
}

// requantized rewrites a tinyModel file with every matrix in typ.
func requantized(t *testing.T, src []byte, typ GGMLType) []byte {
	h, err := parseBytes(src)
	if err != nil {
		t.Fatal(err)
	}
	g := newBuilder()
	for _, kv := range h.KVs {
		g.raw(kv)
	}
	for _, ti := range h.Tensors {
		data := src[ti.Offset : ti.Offset+ti.Size]
		tt := F32
		if len(ti.Dims) == 2 {
			tt = typ
			vals := make([]float32, ti.Elements())
			Dequantize(vals, data, F32)
			data = make([]byte, len(vals)/typ.BlockSize()*typ.TypeSize())
			Quantize(data, vals, typ)
		}
		g.tensor(ti.Name, tt, ti.Dims, data)
	}
	return g.bytes()
}

// raw appends a metadata pair as the writer encodes it.
func (g *builder) raw(kv KV) {
	g.key(kv.Key, kv.Value.Type)
	e := &encoder{w: bufio.NewWriter(&g.kv)}
	e.value(kv.Value)
	e.w.Flush()
}

func sameValue(a, b Value) bool {
	if a.Type != b.Type || a.Elem != b.Elem {
		return false
	}
	return a.bits == b.bits && a.f == b.f && a.s == b.s && slices.Equal(a.ints, b.ints) &&
		slices.Equal(a.floats, b.floats) && slices.Equal(a.strs, b.strs)
}

// tinyFolder imports tinyModel into an f32 folder and lets edit change
// its config.json.
func tinyFolder(t *testing.T, edit func(cfg map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	in := writeFile(t, dir, "in.gguf", tinyModel("llama", "qwen2", nil))
	folder := filepath.Join(dir, "hf")
	if _, err := Import(context.Background(), in, folder, ImportOptions{DType: hf.F32}); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		p := filepath.Join(folder, "config.json")
		var cfg map[string]any
		data, _ := os.ReadFile(p)
		json.Unmarshal(data, &cfg)
		edit(cfg)
		data, _ = json.Marshal(cfg)
		os.WriteFile(p, data, 0o644)
	}
	return folder
}

// TestExportRefuses: what GGUF cannot express, and a disk too small, are
// errors before anything is written; nothing is left in the output folder.
func TestExportRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(cfg map[string]any)
		free int64
		want string
	}{
		{"dynamic", func(c map[string]any) { c["rope_scaling"] = map[string]any{"rope_type": "dynamic", "factor": 2.0} }, 1 << 40, "dynamic"},
		{"yarn betas", func(c map[string]any) {
			c["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16, "beta_fast": 16}
		}, 1 << 40, "beta_fast 16"},
		{"sliding window", func(c map[string]any) { c["model_type"] = "mistral"; c["sliding_window"] = 32 }, 1 << 40, "sliding_window 32"},
		{"disk", nil, 1000, "only 1000 are free"},
	} {
		folder := tinyFolder(t, tc.edit)
		outDir := t.TempDir()
		_, err := Export(folder, filepath.Join(outDir, "m.gguf"), ExportOptions{Type: F16,
			FreeBytes: func(string) (int64, error) { return tc.free, nil }})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line with %q", tc.name, err, tc.want)
		}
		if left, _ := os.ReadDir(outDir); len(left) != 0 {
			t.Errorf("%s: left %v behind", tc.name, left)
		}
	}
}

// TestExportWriteFailureLeavesNothing: a tensor that cannot be read
// (a truncated safetensors file) aborts the write and removes the
// temporary file.
func TestExportWriteFailureLeavesNothing(t *testing.T) {
	folder := tinyFolder(t, nil)
	outDir := t.TempDir()
	_, err := Export(folder, filepath.Join(outDir, "m.gguf"), ExportOptions{Type: F32, FreeBytes: func(string) (int64, error) {
		return 0, errors.New("statfs failed")
	}})
	if err == nil || !strings.Contains(err.Error(), "statfs failed") {
		t.Errorf("error %v", err)
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Errorf("left %v behind", left)
	}
}

// TestExportSettings: context length, rope scaling keys and sliding
// window as llama.cpp reads them; Q4_K puts the tied embedding in Q6_K and
// falls back to Q8_0/F16 where rows do not fill the blocks.
func TestExportSettings(t *testing.T) {
	folder := tinyFolder(t, func(c map[string]any) {
		c["model_type"], c["sliding_window"], c["max_position_embeddings"] = "mistral", 4096, 4096
		c["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}
	})
	out := filepath.Join(t.TempDir(), "m.gguf")
	if _, err := Export(folder, out, ExportOptions{Type: Q4_K}); err != nil {
		t.Fatal(err)
	}
	h, _ := readAll(t, out)
	for key, want := range map[string]string{
		"general.architecture": `"llama"`, "llama.context_length": "4096", "llama.rope.scaling.type": `"yarn"`,
		"llama.rope.scaling.factor": "4", "llama.rope.scaling.original_context_length": "1024",
		"llama.attention.sliding_window": "4096", "general.file_type": "14", "general.quantization_version": "2",
	} {
		if v, ok := h.Get(key); !ok || v.String() != want {
			t.Errorf("%s = %v, want %s", key, v, want)
		}
	}
	types := map[string]GGMLType{}
	for _, ti := range h.Tensors {
		types[ti.Name] = ti.Type
	}
	// rows of 8 values: neither 256 (K) nor 32 (Q8_0) divides them.
	if types["token_embd.weight"] != F16 || types["blk.0.ffn_up.weight"] != F16 || types["output_norm.weight"] != F32 {
		t.Errorf("types %v", types)
	}
	for _, tc := range []struct {
		name  string
		shape []int
		want  GGMLType
	}{
		{"output.weight", []int{10, 512}, Q6_K}, {"token_embd.weight", []int{10, 512}, Q4_K},
		{"blk.0.ffn_up.weight", []int{10, 96}, Q8_0}, {"blk.0.attn_norm.weight", []int{512}, F32},
	} {
		if got := tensorType(tc.name, tc.shape, Q4_K, false); got != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.name, tc.shape, got, tc.want)
		}
	}
	if got := tensorType("token_embd.weight", []int{10, 512}, Q4_K, true); got != Q6_K {
		t.Errorf("tied token_embd: %s, want Q6_K", got)
	}
}

// TestRowPermutation: export's row order is the inverse of the one import
// undoes (and differs from it once a head has more than four rows).
func TestRowPermutation(t *testing.T) {
	for _, headRows := range []int64{4, 8, 64} {
		involution := true
		for g := range 3 * headRows {
			if srcRow(hfRow(g, headRows), headRows) != g {
				t.Fatalf("head of %d rows: srcRow(hfRow(%d)) != %d", headRows, g, g)
			}
			involution = involution && hfRow(g, headRows) == srcRow(g, headRows)
		}
		if involution != (headRows == 4) {
			t.Errorf("head of %d rows: hfRow == srcRow is %v", headRows, involution)
		}
	}
	// llama.cpp's converter: GGUF row 2i+j of a head holds HF row j·half+i.
	if got := []int64{hfRow(0, 8), hfRow(1, 8), hfRow(2, 8), hfRow(3, 8)}; !slices.Equal(got, []int64{0, 4, 1, 5}) {
		t.Errorf("first GGUF rows hold HF rows %v, want [0 4 1 5]", got)
	}
}

// TestExportSentencePiece: a byte-fallback BPE over "▁"-joined pieces is
// written as llama.cpp's "llama" vocabulary (byte tokens typed BYTE, the
// unknown token UNKNOWN, scores that rank the merges), and importing the
// file gives a tokenizer that splits text the same way.
func TestExportSentencePiece(t *testing.T) {
	folder := tinyFolder(t, nil)
	vocab := map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2}
	for b := range 250 {
		vocab[fmt.Sprintf("<0x%02X>", b)] = 3 + b
	}
	for i, tok := range []string{"▁", "a", "▁a", "b", "ab", "▁ab"} {
		vocab[tok] = 253 + i
	}
	tok := map[string]any{
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]string{"String": " "}, "content": "▁"}}},
		"pre_tokenizer": nil,
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{"a b", "▁ a", "▁a b"},
			"byte_fallback": true, "unk_token": "<unk>", "fuse_unk": true},
		"added_tokens": []any{map[string]any{"id": 1, "content": "<s>", "special": true},
			map[string]any{"id": 2, "content": "</s>", "special": true}},
	}
	data, _ := json.Marshal(tok)
	os.WriteFile(filepath.Join(folder, "tokenizer.json"), data, 0o644)
	os.WriteFile(filepath.Join(folder, "tokenizer_config.json"), []byte(`{"add_bos_token": true, "bos_token": "<s>"}`), 0o644)
	out := filepath.Join(t.TempDir(), "sp.gguf")
	if _, err := Export(folder, out, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	h, _ := readAll(t, out)
	get := func(k string) Value { v, _ := h.Get(k); return v }
	types, _ := get("tokenizer.ggml.token_type").Ints()
	scores, _ := get("tokenizer.ggml.scores").Floats()
	if s, _ := get("tokenizer.ggml.model").Str(); s != "llama" {
		t.Errorf("model %q", s)
	}
	if types[0] != tokenUnknown || types[1] != tokenControl || types[3] != 6 || types[253] != 1 {
		t.Errorf("types %v", types[:5])
	}
	if scores[257] != 0 || scores[255] != -1 || scores[258] != -2 || scores[254] != 0 {
		t.Errorf("scores of ab, ▁a, ▁ab, a: %v %v %v %v", scores[257], scores[255], scores[258], scores[254])
	}
	if b, _ := get("tokenizer.ggml.add_bos_token").Bool(); !b {
		t.Error("add_bos_token false")
	}
	back := filepath.Join(t.TempDir(), "hf")
	if _, err := Import(context.Background(), out, back, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err1 := tokenizer.Load(filepath.Join(folder, "tokenizer.json"))
	b, err2 := tokenizer.Load(filepath.Join(back, "tokenizer.json"))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for _, text := range []string{"ab a", "b ab\x01", "aab"} {
		if x, y := a.Encode(text, false), b.Encode(text, false); !slices.Equal(x, y) {
			t.Errorf("%q: %v before export, %v after", text, x, y)
		}
	}
}
