package tokenizer

import (
	"testing"

	"github.com/longrecipe/longrecipe/assets"
)

// sotuDocs returns the State of the Union addresses embedded in package
// assets (public domain, 1790-2021, 10.7 MB), one document each.
func sotuDocs(t testing.TB) []string {
	t.Helper()
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = d.Text
	}
	return texts
}

// BenchmarkEncode measures encoding throughput (MB/s of UTF-8 input) on the
// SOTU corpus, one document at a time (seq) and with EncodeBatch (batch).
// The side-by-side comparison with HF tokenizers is scripts/tokenizer/bench.sh.
func BenchmarkEncode(b *testing.B) {
	docs := sotuDocs(b)
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	for _, name := range []string{"llama3", "qwen3", "mistral"} {
		b.Run(name+"/seq", func(b *testing.B) {
			tk := loadNamed(b, name)
			b.SetBytes(int64(total))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, d := range docs {
					tk.Encode(d, false)
				}
			}
		})
		b.Run(name+"/batch", func(b *testing.B) {
			tk := loadNamed(b, name)
			b.SetBytes(int64(total))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tk.EncodeBatch(docs, false)
			}
		})
	}
}
