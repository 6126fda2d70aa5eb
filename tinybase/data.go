// Package tinybase builds the project's tiny base model: a Llama of a few
// million parameters pretrained by our own engine at a short window on the
// embedded public-domain corpus, with synthetic retrieval documents mixed
// in. It is the model the quickstart extends.
//
// Why synthetic rows: a model this small, trained on a few million tokens
// of speeches, does not learn to retrieve a number it saw 200 tokens
// earlier, so a passkey test would read 0 % before and after any context
// extension. Retrieval needs induction heads (attend to the token after an
// earlier occurrence of the current context, and copy it), and those form
// only after a long loss plateau. The build runs four phases:
//
//  1. pretraining on the corpus with 25 % pass-key and key–value rows
//     inside the window (the answer format);
//  2. a retrieval phase on half corpus, half synthetic rows (copy
//     documents, pass keys, key–value needles);
//  3. a copy phase on short rows (64 tokens) of random corpus tokens, each
//     segment of 4 … 16 tokens written twice, the loss on the second
//     copies only (CopyRow): with segments of varying length no fixed
//     offset works, so the model has to match content;
//  4. a consolidation phase on half corpus, half synthetic rows.
//
// Phases 1 and 2 alone left the model on the plateau (0 % passkey even at
// 128 tokens), as did every attempt to teach copying on full rows with
// the loss on every token. Two changes made the copy phase work: masking
// the loss to the copy targets (the first copies are pure noise), and
// running it after pretraining, on trained embeddings. From a fresh
// initialisation the same rows need about 1,800 steps over a 32-token
// alphabet, and the skill did not survive the switch to prose.
//
// The fillers are real corpus text or PoSE's noise sentences, and the
// phrasing is the PoSE/RULER one.
package tinybase

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/shards"
)

// Tokenizer is what the builder needs of a tokenizer.
type Tokenizer interface {
	Encode(text string, addSpecial bool) []int32
	EOS() (int32, bool)
}

// Intro and question of the passkey documents (PoSE's prompt).
const (
	passkeyIntro    = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there."
	passkeyQuestion = "What is the pass key? The pass key is"
	noiseFiller     = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
)

var keyWords = strings.Fields(`red blue green quiet brave calm dark early fair gentle happy kind lucky proud swift tall warm wise bold bright
	river mountain garden window forest harbor island valley meadow castle bridge candle lantern mirror pepper rocket saddle
	ticket violin wagon anchor basket button cactus falcon`)

// ChunkRows cuts tokenized documents into rows of exactly window tokens
// (plain positions); each document starts with its BOS as encoded. The
// tokens after a document's last full row start a final row when at least
// window/4 remain.
func ChunkRows(docs [][]int32, window int) []shards.Row {
	var rows []shards.Row
	for _, ids := range docs {
		for s := 0; s < len(ids); s += window {
			e := min(s+window, len(ids))
			if e-s < window/4 {
				break
			}
			rows = append(rows, shards.Row{InputIDs: ids[s:e], PositionIDs: positions.Full(e - s)})
		}
	}
	return rows
}

// words returns n consecutive words of filler starting at a random place
// of one of the texts (or the noise filler when texts is empty or coin says
// so).
func filler(rng *rand.Rand, texts [][]string, n int) string {
	if len(texts) == 0 || rng.IntN(3) == 0 {
		noise := strings.Fields(noiseFiller)
		out := make([]string, n)
		off := rng.IntN(len(noise))
		for i := range out {
			out[i] = noise[(off+i)%len(noise)]
		}
		return strings.Join(out, " ")
	}
	t := texts[rng.IntN(len(texts))]
	if len(t) <= n {
		return strings.Join(t, " ")
	}
	s := rng.IntN(len(t) - n)
	return strings.Join(t[s:s+n], " ")
}

