package data

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/longrecipe/longrecipe/internal/progress"
	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/shards"
)

// Method names a way of building training rows.
type Method string

// The methods Prepare knows.
const (
	// LongRecipe: selected sentences, Ls tokens, LongRecipe positions.
	LongRecipe Method = "longrecipe"
	// PoSE: two chunks of the document, Ls tokens, PoSE positions.
	PoSE Method = "pose"
	// RandPos: the first Ls (selected) tokens at sorted random positions.
	RandPos Method = "randpos"
	// Full: the first Lt tokens at positions 0..Lt−1 (full-length training).
	Full Method = "full"
	// Replay: prompt/response records concatenated, packed to Ls, plain
	// positions.
	Replay Method = "replay"
)

// ParseMethod checks a method name.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case LongRecipe, PoSE, RandPos, Full, Replay:
		return m, nil
	}
	return "", fmt.Errorf("unknown method %q (want longrecipe, pose, randpos, full or replay)", s)
}

// Config configures Prepare.
type Config struct {
	Method Method
	// TargetLength is Lt, the window positions span.
	TargetLength int
	// TrainLength is Ls, the real tokens per row (Full uses Lt instead).
	TrainLength int
	// Seed: document i's random generator is PCG(Seed, i), so the output
	// depends on the seed and the corpus only, not on Threads.
	Seed uint64
	// Threads is the number of workers (<= 0: all cores).
	Threads int
	// Selector chooses sentences (zero value: keep everything).
	Selector Selector
	// Tokenizer encodes text documents (with special tokens, i.e. BOS);
	// nil means every document must be pre-tokenized.
	Tokenizer Tokenizer
	// Corpus names the fields of JSONL/Parquet records.
	Corpus CorpusOptions
	// Replay configures the replay method, or replay rows mixed into
	// another method's rows (ReplayConfig.Input and Fraction set).
	Replay *ReplayConfig
	// Progress, when not nil, receives a progress bar.
	Progress io.Writer
}

// Sink receives rows in order (a *shards.Writer, or an exporter).
type Sink interface {
	Write(shards.Row) error
}

// Skip reasons counted in Counts.DocumentsSkipped.
const (
	SkipShort = "short"
	SkipEmpty = "empty"
)

// rowLength is the number of tokens of a row of the method.
func (c *Config) rowLength() int {
	if c.Method == Full {
		return c.TargetLength
	}
	return c.TrainLength
}

func (c *Config) check() error {
	if _, err := ParseMethod(string(c.Method)); err != nil {
		return err
	}
	if c.TargetLength <= 0 || c.TargetLength > positions.MaxLength {
		return fmt.Errorf("target length %d out of range [1, %d]", c.TargetLength, positions.MaxLength)
	}
	if c.Method != Full && (c.TrainLength <= 0 || c.TrainLength > c.TargetLength) {
		return fmt.Errorf("train length %d out of range [1, target length %d]", c.TrainLength, c.TargetLength)
	}
	if !(c.Selector.DropProb >= 0 && c.Selector.DropProb <= 1) {
		return fmt.Errorf("drop probability %v outside [0, 1]", c.Selector.DropProb)
	}
	if c.Selector.Ends == nil && (c.Method == LongRecipe || c.Selector.Active()) {
		return fmt.Errorf("method %s with selection needs sentence-end tokens (give a tokenizer)", c.Method)
	}
	if c.Method == Replay || (c.Replay != nil && c.Replay.Fraction > 0) {
		if c.Replay == nil {
			return fmt.Errorf("method replay needs a replay configuration")
		}
		if err := c.Replay.check(c.Method); err != nil {
			return err
		}
		if c.Tokenizer == nil {
			return fmt.Errorf("replay needs a tokenizer")
		}
		if _, ok := c.Tokenizer.EOS(); !ok {
			return fmt.Errorf("replay needs an end-of-sequence token and the tokenizer has none")
		}
	}
	return nil
}

