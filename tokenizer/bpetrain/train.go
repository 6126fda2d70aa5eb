package bpetrain

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/longrecipe/longrecipe/internal/progress"
)

// WordCounts maps each distinct pre-token (raw UTF-8 text) to the number
// of times it occurs.
type WordCounts map[string]int64

// Add merges the counts of other into w.
func (w WordCounts) Add(other WordCounts) {
	for k, v := range other {
		w[k] += v
	}
}

// CountWords pre-tokenizes texts with SplitPattern and counts the pieces.
// Occurrences of the special tokens in a text are cut out first, as the
// tokenizer will encode them as single added tokens. workers <= 0 means
// runtime.GOMAXPROCS(0). A text that is not valid UTF-8 is an error naming
// its index.
func CountWords(ctx context.Context, texts []string, specials []string, workers int) (WordCounts, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > len(texts) {
		workers = max(len(texts), 1)
	}
	parts := make([]WordCounts, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := WordCounts{}
			for i := w; i < len(texts); i += workers {
				if i%64 == w && ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				if !utf8.ValidString(texts[i]) {
					errs[w] = fmt.Errorf("bpetrain: text %d is not valid UTF-8", i)
					return
				}
				for _, seg := range splitSpecials(texts[i], specials) {
					PreTokenize(seg, func(p string) { m[p]++ })
				}
			}
			parts[w] = m
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	total := parts[0]
	for _, p := range parts[1:] {
		total.Add(p)
	}
	return total, nil
}

// splitSpecials returns the pieces of text between occurrences of any of
// the special strings.
func splitSpecials(text string, specials []string) []string {
	segs := []string{text}
	for _, sp := range specials {
		if !strings.Contains(text, sp) {
			continue
		}
		var next []string
		for _, s := range segs {
			next = append(next, strings.Split(s, sp)...)
		}
		segs = next
	}
	return segs
}

// MaxVocabSize is the largest vocabulary Train builds (1M tokens, eight
// times Llama 3's): the vocabulary and its index are allocated by the
// requested size before any merge, so an absurd size is refused first.
const MaxVocabSize = 1 << 20

// Options configure Train.
type Options struct {
	// VocabSize is the total number of tokens: the 256 byte tokens, one
	// token per merge, and the special tokens.
	VocabSize int
	// Specials are added tokens (e.g. "<|bos|>"), given the last ids in
	// this order.
	Specials []string
	// BOS, if not empty, is the special token that the tokenizer's
	// post-processor puts at the start of every encoded text. It must be
	// one of Specials.
	BOS string
	// Progress, if not nil, receives a progress bar of the merges.
	Progress io.Writer
}

// Model is a trained byte-level BPE tokenizer.
type Model struct {
	// Vocab[id] is the token's text in GPT-2's byte-level alphabet; ids
	// 0..255 are the single bytes (see ByteLevel), then one id per new
	// token, in the order the merges created them.
	Vocab []string
	// Merges in priority order: Merges[r] joins tokens Merges[r][0] and
	// Merges[r][1] into the token whose text is their concatenation.
	Merges [][2]int32
	// Specials get ids len(Vocab), len(Vocab)+1, ...
	Specials []string
	// BOS is the special token prepended on encoding ("" = none).
	BOS string
}

// Size is the total number of token ids, specials included.
func (m *Model) Size() int { return len(m.Vocab) + len(m.Specials) }

// SpecialID returns the id of a special token.
func (m *Model) SpecialID(s string) (int32, bool) {
	for i, sp := range m.Specials {
		if sp == s {
			return int32(len(m.Vocab) + i), true
		}
	}
	return 0, false
}

func (o *Options) check() error {
	seen := map[string]bool{}
	for _, s := range o.Specials {
		if s == "" || strings.TrimSpace(s) != s {
			return fmt.Errorf("bpetrain: special token %q is empty or has surrounding spaces", s)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("bpetrain: special token %q is not valid UTF-8", s)
		}
		if seen[s] {
			return fmt.Errorf("bpetrain: special token %q given twice", s)
		}
		seen[s] = true
	}
	if o.BOS != "" && !seen[o.BOS] {
		return fmt.Errorf("bpetrain: BOS token %q is not one of the special tokens %q", o.BOS, o.Specials)
	}
	if min := 256 + len(o.Specials); o.VocabSize < min {
		return fmt.Errorf("bpetrain: vocabulary size %d is below %d (256 bytes + %d special tokens)", o.VocabSize, min, len(o.Specials))
	}
	if o.VocabSize > MaxVocabSize {
		return fmt.Errorf("bpetrain: vocabulary size %d is above %d", o.VocabSize, MaxVocabSize)
	}
	return nil
}

// pair is two adjacent token ids packed as left<<32 | right.
type pair uint64

func mkPair(a, b int32) pair     { return pair(uint64(uint32(a))<<32 | uint64(uint32(b))) }
func (p pair) ids() (a, b int32) { return int32(uint32(p >> 32)), int32(uint32(p)) }

// entry is a heap element; count may be stale (higher than the current
// count), in which case it is refreshed when it reaches the top.
type entry struct {
	count int64
	p     pair
}

// before orders the heap: higher count first, then the smaller pair.
func (e entry) before(f entry) bool {
	if e.count != f.count {
		return e.count > f.count
	}
	return e.p < f.p
}

type pairHeap []entry

func (h *pairHeap) push(e entry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s[i].before(s[parent]) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *pairHeap) pop() entry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, best := 2*i+1, i
		if l < len(s) && s[l].before(s[best]) {
			best = l
		}
		if r := l + 1; r < len(s) && s[r].before(s[best]) {
			best = r
		}
		if best == i {
			break
		}
		s[i], s[best] = s[best], s[i]
		i = best
	}
	*h = s
	return top
}