// SyntheticRow returns one retrieval document of at most window tokens:
// a pass key or one to four key–value needles hidden in filler, followed by
// the question and its answer and EOS. kind 0 is a passkey document, 1 a
// key–value document, 2 a copy document (a passage with numbers, twice).
func SyntheticRow(rng *rand.Rand, tok Tokenizer, texts [][]string, window, kind int) (shards.Row, error) {
	build := func(words int) (string, error) {
		before := rng.IntN(words + 1)
		switch kind {
		case 2:
			// A passage with numbers in it, then the same passage again:
			// every token of the repeat is a copy target, the dense signal
			// that makes a small model learn to look back and copy
			// (induction heads), which the retrieval rows then use.
			f := strings.Fields(filler(rng, texts, max(words/2, 4)))
			for i := range f {
				if rng.IntN(5) == 0 {
					f[i] = strconv.Itoa(rng.IntN(100000))
				}
			}
			p := strings.Join(f, " ")
			return p + "\n" + p, nil
		case 0:
			key := strconv.Itoa(rng.IntN(50000) + 1)
			info := "The pass key is " + key + ". Remember it. " + key + " is the pass key."
			return strings.Join([]string{passkeyIntro, filler(rng, texts, before), info, filler(rng, texts, words-before), passkeyQuestion + " " + key + "."}, "\n"), nil
		default:
			n := 1 + rng.IntN(max(1, min(4, window/96)))
			var needles []string
			var keys, vals []string
			for i := 0; i < n; i++ {
				k := keyWords[rng.IntN(20)] + "-" + keyWords[20+rng.IntN(len(keyWords)-20)]
				v := strconv.Itoa(rng.IntN(9000000) + 1000000)
				keys, vals = append(keys, k), append(vals, v)
				needles = append(needles, "One of the special magic numbers for "+k+" is: "+v+".")
			}
			q := rng.IntN(n)
			parts := []string{"Some special magic numbers are hidden within the following text. Make sure to memorize it. I will quiz you about the numbers afterwards."}
			per := words / (n + 1)
			for i := 0; i < n; i++ {
				parts = append(parts, filler(rng, texts, per), needles[i])
			}
			parts = append(parts, filler(rng, texts, per),
				"What are all the special magic numbers for "+keys[q]+" mentioned in the provided text? The special magic numbers for "+keys[q]+" mentioned in the provided text are "+vals[q]+".")
			return strings.Join(parts, "\n"), nil
		}
	}
	// Shrink the filler until the document fits the window. The random
	// draws differ per attempt, which is fine: determinism comes from rng.
	words := window * 2 / 3
	for ; words >= 0; words -= max(words/8, 1) {
		text, err := build(words)
		if err != nil {
			return shards.Row{}, err
		}
		ids := tok.Encode(text, true)
		if eos, ok := tok.EOS(); ok {
			ids = append(ids, eos)
		}
		if len(ids) <= window {
			return shards.Row{InputIDs: ids, PositionIDs: positions.Full(len(ids))}, nil
		}
		if words == 0 {
			break
		}
	}
	return shards.Row{}, fmt.Errorf("tinybase: a synthetic document does not fit in %d tokens", window)
}

// Sources are what synthetic rows are made from: the tokenizer, corpus
// words for fillers, and a token pool for random-token copy rows.
type Sources struct {
	Tok   Tokenizer
	Texts [][]string
	// Pool is drawn from uniformly by kind 3 (random-token copy) rows:
	// a flat sample of corpus tokens gives their unigram distribution.
	Pool []int32
	BOS  int32
}

// Kinds of synthetic rows (see SyntheticRow and CopyRow).
const (
	KindPasskey  = 0
	KindKeyValue = 1
	KindCopyText = 2
	KindCopyRand = 3
)

// Random-token copy rows of Mix repeat segments of minCopySeg …
// maxCopySeg tokens.
const minCopySeg, maxCopySeg = 4, 64