// BuildRow makes the row of the method from one document's token ids,
// using rng for every random choice. It returns skip != "" (and no row)
// when the document is too short for the method. Exported so tests and
// tools can reproduce a single row of a prepared dataset.
func (c *Config) BuildRow(rng *rand.Rand, ids []int32) (row shards.Row, skip string, err error) {
	if len(ids) == 0 {
		return row, SkipEmpty, nil
	}
	lt, ls := c.TargetLength, c.TrainLength
	switch c.Method {
	case Full:
		kept, _ := c.Selector.Select(rng, ids, lt)
		if len(kept) < lt {
			return row, SkipShort, nil
		}
		row = shards.Row{InputIDs: kept, PositionIDs: positions.Full(lt)}
	case LongRecipe:
		kept, sents := c.Selector.Select(rng, ids, ls)
		if len(kept) < ls {
			return row, SkipShort, nil
		}
		pos, _, err := positions.LongRecipe(rng, sents, lt)
		if err != nil {
			return row, "", err
		}
		row = shards.Row{InputIDs: kept, PositionIDs: pos}
	case RandPos:
		kept, _ := c.Selector.Select(rng, ids, ls)
		if len(kept) < ls {
			return row, SkipShort, nil
		}
		pos, err := positions.RandPos(rng, ls, lt)
		if err != nil {
			return row, "", err
		}
		row = shards.Row{InputIDs: kept, PositionIDs: pos}
	case PoSE:
		kept, _ := c.Selector.Select(rng, ids, 0)
		if len(kept) < ls {
			return row, SkipShort, nil
		}
		s, err := positions.PoSE(rng, len(kept), ls, lt)
		if err != nil {
			return row, "", err
		}
		toks := make([]int32, 0, ls)
		toks = append(toks, kept[:s.Chunk1End]...)
		toks = append(toks, kept[s.Chunk2Start:s.Chunk2End]...)
		row = shards.Row{InputIDs: toks, PositionIDs: s.Positions}
	default:
		return row, "", fmt.Errorf("method %s does not build rows from single documents", c.Method)
	}
	// Belt and braces: a row that breaks the invariants is a bug, reported
	// as an error rather than written.
	if len(row.InputIDs) != len(row.PositionIDs) {
		return row, "", fmt.Errorf("internal error: %d tokens but %d positions", len(row.InputIDs), len(row.PositionIDs))
	}
	if err := positions.Check(row.PositionIDs, lt); err != nil {
		return row, "", fmt.Errorf("internal error: %w", err)
	}
	return row, "", nil
}

// DocRNG returns the random generator of document index i.
func DocRNG(seed uint64, i int64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(i)))
}

// batch is a run of consecutive documents handled by one worker.
type batch struct {
	seq   int64
	first int64 // index of docs[0] in the corpus
	docs  []Document
	// results
	rows      []shards.Row
	replay    []replayDoc
	skipped   map[string]int64
	srcTokens int64
	err       error
}

const (
	batchDocs  = 16
	batchBytes = 4 << 20
)

// Prepare reads the corpus at input, builds the rows of cfg.Method and
// writes them to sink in corpus order. Documents are decoded, tokenized and
// turned into rows by cfg.Threads workers; at most a few batches per worker
// are in flight, so memory stays bounded whatever the corpus size.
func Prepare(ctx context.Context, input string, cfg Config, sink Sink) (shards.Counts, error) {
	if err := cfg.check(); err != nil {
		return shards.Counts{}, err
	}
	opts := cfg.Corpus
	if cfg.Method == Replay {
		opts.KeepFields = cfg.Replay.fields()
	}
	corpus, err := OpenCorpus(input, opts)
	if err != nil {
		return shards.Counts{}, err
	}
	defer corpus.Close()
	return PrepareCorpus(ctx, corpus, cfg, sink)
}

// PrepareCorpus is Prepare on an opened corpus (which it does not close).
// Its steps: a reader batches documents in corpus order, workers turn
// batches into rows, and the collector writes the rows in corpus order
// (packing replay documents, mixing in replay rows) and counts them.
func PrepareCorpus(ctx context.Context, corpus Corpus, cfg Config, sink Sink) (shards.Counts, error) {
	if err := cfg.check(); err != nil {
		return shards.Counts{DocumentsSkipped: map[string]int64{}}, err
	}
	p, err := newPipeline(ctx, &cfg, sink)
	if err != nil {
		return p.counts, err
	}
	defer p.close()
	go p.read(corpus)
	p.startWorkers()
	if err := p.collect(); err != nil {
		return p.counts, err
	}
	c := p.finish()
	if c.Rows == 0 && c.ReplayRowsDropped > 0 {
		return c, fmt.Errorf("replay: all %d rows are prompt only under mask_prompt (prompts longer than the train length %d): nothing to train on", c.ReplayRowsDropped, cfg.TrainLength)
	}
	return c, nil
}

