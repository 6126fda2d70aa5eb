package gguf

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// tinyModel returns a 1-layer llama GGUF (hidden 8, 2 heads, 1 KV head,
// F32 weights whose values are their element index) with a byte-level
// vocabulary pre-tokenized as pre; edit lets a test change the metadata or tensors.
func tinyModel(arch, pre string, edit func(g *builder)) []byte {
	return tinyModelTensors(arch, pre, edit, nil, nil)
}

// tinyModelTensors is tinyModel with the uint32 metadata keys in setU32
// replaced and each tensor's GGUF dims passed through dims (nil:
// unchanged; a nil result leaves the tensor out).
func tinyModelTensors(arch, pre string, edit func(g *builder), setU32 map[string]uint32, dims func(name string, d []int64) []int64) []byte {
	tokens := []string{"<|endoftext|>", "<|im_start|>"}
	for b := range 256 {
		tokens = append(tokens, string(byteLevelAlphabet[b]))
	}
	tokens = append(tokens, "ĠĠ")
	types := make([]int32, len(tokens))
	for i := range types {
		types[i] = 1
	}
	types[0], types[1] = tokenControl, tokenControl
	g0 := newBuilder()
	g0.setU32 = setU32
	g := g0.str("general.architecture", arch).u32(arch+".block_count", 1).
		u32(arch+".context_length", 64).u32(arch+".embedding_length", 8).
		u32(arch+".feed_forward_length", 16).u32(arch+".attention.head_count", 2).
		u32(arch+".attention.head_count_kv", 1).f32(arch+".rope.freq_base", 5e5).
		f32(arch+".attention.layer_norm_rms_epsilon", 1e-5).
		str("tokenizer.ggml.model", "gpt2").str("tokenizer.ggml.pre", pre).
		strs("tokenizer.ggml.tokens", tokens).i32s("tokenizer.ggml.token_type", types).
		strs("tokenizer.ggml.merges", []string{"Ġ Ġ"}).u32("tokenizer.ggml.bos_token_id", 1).
		u32("tokenizer.ggml.eos_token_id", 0).str("tokenizer.chat_template", "{{ x }}")
	if edit != nil {
		edit(g)
	}
	iota := func(n int) []byte {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i)
		}
		return f32Bytes(v)
	}
	shapes := []struct {
		name string
		dims []int64
	}{
		{"token_embd.weight", []int64{8, int64(len(tokens))}}, {"output_norm.weight", []int64{8}},
		{"blk.0.attn_norm.weight", []int64{8}}, {"blk.0.ffn_norm.weight", []int64{8}},
		{"blk.0.attn_q.weight", []int64{8, 8}}, {"blk.0.attn_k.weight", []int64{8, 4}},
		{"blk.0.attn_v.weight", []int64{8, 4}}, {"blk.0.attn_output.weight", []int64{8, 8}},
		{"blk.0.ffn_gate.weight", []int64{8, 16}}, {"blk.0.ffn_up.weight", []int64{8, 16}},
		{"blk.0.ffn_down.weight", []int64{16, 8}},
	}
	for _, s := range shapes {
		if dims != nil {
			if s.dims = dims(s.name, s.dims); s.dims == nil {
				continue
			}
		}
		n := 1
		for _, d := range s.dims {
			n *= int(d)
		}
		g.tensor(s.name, F32, s.dims, iota(n))
	}
	return g.bytes()
}

func TestImportTiny(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "tiny.gguf", tinyModel("llama", "qwen2", nil))
	out := filepath.Join(dir, "hf")
	res, err := Import(context.Background(), in, out, ImportOptions{DType: hf.F32})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tensors != 11 || res.Arch != "llama" {
		t.Errorf("result %+v", res)
	}
	cfg, ck, err := hf.ReadModelDir(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if cfg.NumKeyValueHeads != 1 || cfg.RopeTheta != 5e5 || cfg.RMSNormEps != 1e-5 || !cfg.TieWordEmbeddings || cfg.BOSTokenID != 1 || cfg.VocabSize != 259 {
		t.Errorf("config %+v", cfg)
	}
	// Query rows: head h's GGUF rows interleave the two rotary halves;
	// HF row j·half+i is GGUF row 2i+j (rows of 8 values, head of 4 rows).
	q, err := ck.Float32("model.layers.0.self_attn.q_proj.weight")
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []int{0, 2, 1, 3, 4, 6, 5, 7}
	for r, src := range wantRows {
		if q[r*8] != float32(src*8) {
			t.Errorf("q_proj row %d starts with %v, want GGUF row %d", r, q[r*8], src)
		}
	}
	v, _ := ck.Float32("model.layers.0.self_attn.v_proj.weight")
	if v[8] != 8 {
		t.Errorf("v_proj is permuted: row 1 starts with %v", v[8])
	}
	tok, err := tokenizer.Load(filepath.Join(out, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode("a  <|im_start|> b", false)
	want := []int32{2 + 'a', 258, 1, 2 + ' ', 2 + 'b'}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	tc, _ := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	if !strings.Contains(string(tc), `"chat_template": "{{ x }}"`) {
		t.Errorf("tokenizer_config.json: %s", tc)
	}
	if _, err := Import(context.Background(), in, out, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("overwrite without force: %v", err)
	}
	if _, err := Import(context.Background(), in, out, ImportOptions{Force: true}); err != nil {
		t.Errorf("overwrite with force: %v", err)
	}
}

// TestImportRefuses: an unsupported architecture, type, tensor or
// tokenizer is one error naming it, and nothing is left behind.
func TestImportRefuses(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"arch", tinyModel("gemma", "qwen2", nil), `unsupported architecture "gemma"`},
		{"type", tinyModel("llama", "qwen2", func(g *builder) {
			g.tensor("blk.0.extra.weight", 10, []int64{256}, make([]byte, 84))
		}), `tensor "blk.0.extra.weight" is not part of a llama model`},
		{"quant", tinyModel("llama", "qwen2", func(g *builder) {
			g.tensor("output.weight", 10, []int64{256, 259}, make([]byte, 84*259))
		}), `tensor "output.weight": ggml type Q2_K is not supported`},
		{"tokenizer", tinyModel("llama", "tekken", nil), `pre-tokenizer "tekken"`},
		{"duplicate", tinyModel("llama", "qwen2", func(g *builder) { g.str("llama.attention.head_count", "x") }), "appears twice"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		in := writeFile(t, dir, "m.gguf", c.data)
		_, err := Import(context.Background(), in, filepath.Join(dir, "out"), ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "m.gguf") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming m.gguf and %q", c.name, err, c.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%s: left %d entries in the folder", c.name, len(entries))
		}
	}
}

