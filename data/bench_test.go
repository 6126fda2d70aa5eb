package data

import (
	"compress/gzip"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// synthCorpus yields n pre-tokenized documents cycled from a small pool,
// so generating them costs nothing during the benchmark.
type synthCorpus struct {
	pool [][]int32
	n, i int
}

func (c *synthCorpus) Next() (Document, error) {
	if c.i >= c.n {
		return Document{}, io.EOF
	}
	d := Document{Source: "synth", IDs: c.pool[c.i%len(c.pool)]}
	c.i++
	return d, nil
}

func (c *synthCorpus) Close() error { return nil }

// Synthetic vocabulary: 32000 ids; ids < 10 are "digits", ids 10..19 end
// sentences. Sentences average ~25 tokens, one in ~8 holds a digit.
const synthVocab = 32000

func synthPool(docs, docLen int) [][]int32 {
	rng := rand.New(rand.NewPCG(42, 42))
	pool := make([][]int32, docs)
	for d := range pool {
		ids := make([]int32, docLen)
		for j := range ids {
			switch r := rng.IntN(200); {
			case r < 8:
				ids[j] = 10 + int32(r)
			case r == 8:
				ids[j] = int32(rng.IntN(10))
			default:
				ids[j] = 20 + rng.Int32N(synthVocab-20)
			}
		}
		pool[d] = ids
	}
	return pool
}

func synthConfig(m Method, drop float64) Config {
	ends := make([]int32, 10)
	digits := make([]int32, 10)
	for i := range 10 {
		digits[i], ends[i] = int32(i), int32(10+i)
	}
	e, _ := NewTokenSet(ends)
	d, _ := NewTokenSet(digits)
	return Config{Method: m, TargetLength: 80 * 1024, TrainLength: 24 * 1024, Seed: 1,
		Selector: Selector{Ends: e, Impactful: d, DropProb: drop}}
}

// BenchmarkPrepare measures the pre-tokenized pipeline (selection,
// positions, native shard writing, all cores) on 80k/24k settings. "full"
// with no selection is the reference run: the same rows copied to shards
// at positions 0..n-1, so the ratio of the other runs to it is the cost of
// selection and position sampling. in-tok/s counts corpus tokens,
// out-tok/s row tokens written.
func BenchmarkPrepare(b *testing.B) {
	const docs, docLen = 48, 40 * 1024
	pool := synthPool(8, docLen)
	for _, tc := range []struct {
		name string
		m    Method
		drop float64
	}{
		{"reference-copy", Full, 0},
		{"longrecipe", LongRecipe, 0.5},
		{"pose", PoSE, 0},
		{"randpos", RandPos, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := synthConfig(tc.m, tc.drop)
			if tc.m == Full {
				cfg.TargetLength = 24 * 1024 // same row length as the others
			}
			var in, out int64
			cpu0 := cpuSeconds()
			for b.Loop() {
				w, err := shards.Create(b.TempDir(), shards.WriterOptions{})
				if err != nil {
					b.Fatal(err)
				}
				c, err := PrepareCorpus(context.Background(), &synthCorpus{pool: pool, n: docs}, cfg, w)
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Close(shards.Manifest{Counts: c}); err != nil {
					b.Fatal(err)
				}
				in += c.SourceTokens
				out += c.Tokens
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(in)/s, "in-tok/s")
			b.ReportMetric(float64(out)/s, "out-tok/s")
			b.ReportMetric(float64(out)/(cpuSeconds()-cpu0), "out-tok/cpu-s")
		})
	}
}

