package tokenizer

import "testing"

// BenchmarkParse measures parsing the Qwen3 tokenizer.json (11 MB).
func BenchmarkParse(b *testing.B) {
	data := readMaybeGzip(b, tokenizerFiles["qwen3"])
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse(data, "qwen3"); err != nil {
			b.Fatal(err)
		}
	}
}
