package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// bpe is the BPE model: vocabulary, merge ranks and the unknown-token and
// byte-fallback options, as the HF tokenizers BPE model applies them.
type bpe struct {
	vocab  map[string]int32
	merges map[uint64]uint64 // (left<<32 | right) -> (rank<<32 | new id)

	unk          int32 // -1 when the model has no unk_token
	fuseUnk      bool
	byteFallback bool
	byteTokens   [256]int32 // ids of "<0xNN>" (-1 when absent)
	ignoreMerges bool

	// spaceSplit: "▁" is in the vocab and no vocab entry has "▁" after
	// another character, so no merge can join a symbol to a following
	// "▁"; a word may then be cut before each "▁" that follows another
	// character and its parts merged (and cached) separately with the same
	// result as HF's merge of the whole word.
	spaceSplit bool

	// byteLevel: words are raw bytes; each byte is the vocab entry of its
	// byte-level rune (byteIDs) and rawVocab maps a raw byte string to the
	// id of its byte-level vocab entry (for ignore_merges).
	byteLevel bool
	byteIDs   [256]int32
	rawVocab  map[string]int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// symbol is one element of the doubly linked list a word is merged over.
type symbol struct {
	id         int32
	prev, next int32
	dead       bool
}

// mergeItem is a candidate merge of the symbol at pos with its successor.
type mergeItem struct {
	rank  uint32
	pos   int32
	newID int32
}

// less orders candidates like HF's BinaryHeap: lowest rank first, then
// leftmost position.
func (a mergeItem) less(b mergeItem) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// mergeHeap is a binary min-heap of merge candidates.
type mergeHeap []mergeItem

func (h *mergeHeap) push(x mergeItem) {
	*h = append(*h, x)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !a[i].less(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeItem {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(a) {
			break
		}
		m := l
		if r := l + 1; r < len(a) && a[r].less(a[l]) {
			m = r
		}
		if !a[m].less(a[i]) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// scratch holds per-goroutine buffers for encoding.
type scratch struct {
	syms  []symbol
	heap  mergeHeap
	cache map[string][]int32
}

const (
	cacheMaxEntries = 1 << 16
	cacheMaxWordLen = 256
)

const spaceMark = "\u2581"

// word appends the ids of one pre-token to dst. For a byte-level model w is
// the raw bytes of the pre-token; otherwise it is the normalized text.
func (m *bpe) word(dst []int32, w string, sc *scratch) []int32 {
	if !m.spaceSplit {
		return m.segment(dst, w, sc)
	}
	start := 0
	for i := 0; i < len(w); {
		k := strings.Index(w[i:], spaceMark)
		if k < 0 {
			break
		}
		p := i + k
		if p > start && !strings.HasSuffix(w[:p], spaceMark) {
			dst = m.segment(dst, w[start:p], sc)
			start = p
		}
		i = p + len(spaceMark)
	}
	return m.segment(dst, w[start:], sc)
}

// segment merges one word (or a part of it, see spaceSplit).
func (m *bpe) segment(dst []int32, w string, sc *scratch) []int32 {
	if len(w) == 0 {
		return dst
	}
	if ids, ok := sc.cache[w]; ok {
		return append(dst, ids...)
	}
	start := len(dst)
	if m.ignoreMerges {
		var id int32
		var ok bool
		if m.byteLevel {
			id, ok = m.rawVocab[w]
		} else {
			id, ok = m.vocab[w]
		}
		if ok {
			dst = append(dst, id)
			m.remember(sc, w, dst[start:])
			return dst
		}
	}
	syms := sc.syms[:0]
	add := func(id int32) {
		syms = append(syms, symbol{id: id, prev: int32(len(syms)) - 1, next: int32(len(syms)) + 1})
	}
	if m.byteLevel {
		// A byte missing from the vocabulary (SmolLM2 lacks a few) is the
		// unknown token, fused with fuse_unk, or dropped without one, as
		// in HF's merge_word.
		prevUnk := false
		for i := 0; i < len(w); i++ {
			id := m.byteIDs[w[i]]
			if id < 0 && (m.unk < 0 || prevUnk && m.fuseUnk) {
				continue
			}
			if prevUnk = id < 0; prevUnk {
				id = m.unk
			}
			add(id)
		}
		if len(syms) == 0 {
			m.remember(sc, w, nil)
			return dst
		}
	} else {
		// HF merge_word: one symbol per character; a character missing
		// from the vocabulary becomes its <0xNN> byte tokens
		// (byte_fallback) or the unknown token, consecutive unknowns
		// fused into one with fuse_unk.
		pendingUnk := false
		for i := 0; i < len(w); {
			_, n := utf8.DecodeRuneInString(w[i:])
			ch := w[i : i+n]
			i += n
			if id, ok := m.vocab[ch]; ok {
				if pendingUnk {
					add(m.unk)
					pendingUnk = false
				}
				add(id)
				continue
			}
			if m.byteFallback && m.allBytes(ch) {
				// As in HF, a pending unknown token is not flushed
				// before byte-fallback tokens.
				for k := 0; k < len(ch); k++ {
					add(m.byteTokens[ch[k]])
				}
				continue
			}
			// Load guarantees an unk token here.
			if pendingUnk && !m.fuseUnk {
				add(m.unk)
			}
			pendingUnk = true
		}
		if pendingUnk {
			add(m.unk)
		}
	}
	syms[len(syms)-1].next = -1
	syms = m.mergeAll(syms, sc)
	for i := 0; i >= 0 && i < len(syms); i = int(syms[i].next) {
		dst = append(dst, syms[i].id)
	}
	sc.syms = syms
	m.remember(sc, w, dst[start:])
	return dst
}

func (m *bpe) allBytes(ch string) bool {
	for k := 0; k < len(ch); k++ {
		if m.byteTokens[ch[k]] < 0 {
			return false
		}
	}
	return true
}

func (m *bpe) remember(sc *scratch, w string, ids []int32) {
	if len(w) > cacheMaxWordLen {
		return
	}
	if len(sc.cache) >= cacheMaxEntries {
		clear(sc.cache)
	}
	sc.cache[w] = append([]int32(nil), ids...)
}

// mergeAll applies the merges exactly as HF's Word::merge_all: a priority
// queue of (rank, position) candidates; a popped candidate is skipped when
// its symbol was merged away or its pair no longer yields the same new id.
func (m *bpe) mergeAll(syms []symbol, sc *scratch) []symbol {
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h.push(mergeItem{rank: uint32(v >> 32), pos: int32(i), newID: int32(uint32(v))})
		}
	}
	for len(h) > 0 {
		top := h.pop()
		cur := &syms[top.pos]
		if cur.dead || cur.next < 0 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		v, ok := m.merges[pairKey(cur.id, right.id)]
		if !ok || int32(uint32(v)) != top.newID {
			continue
		}
		cur.id = top.newID
		cur.next = right.next
		syms[nextPos].dead = true
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if v, ok := m.merges[pairKey(syms[cur.prev].id, cur.id)]; ok {
				h.push(mergeItem{rank: uint32(v >> 32), pos: cur.prev, newID: int32(uint32(v))})
			}
		}
		if cur.next >= 0 {
			if v, ok := m.merges[pairKey(cur.id, syms[cur.next].id)]; ok {
				h.push(mergeItem{rank: uint32(v >> 32), pos: top.pos, newID: int32(uint32(v))})
			}
		}
	}
	sc.heap = h
	return syms
}