// loadSynthTokenizer loads the small BPE fixture.
func loadSynthTokenizer(tb testing.TB) *tokenizer.Tokenizer {
	tb.Helper()
	f, err := os.Open("testdata/synth-a-tokenizer.json.gz")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := tokenizer.Parse(raw, "synth-a")
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// textCorpus yields text documents from a pool.
type textCorpus struct {
	pool []string
	n, i int
}

func (c *textCorpus) Next() (Document, error) {
	if c.i >= c.n {
		return Document{}, io.EOF
	}
	d := Document{Source: "text", Text: c.pool[c.i%len(c.pool)]}
	c.i++
	return d, nil
}

func (c *textCorpus) Close() error { return nil }

// BenchmarkPrepareText measures the pipeline including tokenization (the
// synth-a BPE) next to the reference: the tokenizer alone encoding the same
// documents on all cores (EncodeBatch).
func BenchmarkPrepareText(b *testing.B) {
	tok := loadSynthTokenizer(b)
	rng := rand.New(rand.NewPCG(7, 7))
	pool := make([]string, 8)
	for i := range pool {
		pool[i] = randomText(rng, 60000)
	}
	const docs = 32
	texts := make([]string, docs)
	for i := range texts {
		texts[i] = pool[i%len(pool)]
	}
	b.Run("reference-tokenize", func(b *testing.B) {
		var n int64
		cpu0 := cpuSeconds()
		for b.Loop() {
			for _, ids := range tok.EncodeBatch(texts, true) {
				n += int64(len(ids))
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "in-tok/s")
		b.ReportMetric(float64(n)/(cpuSeconds()-cpu0), "in-tok/cpu-s")
	})
	b.Run("prepare-longrecipe", func(b *testing.B) {
		cfg := Config{Method: LongRecipe, TargetLength: 32 * 1024, TrainLength: 8 * 1024, Seed: 1, Tokenizer: tok,
			Selector: Selector{Ends: SentenceEnds(tok), Impactful: DigitTokens(tok), DropProb: 0.5}}
		var n int64
		cpu0 := cpuSeconds()
		for b.Loop() {
			w, err := shards.Create(b.TempDir(), shards.WriterOptions{})
			if err != nil {
				b.Fatal(err)
			}
			c, err := PrepareCorpus(context.Background(), &textCorpus{pool: pool, n: docs}, cfg, w)
			if err != nil {
				b.Fatal(err)
			}
			w.Close(shards.Manifest{Counts: c})
			n += c.SourceTokens
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "in-tok/s")
		b.ReportMetric(float64(n)/(cpuSeconds()-cpu0), "in-tok/cpu-s")
	})
}

// peakHeap runs f while sampling the heap and returns the largest
// HeapInuse seen above the starting level.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > base && m.HeapInuse-base > peak.Load() {
				peak.Store(m.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// TestPeakMemoryFlat: preparing a 4× larger corpus (streamed from a JSONL
// file, written to shards) must not need more memory than the 1× corpus,
// beyond noise: memory is bounded by the batches in flight, not the corpus.
func TestPeakMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement skipped in -short mode")
	}
	dir := t.TempDir()
	pool := synthPool(4, 6000)
	writeIDs := func(path string, n int) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := []byte{}
		for i := range n {
			buf = shards.AppendJSONRow(buf[:0], shards.Row{InputIDs: pool[i%len(pool)], PositionIDs: pool[i%len(pool)]}, false)
			f.Write(append(buf, '\n'))
		}
	}
	small, large := dir+"/small.jsonl", dir+"/large.jsonl"
	writeIDs(small, 150)
	writeIDs(large, 600)
	cfg := synthConfig(LongRecipe, 0.5)
	cfg.TargetLength, cfg.TrainLength, cfg.Threads = 8192, 2048, 2
	run := func(in string) (uint64, shards.Counts) {
		var c shards.Counts
		p := peakHeap(func() {
			w, err := shards.Create(t.TempDir(), shards.WriterOptions{MaxShardBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			c, err = Prepare(context.Background(), in, cfg, w)
			if err != nil {
				t.Fatal(err)
			}
			w.Close(shards.Manifest{Counts: c})
		})
		return p, c
	}
	p1, c1 := run(small)
	p4, c4 := run(large)
	t.Logf("peak heap above baseline: 1× corpus (%d tokens) %.1f MiB, 4× corpus (%d tokens) %.1f MiB",
		c1.SourceTokens, float64(p1)/(1<<20), c4.SourceTokens, float64(p4)/(1<<20))
	if c4.SourceTokens != 4*c1.SourceTokens {
		t.Fatalf("corpus sizes %d and %d are not 1:4", c1.SourceTokens, c4.SourceTokens)
	}
	if float64(p4) > 1.5*float64(p1)+4<<20 {
		t.Fatalf("peak heap grows with the corpus: %d vs %d bytes", p4, p1)
	}
}
