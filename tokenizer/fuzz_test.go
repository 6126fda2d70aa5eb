package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzEncode encodes arbitrary bytes with the byte-level Qwen3 and the
// SentencePiece-style Mistral tokenizers: no panic, ids in range, special
// tokens only added around the text, and decode(encode(x)) == x for valid
// UTF-8 (Qwen: modulo NFC; Mistral: without added tokens or "▁" in x).
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", " ", "Hello world", "it's IT'S", "a  \n\tb\r\n", "12345.678", "👨‍👩‍👧 e\u0301",
		"<|im_start|>x<|im_end|>", "</s><s>", "\xff\xfe", "\u3000\u00a0x", "▁x", "<0x0A>"} {
		f.Add(s)
	}
	qw := loadNamed(f, "qwen3")
	mis := loadNamed(f, "mistral")
	f.Fuzz(func(t *testing.T, s string) {
		for _, tk := range []*Tokenizer{qw, mis} {
			ids := tk.Encode(s, false)
			for _, id := range ids {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("%s: id %d out of range for %q", tk.Name(), id, s)
				}
			}
			withSpecial := tk.Encode(s, true)
			want := append(append(append([]int32(nil), tk.post.prefix...), ids...), tk.post.suffix...)
			if !slices.Equal(withSpecial, want) {
				t.Fatalf("%s: Encode(%q, true) = %v, want %v", tk.Name(), s, withSpecial, want)
			}
			if b := tk.EncodeBatch([]string{s, s}, false); !slices.Equal(b[0], ids) || !slices.Equal(b[1], ids) {
				t.Fatalf("%s: EncodeBatch differs for %q", tk.Name(), s)
			}
			_ = tk.Decode(ids, true)
		}
		if !utf8.ValidString(s) {
			return
		}
		if got, want := qw.Decode(qw.Encode(s, false), false), norm.NFC.String(s); got != want {
			t.Fatalf("qwen3 round trip %q -> %q", want, got)
		}
		if !strings.Contains(s, "<s>") && !strings.Contains(s, "</s>") && !strings.Contains(s, "<unk>") && !strings.Contains(s, "▁") {
			if got := mis.Decode(mis.Encode(s, false), false); got != s {
				t.Fatalf("mistral round trip %q -> %q", s, got)
			}
		}
	})
}