// pipeline is one PrepareCorpus run.
type pipeline struct {
	ctx    context.Context
	cancel context.CancelFunc
	cfg    *Config
	sink   Sink
	counts shards.Counts
	// mixer mixes replay rows into long rows; packer packs replay
	// documents into rows (the replay method).
	mixer  *replayMixer
	packer *replayPacker
	bar    *progress.Bar
	// inflight bounds the batches read but not yet written; jobs carries
	// batches to the workers, done back to the collector.
	threads  int
	inflight chan struct{}
	jobs     chan *batch
	done     chan *batch
	readErr  error // set by the reader before it closes jobs
	longRows int64
}

func newPipeline(ctx context.Context, cfg *Config, sink Sink) (*pipeline, error) {
	p := &pipeline{cfg: cfg, sink: sink, counts: shards.Counts{DocumentsSkipped: map[string]int64{}}, threads: cfg.Threads}
	if p.threads <= 0 {
		p.threads = runtime.GOMAXPROCS(0)
	}
	if cfg.Method != Replay && cfg.Replay != nil && cfg.Replay.Fraction > 0 {
		var err error
		if p.mixer, err = newReplayMixer(cfg); err != nil {
			return p, err
		}
	}
	if cfg.Method == Replay {
		p.packer = &replayPacker{ls: cfg.TrainLength, mask: cfg.Replay.MaskPrompt}
	}
	if cfg.Progress != nil {
		p.bar = progress.New(cfg.Progress, "prepare "+string(cfg.Method), 0, "docs")
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.inflight = make(chan struct{}, 2*p.threads+2)
	p.jobs = make(chan *batch, p.threads)
	p.done = make(chan *batch, 2*p.threads+2)
	return p, nil
}

// close stops the goroutines and releases the replay mixer.
func (p *pipeline) close() {
	if p.cancel != nil {
		p.cancel()
	}
	if p.bar != nil {
		p.bar.Finish()
	}
	if p.mixer != nil {
		p.mixer.close()
	}
}

// read batches documents in corpus order and sends them to the workers.
func (p *pipeline) read(corpus Corpus) {
	defer close(p.jobs)
	var seq, index int64
	for eof := false; !eof; {
		b := &batch{seq: seq, first: index}
		size := 0
		for len(b.docs) < batchDocs && size < batchBytes {
			d, err := corpus.Next()
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				p.readErr = err
				p.cancel()
				return
			}
			size += len(d.raw) + len(d.Text) + 4*len(d.IDs)
			b.docs = append(b.docs, d)
		}
		if len(b.docs) == 0 {
			return
		}
		select {
		case p.inflight <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		select {
		case p.jobs <- b:
		case <-p.ctx.Done():
			return
		}
		seq++
		index += int64(len(b.docs))
	}
}

// startWorkers starts the workers; done is closed when they all end.
func (p *pipeline) startWorkers() {
	var wg sync.WaitGroup
	for range p.threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range p.jobs {
				p.cfg.work(b)
				select {
				case p.done <- b:
				case <-p.ctx.Done():
				}
			}
		}()
	}
	go func() { wg.Wait(); close(p.done) }()
}

// collect writes the finished batches in corpus order; it returns the
// first error (of a worker, the sink, the reader or the context).
func (p *pipeline) collect() error {
	pending := map[int64]*batch{}
	var next int64
	var firstErr error
	for b := range p.done {
		if firstErr != nil {
			continue
		}
		pending[b.seq] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-p.inflight
			if firstErr = p.writeBatch(b); firstErr != nil {
				p.cancel()
				break
			}
		}
	}
	if firstErr == nil && p.readErr != nil {
		firstErr = p.readErr
	}
	if firstErr == nil && p.ctx.Err() != nil {
		firstErr = p.ctx.Err()
	}
	return firstErr
}