func TestDequantizeErrors(t *testing.T) {
	if err := Dequantize(make([]float32, 32), make([]byte, 10), Q8_0); err == nil {
		t.Error("short Q8_0 data accepted")
	}
	if err := Dequantize(make([]float32, 256), make([]byte, 84), 10); err == nil || !strings.Contains(err.Error(), "Q2_K is not supported") {
		t.Errorf("Q2_K: %v", err)
	}
}

// TestDequantizeKnownBlocks checks each format on a hand-made block whose
// values follow from ggml's formulas (the full bit-identity check against
// gguf-py is scaleout/tests/test_gguf_import.py).
func TestDequantizeKnownBlocks(t *testing.T) {
	one, half := []byte{0x00, 0x3c}, []byte{0x00, 0x38} // f16 1.0 and 0.5
	nib := make([]byte, 16)
	for i := range nib {
		nib[i] = byte(i) | byte(15-i)<<4
	}
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	cases := []struct {
		typ  GGMLType
		blk  []byte
		want map[int]float32 // index → value
	}{
		{Q4_0, cat(half, nib), map[int]float32{0: -4, 3: -2.5, 16: 3.5, 31: -4}},
		{Q4_1, cat(half, one, nib), map[int]float32{0: 1, 5: 3.5, 16: 8.5}},
		{Q5_0, cat(one, []byte{1, 0, 1, 0}, nib), map[int]float32{0: 0, 1: -15, 16: 15, 17: -2}},
		{Q5_1, cat(one, half, []byte{0, 0, 0, 0x80}, nib), map[int]float32{0: 0.5, 31: 16.5}},
		{Q8_0, cat(half, []byte{0xff, 2}, make([]byte, 30)), map[int]float32{0: -0.5, 1: 1}},
	}
	for _, c := range cases {
		got := make([]float32, 32)
		if err := Dequantize(got, c.blk, c.typ); err != nil {
			t.Fatal(err)
		}
		for i, w := range c.want {
			if got[i] != w {
				t.Errorf("%s[%d] = %v, want %v", c.typ, i, got[i], w)
			}
		}
	}
	// Q6_K: every quant 33 (q−32 = 1), scale 2, d = 0.5 → 1.
	q6 := make([]byte, 210)
	for i := range 128 {
		q6[i] = 0x11
	}
	for i := 192; i < 208; i++ {
		q6[i] = 2
	}
	for i := 128; i < 192; i++ {
		q6[i] = 0b10101010
	}
	copy(q6[208:], half)
	got := make([]float32, 256)
	Dequantize(got, q6, Q6_K)
	if got[0] != 1 || got[255] != 1 {
		t.Errorf("Q6_K: %v %v, want 1 (q = 1 | 2<<4 = 33)", got[0], got[255])
	}
	// Q4_K: scale 1 and min 1 for group 0 (d = 1, dmin = 0.5) → q − 0.5.
	q4 := make([]byte, 144)
	copy(q4, one)
	copy(q4[2:], half)
	q4[4], q4[8] = 1, 1
	q4[16] = 0x37
	Dequantize(got, q4, Q4_K)
	if got[0] != 6.5 || got[1] != -0.5 {
		t.Errorf("Q4_K: %v %v, want 6.5 -0.5", got[0], got[1])
	}
}

// TestImportLlama3Rope: a rope_freqs tensor holding llama3 factors becomes
// rope_scaling; other factors are refused naming the tensor.
func TestImportLlama3Rope(t *testing.T) {
	f := llama3Factors(5e5, 4, 8, 1, 4, 8192)
	if f[0] != 1 || !(f[1] > 1 && f[1] < 8) {
		t.Fatalf("factors %v: want one unscaled and one smoothed frequency", f)
	}
	for _, c := range []struct {
		factors []float32
		want    string
	}{
		{[]float32{float32(f[0]), float32(f[1])}, ""},
		{[]float32{2, 3}, "not llama3 scaling"}, // the fast frequency must be unscaled
	} {
		dir := t.TempDir()
		in := writeFile(t, dir, "m.gguf", tinyModel("llama", "qwen2", func(g *builder) {
			g.tensor("rope_freqs.weight", F32, []int64{2}, f32Bytes(c.factors))
		}))
		res, err := Import(context.Background(), in, filepath.Join(dir, "out"), ImportOptions{})
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "rope_freqs.weight") {
				t.Errorf("factors %v: error %v", c.factors, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := hf.LoadConfig(filepath.Join(dir, "out", "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		r := cfg.RopeScaling
		if r == nil || r.Type != "llama3" || r.Factor != 8 || r.LowFreqFactor != 1 || r.HighFreqFactor != 4 || r.OriginalMaxPositionEmbeddings != 8192 || res.Tensors != 11 {
			t.Errorf("rope_scaling %+v, %d tensors", r, res.Tensors)
		}
	}
}