// Train learns merges from word counts until the vocabulary reaches
// opts.VocabSize. It fails if the words run out of pairs to merge before
// that, naming the largest size the corpus allows.
func Train(ctx context.Context, words WordCounts, opts Options) (*Model, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	target := opts.VocabSize - len(opts.Specials)
	m := &Model{Specials: append([]string(nil), opts.Specials...), BOS: opts.BOS}
	m.Vocab = make([]string, 256, target)
	index := make(map[string]int32, target)
	for id := range 256 {
		m.Vocab[id] = string(byteRune[idByte[id]])
		index[m.Vocab[id]] = int32(id)
	}
	t := newTrainer(words)
	var bar *progress.Bar
	if opts.Progress != nil {
		bar = progress.New(opts.Progress, "bpe merges", int64(target-256), "tokens")
		defer bar.Finish()
	}
	for len(m.Vocab) < target {
		if len(m.Merges)%64 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		top, found := t.next()
		if !found {
			return nil, fmt.Errorf("bpetrain: the corpus has no more pairs to merge after %d tokens; vocabulary size %d is unreachable (at most %d with %d special tokens)",
				len(m.Vocab), opts.VocabSize, len(m.Vocab)+len(opts.Specials), len(opts.Specials))
		}
		a, b := top.p.ids()
		text := m.Vocab[a] + m.Vocab[b]
		id, dup := index[text]
		if !dup {
			id = int32(len(m.Vocab))
			m.Vocab = append(m.Vocab, text)
			index[text] = id
			if bar != nil {
				bar.Add(1)
			}
		}
		m.Merges = append(m.Merges, [2]int32{a, b})
		t.merge(top.p, id, int32(len(m.Merges)))
		if t.counts[top.p] != 0 {
			return nil, fmt.Errorf("bpetrain: internal error: pair %q+%q still counted %d after its merge", m.Vocab[a], m.Vocab[b], t.counts[top.p])
		}
	}
	return m, nil
}

// trainer holds Train's state between merges: every word as its
// current tokens, the pair counts, the index from each pair to the words
// that contain it and the max-heap of pair counts (with stale entries).
type trainer struct {
	syms   [][]int32
	freq   []int64
	counts map[pair]int64
	where  map[pair][]int32
	h      pairHeap
	stamp  []int32 // last merge that visited each word, +1
	delta  map[pair]int64
}

// newTrainer starts every word of more than one byte as its bytes and
// counts its pairs.
func newTrainer(words WordCounts) *trainer {
	// Words in a fixed order (sorted keys would cost more than it gives:
	// the result does not depend on the order, only ties on pair ids do).
	keys := make([]string, 0, len(words))
	for k, c := range words {
		if c > 0 && len(k) > 1 {
			keys = append(keys, k)
		}
	}
	t := &trainer{
		syms: make([][]int32, len(keys)), freq: make([]int64, len(keys)),
		counts: make(map[pair]int64), where: make(map[pair][]int32),
		stamp: make([]int32, len(keys)), delta: map[pair]int64{},
	}
	for w, k := range keys {
		s := make([]int32, len(k))
		for i := 0; i < len(k); i++ {
			s[i] = byteID[k[i]]
		}
		t.syms[w], t.freq[w] = s, words[k]
		for i := 0; i+1 < len(s); i++ {
			p := mkPair(s[i], s[i+1])
			t.counts[p] += t.freq[w]
			if l := t.where[p]; len(l) == 0 || l[len(l)-1] != int32(w) {
				t.where[p] = append(l, int32(w))
			}
		}
	}
	t.h = make(pairHeap, 0, len(t.counts))
	for p, c := range t.counts {
		t.h.push(entry{c, p})
	}
	return t
}

// next returns the most frequent pair, popping the heap until the top
// entry's count is current; false when no pair is left.
func (t *trainer) next() (entry, bool) {
	for len(t.h) > 0 {
		e := t.h.pop()
		c := t.counts[e.p]
		if c == e.count {
			return e, true
		}
		if c > 0 {
			t.h.push(entry{c, e.p})
		}
	}
	return entry{}, false
}

// merge replaces pair p by token id in every word that holds it (mark
// numbers the merge) and updates the pair counts, index and heap.
func (t *trainer) merge(p pair, id, mark int32) {
	a, b := p.ids()
	clear(t.delta)
	for _, w := range t.where[p] {
		if t.stamp[w] == mark {
			continue
		}
		t.stamp[w] = mark
		s, f := t.syms[w], t.freq[w]
		if !contains(s, a, b) {
			continue // the pair left this word in an earlier merge
		}
		for i := 0; i+1 < len(s); i++ {
			t.delta[mkPair(s[i], s[i+1])] -= f
		}
		out := s[:0]
		for i := 0; i < len(s); i++ {
			if i+1 < len(s) && s[i] == a && s[i+1] == b {
				out = append(out, id)
				i++
			} else {
				out = append(out, s[i])
			}
		}
		t.syms[w] = out
		for i := 0; i+1 < len(out); i++ {
			q := mkPair(out[i], out[i+1])
			t.delta[q] += f
			if out[i] == id || out[i+1] == id {
				if l := t.where[q]; len(l) == 0 || l[len(l)-1] != w {
					t.where[q] = append(l, w)
				}
			}
		}
	}
	delete(t.where, p)
	for q, d := range t.delta {
		if d == 0 {
			continue
		}
		c := t.counts[q] + d
		if c <= 0 {
			delete(t.counts, q)
			continue
		}
		t.counts[q] = c
		if d > 0 {
			t.h.push(entry{c, q})
		}
	}
}

func contains(s []int32, a, b int32) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == a && s[i+1] == b {
			return true
		}
	}
	return false
}
