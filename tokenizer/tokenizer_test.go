package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSplit pins the pre-tokenizer matchers on hand-worked cases (the
// fixtures compare whole encodings with HF; these show the pieces).
func TestSplit(t *testing.T) {
	cases := []struct {
		pattern, in string
		want        []string
	}{
		{PatternLlama3, "Hello world", []string{"Hello", " world"}},
		{PatternLlama3, "a  \n  b\r\n\r\n c  ", []string{"a", "  \n", " ", " b", "\r\n\r\n", " c", "  "}},
		{PatternLlama3, "12345", []string{"123", "45"}},
		{PatternQwen2, "12345", []string{"1", "2", "3", "4", "5"}},
		{PatternLlama3, "IT'S they'Re", []string{"IT", "'S", " they", "'Re"}},
		{PatternLlama3, "x!!!\n\ny", []string{"x", "!!!\n\n", "y"}},
		{PatternLlama3, "   grabbed", []string{"  ", " grabbed"}},
		{PatternLlama3, "\tword", []string{"\tword"}},
		{PatternLlama3, "a\u3000\u3000b", []string{"a", "\u3000", "\u3000b"}},
		{PatternLlama3, " \u00a0 x", []string{" \u00a0", " x"}},
		{PatternLlama3, "it'ſ", []string{"it", "'ſ"}},
		{PatternLlama3, "x ", []string{"x", " "}},
		{PatternLlama3, "\xff\xfeab", []string{"\xff\xfe", "ab"}},
		{PatternGPT2, "Hello world", []string{"Hello", " world"}},
		{PatternGPT2, "IT'S it's", []string{"IT", "'", "S", " it", "'s"}},
		{PatternGPT2, "  x", []string{" ", " x"}},
		{PatternGPT2, "a\n\nb", []string{"a", "\n", "\n", "b"}},
		{PatternGPT2, "1234 56", []string{"1234", " 56"}},
		{PatternGPT2, " !? x", []string{" !?", " x"}},
		{PatternGPT2, "x  ", []string{"x", "  "}},
	}
	for _, c := range cases {
		m, ok := matcherFor(c.pattern)
		if !ok {
			t.Fatalf("pattern not recognised: %q", c.pattern)
		}
		var got []string
		splitIsolated(c.in, m, func(p string) { got = append(got, p) })
		if !slices.Equal(got, c.want) {
			t.Errorf("%.12q… on %q: got %q, want %q", c.pattern, c.in, got, c.want)
		}
	}
}

// TestLossyUTF8 checks Rust's String::from_utf8_lossy replacement rule.
func TestLossyUTF8(t *testing.T) {
	cases := []struct{ in, want string }{
		{"abc", "abc"},
		{"\xe2\x82", "\uFFFD"},                 // truncated 3-byte sequence: one
		{"\xff\xff", "\uFFFD\uFFFD"},           // two bad bytes: two
		{"\xf0\x9f\x98x", "\uFFFDx"},           // truncated 4-byte: one
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // surrogate: ED is a bad lead for A0
		{"a\xc3", "a\uFFFD"},
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"}, // overlong
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
	}
	for _, c := range cases {
		if got := lossyUTF8([]byte(c.in)); got != c.want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// minimalJSON returns a small valid byte-level tokenizer.json as a map, for
// tests to break one part of.
func minimalJSON() map[string]any {
	vocab := map[string]any{}
	for b := 0; b < 256; b++ {
		vocab[byteString[b]] = b
	}
	vocab["ab"] = 256
	bl := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}
	return map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens": []any{map[string]any{"id": 257, "content": "<|eos|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}},
		"normalizer":   nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": PatternGPT2}, "behavior": "Isolated", "invert": false}, bl}},
		"post_processor": nil,
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": []any{"a b"}},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseMinimal(t *testing.T) {
	tk, err := Parse(mustJSON(t, minimalJSON()), "min")
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("abab c<|eos|>", false); !slices.Equal(got, []int32{256, 256, 32, 99, 257}) {
		t.Errorf("Encode = %v", got)
	}
	if eos, ok := tk.EOS(); !ok || eos != 257 {
		t.Errorf("EOS = %d %v", eos, ok)
	}
	if _, ok := tk.BOS(); ok {
		t.Errorf("BOS found in a file without one")
	}
}