// CopyRow returns a row of exactly window tokens: BOS, then segments of
// random tokens from pool, each written twice in a row (A A B B …), segment
// lengths uniform in [minSeg, maxSeg]. The loss mask keeps only the
// second copies: every one of them is predictable by looking back and
// copying and by nothing else (the first copies are noise and only add
// variance to the gradient). This is the dense, short-range signal from
// which a small model forms induction heads in a few hundred steps, where
// prose (whose repeats are rare and far apart) takes orders of magnitude
// more tokens.
func CopyRow(rng *rand.Rand, pool []int32, bos int32, window, minSeg, maxSeg int) (shards.Row, error) {
	if len(pool) == 0 || window < 2 || minSeg < 1 || maxSeg < minSeg {
		return shards.Row{}, fmt.Errorf("tinybase: copy row needs a token pool, a window ≥ 2 and 1 ≤ min ≤ max segment (got %d tokens, window %d, segments %d…%d)", len(pool), window, minSeg, maxSeg)
	}
	ids := make([]int32, 1, window+2*maxSeg)
	mask := make([]bool, 1, window+2*maxSeg)
	ids[0] = bos
	for len(ids) < window {
		n := minSeg + rng.IntN(maxSeg-minSeg+1)
		s := len(ids)
		for i := 0; i < n; i++ {
			ids = append(ids, pool[rng.IntN(len(pool))])
			mask = append(mask, false)
		}
		for i := 0; i < n; i++ {
			ids = append(ids, ids[s+i])
			mask = append(mask, true)
		}
	}
	return shards.Row{InputIDs: ids[:window], PositionIDs: positions.Full(window), LossMask: mask[:window]}, nil
}

// Mix interleaves corpus rows with synthetic rows so that about fraction
// of all rows are synthetic, deterministically from seed. Corpus rows are
// shuffled first. Synthetic row s is of kind kinds[s % len(kinds)]
// (KindPasskey … KindCopyRand).
func Mix(corpus []shards.Row, src Sources, window int, fraction float64, kinds []int, seed uint64) ([]shards.Row, error) {
	if len(kinds) == 0 {
		return nil, fmt.Errorf("tinybase: no synthetic row kinds")
	}
	if !(fraction >= 0 && fraction < 1) {
		return nil, fmt.Errorf("tinybase: synthetic fraction %v outside [0, 1)", fraction)
	}
	rng := rand.New(rand.NewPCG(seed, 0x7b))
	rows := append([]shards.Row(nil), corpus...)
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	nSyn := int(float64(len(rows)) * fraction / (1 - fraction))
	out := make([]shards.Row, 0, len(rows)+nSyn)
	ci := 0
	for s := 0; s < nSyn || ci < len(rows); {
		// Place synthetic row s after corpus row floor((s+1)·len/nSyn).
		if s < nSyn && (ci >= len(rows) || int64(ci)*int64(nSyn) >= int64(s+1)*int64(len(rows))) {
			var r shards.Row
			var err error
			if k := kinds[s%len(kinds)]; k == KindCopyRand {
				r, err = CopyRow(rng, src.Pool, src.BOS, window, minCopySeg, maxCopySeg)
			} else {
				r, err = SyntheticRow(rng, src.Tok, src.Texts, window, k)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, r)
			s++
			continue
		}
		out = append(out, rows[ci])
		ci++
	}
	return out, nil
}

// ReplayRecord is one prompt/response pair of stage-2 replay data.
type ReplayRecord struct {
	Prompt   string `json:"prompt"`
	Response string `json:"response"`
}

// ReplayRecords returns n prompt/response records in the style of the
// pretraining data (the paper's stage 2 replays pretraining and general
// data at the short length): half are retrieval documents whose response
// is the answer, half corpus passages whose response is their second half.
func ReplayRecords(rng *rand.Rand, texts [][]string, n, words int) []ReplayRecord {
	out := make([]ReplayRecord, 0, n)
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			key := strconv.Itoa(rng.IntN(50000) + 1)
			before := rng.IntN(words + 1)
			info := "The pass key is " + key + ". Remember it. " + key + " is the pass key."
			p := strings.Join([]string{passkeyIntro, filler(rng, texts, before), info, filler(rng, texts, words-before), passkeyQuestion}, "\n")
			out = append(out, ReplayRecord{Prompt: p, Response: " " + key + "."})
			continue
		}
		f := strings.Fields(filler(rng, texts, words))
		h := len(f) / 2
		out = append(out, ReplayRecord{Prompt: strings.Join(f[:h], " "), Response: " " + strings.Join(f[h:], " ")})
	}
	return out
}
