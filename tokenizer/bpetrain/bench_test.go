package bpetrain

import (
	"context"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
)

// BenchmarkTrain compares Train with the naive recount-every-step trainer
// (the reference) on the same words: go test -bench Train -run X
// ./tokenizer/bpetrain; the ratio of the two ns/op is the speed-up.
func BenchmarkTrain(b *testing.B) {
	docs, err := assets.Corpus()
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	for _, d := range docs[:6] {
		texts = append(texts, d.Text)
	}
	words, err := CountWords(context.Background(), texts, nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	const vocab = 1000
	b.Run("incremental", func(b *testing.B) {
		for b.Loop() {
			if _, err := Train(context.Background(), words, Options{VocabSize: vocab}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("naive-reference", func(b *testing.B) {
		for b.Loop() {
			naiveTrain(words, vocab)
		}
	})
}

// BenchmarkCountWords measures pre-tokenization and counting of the whole
// embedded corpus (10.8 MB) with one worker and with all CPUs.
func BenchmarkCountWords(b *testing.B) {
	docs, err := assets.Corpus()
	if err != nil {
		b.Fatal(err)
	}
	texts := make([]string, len(docs))
	var n int64
	for i, d := range docs {
		texts[i] = d.Text
		n += int64(len(d.Text))
	}
	for _, w := range []struct {
		name    string
		workers int
	}{{"1-worker", 1}, {"all-cpus", 0}} {
		b.Run(w.name, func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				if _, err := CountWords(context.Background(), texts, nil, w.workers); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