// TestParseErrors: every unsupported component or malformed part is an
// error naming it.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name   string
		modify func(m map[string]any)
		want   string
	}{
		{"model type", func(m map[string]any) { m["model"].(map[string]any)["type"] = "WordPiece" }, `unsupported model type "WordPiece"`},
		{"normalizer", func(m map[string]any) { m["normalizer"] = map[string]any{"type": "NFKC"} }, "normalizer NFKC: unsupported normalizer type"},
		{"regex", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\w+`}, "behavior": "Isolated", "invert": false}
		}, `unsupported regex "\\w+"`},
		{"split behavior", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": PatternGPT2}, "behavior": "Removed", "invert": false}
		}, `unsupported behavior "Removed"`},
		{"pre-tokenizer", func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Whitespace"} }, "pre_tokenizer Whitespace: unsupported pre-tokenizer type"},
		{"decoder", func(m map[string]any) { m["decoder"] = map[string]any{"type": "Metaspace"} }, "decoder Metaspace: unsupported decoder type"},
		{"post", func(m map[string]any) { m["post_processor"] = map[string]any{"type": "RobertaProcessing"} }, "post_processor RobertaProcessing"},
		{"unknown option", func(m map[string]any) { m["decoder"].(map[string]any)["prefix_space"] = true }, `decoder ByteLevel: unsupported field "prefix_space"`},
		{"truncation", func(m map[string]any) { m["truncation"] = map[string]any{"max_length": 5} }, "truncation: unsupported"},
		{"merge vocab", func(m map[string]any) { m["model"].(map[string]any)["merges"] = []any{"a c"} }, `merge 0 ("a", "c"): token not in the vocab`},
		{"merge format", func(m map[string]any) { m["model"].(map[string]any)["merges"] = []any{"a b c"} }, "want two tokens"},
		{"merge mix", func(m map[string]any) { m["model"].(map[string]any)["merges"] = []any{"a b", []any{"a", "b"}} }, "mix"},
		{"dropout", func(m map[string]any) { m["model"].(map[string]any)["dropout"] = 0.1 }, "dropout"},
		{"no unk", func(m map[string]any) { m["pre_tokenizer"] = nil }, "needs unk_token or byte_fallback"},
		{"added clash", func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"id": 256, "content": "xy", "special": true}}
		}, `id 256 is "xy" but the vocab has "ab"`},
	}
	for _, c := range cases {
		m := minimalJSON()
		c.modify(m)
		_, err := Parse(mustJSON(t, m), "bad.json")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("%s: error %v, want it to name bad.json and contain %q", c.name, err, c.want)
		}
	}
	if _, err := Parse([]byte("{"), "x.json"); err == nil {
		t.Error("truncated JSON accepted")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestAPI(t *testing.T) {
	type special struct {
		bos, eos int32
		hasBOS   bool
	}
	cases := []struct {
		name string
		sp   special
	}{
		{"mistral", special{1, 2, true}},
		{"qwen3", special{-1, 151643, false}},
		{"llama3", special{128000, 128001, true}},
		{"synth-a", special{3256, 3257, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk := loadNamed(t, c.name)
			bos, ok := tk.BOS()
			if ok != c.sp.hasBOS || (ok && bos != c.sp.bos) {
				t.Errorf("BOS = %d %v, want %d %v", bos, ok, c.sp.bos, c.sp.hasBOS)
			}
			if eos, ok := tk.EOS(); !ok || eos != c.sp.eos {
				t.Errorf("EOS = %d %v, want %d", eos, ok, c.sp.eos)
			}
			if !tk.IsSpecial(c.sp.eos) {
				t.Errorf("EOS %d not special", c.sp.eos)
			}
			data := readMaybeGzip(t, tokenizerFiles[c.name])
			sum := sha256.Sum256(data)
			if tk.Hash() != hex.EncodeToString(sum[:]) {
				t.Errorf("Hash %s", tk.Hash())
			}
			for id := int32(0); id < int32(tk.VocabSize()); id += 97 {
				tok, ok := tk.Token(id)
				if !ok {
					continue
				}
				if back, ok := tk.ID(tok); !ok || back != id {
					t.Errorf("ID(Token(%d)=%q) = %d %v", id, tok, back, ok)
				}
				if !tk.IsSpecial(id) {
					// A token's text decodes like the token alone (modulo
					// Mistral's Strip of a leading space and partial UTF-8).
					txt := tk.TokenText(id)
					dec := tk.Decode([]int32{id}, false)
					if utf8.Valid(txt) && strings.TrimPrefix(string(txt), " ") != strings.TrimPrefix(dec, " ") {
						t.Errorf("TokenText(%d) = %q, Decode = %q", id, txt, dec)
					}
				}
			}
			if _, ok := tk.Token(int32(tk.VocabSize())); ok {
				t.Error("Token beyond VocabSize found")
			}
			if _, ok := tk.Token(-1); ok {
				t.Error("Token(-1) found")
			}
		})
	}
	mis := loadNamed(t, "mistral")
	qw := loadNamed(t, "qwen3")
	for _, c := range []struct {
		tk   *Tokenizer
		tok  string
		want string
	}{
		{mis, "▁the", " the"}, {mis, "<0x0A>", "\n"}, {mis, "<0xE2>", "\xe2"}, {mis, "</s>", "</s>"},
		{qw, "Ġthe", " the"}, {qw, "Ċ", "\n"}, {qw, "Ã", "\xc3"}, {qw, "<|im_start|>", "<|im_start|>"},
	} {
		id, ok := c.tk.ID(c.tok)
		if !ok {
			t.Fatalf("ID(%q) missing", c.tok)
		}
		if got := string(c.tk.TokenText(id)); got != c.want {
			t.Errorf("TokenText(%q) = %q, want %q", c.tok, got, c.want)
		}
	}
	if id, _ := qw.ID("<think>"); qw.IsSpecial(id) {
		t.Error("<think> is not special in Qwen3")
	}
	if qw.TokenText(-5) != nil || qw.Decode([]int32{-5, 99999999}, false) != "" {
		t.Error("unknown ids should decode to nothing")
	}
}

// TestEncodeBatch: EncodeBatch equals Encode row by row, in order.
func TestEncodeBatch(t *testing.T) {
	tk := loadNamed(t, "qwen3")
	f := loadFixtures(t, "qwen3")
	var texts []string
	for _, c := range f.Cases {
		texts = append(texts, c.Text)
	}
	got := tk.EncodeBatch(texts, true)
	for i, c := range f.Cases {
		if !slices.Equal(got[i], c.IDsSpecial) {
			t.Fatalf("row %d differs", i)
		}
	}
	if len(tk.EncodeBatch(nil, false)) != 0 {
		t.Error("empty batch")
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	data := mustJSON(t, minimalJSON())
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Name() != path || tk.VocabSize() != 258 {
		t.Errorf("Name %q VocabSize %d", tk.Name(), tk.VocabSize())
	}
}

// TestTemplateInSequence: Meta's Llama 3.x layout, post_processor
// Sequence[ByteLevel, TemplateProcessing(BOS)]; the template's first special
// token is the BOS.
func TestTemplateInSequence(t *testing.T) {
	m := minimalJSON()
	m["added_tokens"] = append(m["added_tokens"].([]any), map[string]any{"id": 258, "content": "<|begin_of_text|>", "special": true})
	m["post_processor"] = map[string]any{"type": "Sequence", "processors": []any{
		map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<|begin_of_text|>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair":           []any{},
			"special_tokens": map[string]any{"<|begin_of_text|>": map[string]any{"id": "<|begin_of_text|>", "ids": []any{258}, "tokens": []any{"<|begin_of_text|>"}}}},
	}}
	tk, err := Parse(mustJSON(t, m), "meta-layout")
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("ab", true); !slices.Equal(got, []int32{258, 256}) {
		t.Errorf("Encode with special = %v", got)
	}
	if got := tk.Encode("", true); !slices.Equal(got, []int32{258}) {
		t.Errorf("Encode empty with special = %v", got)
	}
	if bos, ok := tk.BOS(); !ok || bos != 258 {
		t.Errorf("BOS = %d %v", bos, ok)
	}
	if got := tk.Decode([]int32{258, 256}, true); got != "ab" {
		t.Errorf("Decode skip special = %q", got)
	}
}

func TestParseSparseIDs(t *testing.T) {
	m := minimalJSON()
	m["model"].(map[string]any)["vocab"].(map[string]any)["ab"] = 2147483647
	if _, err := Parse(mustJSON(t, m), "sparse"); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("huge vocab id: %v", err)
	}
	m = minimalJSON()
	m["added_tokens"] = []any{map[string]any{"id": 2147483647, "content": "<x>"}}
	if _, err := Parse(mustJSON(t, m), "sparse"); err == nil {
		t.Error("huge added id accepted")
	}
}

// TestByteLevelMissingByte: a byte-level vocabulary without a byte's token
// (SmolLM2 lacks 21) drops that byte before merging, or maps it to
// unk_token (runs fused with fuse_unk), as HF's BPE does.
func TestByteLevelMissingByte(t *testing.T) {
	cases := []struct {
		name    string
		unk     any
		fuseUnk bool
		text    string
		want    []int32
	}{
		// Expected ids from HF tokenizers on the same tokenizer.json.
		{"dropped", nil, false, "zazbzz", []int32{256}},
		{"only missing", nil, false, "zz", nil},
		{"dropped, no merge", nil, false, "zzazz", []int32{'a'}},
		{"unk", "ab", false, "zazbzz", []int32{256, 'a', 256, 'b', 256, 256}},
		{"unk fused", "ab", true, "zazbzz", []int32{256, 'a', 256, 'b', 256}},
		{"unk fused, merge", "ab", true, "zzab", []int32{256, 256}},
	}
	for _, c := range cases {
		m := minimalJSON()
		model := m["model"].(map[string]any)
		delete(model["vocab"].(map[string]any), "z")
		model["unk_token"], model["fuse_unk"] = c.unk, c.fuseUnk
		tk, err := Parse(mustJSON(t, m), c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := tk.Encode(c.text, false); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q) = %v, want %v", c.name, c.text, got, c.want)
		}
	}
}
