package tokenizer

import (
	"encoding/json"
	"testing"
)

// TestJSONScanStrings compares the scanner's string decoding with
// encoding/json's on escapes, surrogate pairs and lone surrogates.
func TestJSONScanStrings(t *testing.T) {
	for _, in := range []string{`"plain"`, `""`, `"a\"b\\c\/d"`, `"\b\f\n\r\t"`, `"\u0120\u010a"`, `"\ud83e\udd99 llama"`,
		`"\ud83e x"`, `"\udd99"`, `"\ud83e\u0041"`, `"Ġ Ġ"`, `"é\u00e9"`} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		s := &jscan{b: []byte(in), what: "test"}
		got, err := s.str()
		if err != nil || got != want {
			t.Errorf("str(%s) = %q, %v; encoding/json gives %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"abc`, `"\x"`, `"\u12"`, "\"a\nb\"", `abc`, `"\`} {
		s := &jscan{b: []byte(bad), what: "test"}
		if _, err := s.str(); err == nil {
			t.Errorf("str(%q) accepted", bad)
		}
	}
}

func TestJSONScanVocabMerges(t *testing.T) {
	v, err := parseVocab([]byte(` { "a" : 0, "\u0062": 1 , "ab":2, "a": 3 } `), "v")
	if err != nil || len(v) != 3 || v["a"] != 3 || v["b"] != 1 {
		t.Errorf("parseVocab = %v, %v", v, err)
	}
	for _, bad := range []string{`{"a": 1.5}`, `{"a": 99999999999}`, `{"a" 1}`, `{"a": 1,}`, `[]`, `{"a": "1"}`} {
		if _, err := parseVocab([]byte(bad), "v"); err == nil {
			t.Errorf("parseVocab(%s) accepted", bad)
		}
	}
	m, err := parseMerges([]byte(`[["a","b"], ["a b","c"]]`), "m")
	if err != nil || len(m) != 2 || m[1] != [2]string{"a b", "c"} {
		t.Errorf("parseMerges pairs = %v, %v", m, err)
	}
	for _, bad := range []string{`["a b", ["a","b"]]`, `["ab"]`, `["a b c"]`, `[["a"]]`, `[["a","b","c"]]`, `["a b"`} {
		if _, err := parseMerges([]byte(bad), "m"); err == nil {
			t.Errorf("parseMerges(%s) accepted", bad)
		}
	}
}

// FuzzParse: Parse never panics, whatever the bytes.
func FuzzParse(f *testing.F) {
	min, err := json.Marshal(minimalJSON())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(min)
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`))
	f.Add([]byte(`{"model": {"vocab": {"a": 0}, "merges": [["a", "a"]]}, "added_tokens": [{"id": 1, "content": "x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Parse(data, "fuzz.json")
		if err != nil {
			return
		}
		ids := tk.Encode("Hello, wörld! 123 \n\t<|eos|>", true)
		_ = tk.Decode(ids, false)
	})
}