// writeBatch counts a batch and writes its rows: replay documents packed
// into rows, or long rows each followed by the replay rows mixed in after
// it.
func (p *pipeline) writeBatch(b *batch) error {
	if b.err != nil {
		return b.err
	}
	c := &p.counts
	c.DocumentsRead += int64(len(b.docs))
	c.SourceTokens += b.srcTokens
	for k, v := range b.skipped {
		c.DocumentsSkipped[k] += v
	}
	for _, rd := range b.replay {
		for _, r := range p.packer.add(rd) {
			if err := p.write(r); err != nil {
				return err
			}
		}
	}
	for _, r := range b.rows {
		if err := p.write(r); err != nil {
			return err
		}
		if err := p.mixAfter(); err != nil {
			return err
		}
	}
	if p.bar != nil {
		p.bar.Add(int64(len(b.docs)))
		p.bar.SetExtra(fmt.Sprintf("%d rows", c.Rows))
	}
	return nil
}

// mixAfter writes the replay rows due after one more long row.
func (p *pipeline) mixAfter() error {
	p.longRows++
	if p.mixer == nil {
		return nil
	}
	rows, err := p.mixer.rowsAfter(p.longRows)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := p.write(r); err != nil {
			return err
		}
		p.counts.ReplayRows++
	}
	return nil
}

func (p *pipeline) write(r shards.Row) error {
	if err := p.sink.Write(r); err != nil {
		return err
	}
	p.counts.Rows++
	p.counts.Tokens += int64(len(r.InputIDs))
	return nil
}

// finish completes the counts with what the packers left over.
func (p *pipeline) finish() shards.Counts {
	c := p.counts
	if p.packer != nil {
		c.ReplayRows = c.Rows
		c.ReplayTokensDropped = int64(p.packer.leftover())
		c.ReplayRowsDropped = p.packer.dropped
	}
	if p.mixer != nil {
		c.ReplayExhausted = p.mixer.exhausted
		c.ReplayTokensDropped = int64(p.mixer.packer.leftover())
		c.ReplayRowsDropped = p.mixer.packer.dropped
		for _, r := range p.mixer.queue {
			c.ReplayTokensDropped += int64(len(r.InputIDs))
		}
	}
	if len(c.DocumentsSkipped) == 0 {
		c.DocumentsSkipped = nil
	}
	return c
}

// work turns a batch of documents into rows (or replay documents).
func (c *Config) work(b *batch) {
	b.skipped = map[string]int64{}
	for i := range b.docs {
		d := &b.docs[i]
		if err := d.Decode(); err != nil {
			b.err = err
			return
		}
		if c.Method == Replay {
			rd, err := c.Replay.tokenize(c.Tokenizer, d)
			if err != nil {
				b.err = err
				return
			}
			b.srcTokens += int64(len(rd.prompt) + len(rd.response))
			b.replay = append(b.replay, rd)
			continue
		}
		ids := d.IDs
		if ids == nil && d.Text != "" {
			if c.Tokenizer == nil {
				b.err = fmt.Errorf("%s: text document but no tokenizer given (the corpus is not pre-tokenized)", d.Source)
				return
			}
			ids = c.Tokenizer.Encode(d.Text, true)
		}
		if c.Tokenizer != nil {
			vs := c.Tokenizer.VocabSize()
			for _, t := range ids {
				if int(t) >= vs {
					b.err = fmt.Errorf("%s: token id %d outside the tokenizer's vocabulary (%d ids)", d.Source, t, vs)
					return
				}
			}
		}
		b.srcTokens += int64(len(ids))
		row, skip, err := c.BuildRow(DocRNG(c.Seed, b.first+int64(i)), ids)
		if err != nil {
			b.err = fmt.Errorf("%s: %w", d.Source, err)
			return
		}
		if skip != "" {
			b.skipped[skip]++
			continue
		}
		b.rows = append(b.rows, row)
	}
	for i := range b.docs {
		b.docs[i] = Document{} // free the text early; only the count is kept
	}
}
