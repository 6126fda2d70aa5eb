package tinybase

import (
	"fmt"
	"math/rand/v2"
	"slices"
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

// keyWords are the two halves of key–value keys ("adjective-noun"): 20
// adjectives, then nouns.
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

// filler returns n consecutive words of one of the corpus texts, from a
// random place (the whole text when it is shorter). There is no
// repetitive filler: the evaluation's noise sentences are its own.
func filler(rng *rand.Rand, texts [][]string, n int) string {
	t := texts[rng.IntN(len(texts))]
	if len(t) <= n {
		return strings.Join(t, " ")
	}
	s := rng.IntN(len(t) - n)
	return strings.Join(t[s:s+n], " ")
}

// SyntheticRow returns one retrieval document of at most window tokens,
// ending with EOS: kind KindRecall a number stated in corpus prose and
// asked for after more prose, KindKeyValue one to four key–value pairs
// in prose and one key asked for, KindCopyText a passage with numbers,
// twice. Wording and formats vary from document to document and share
// no wording with the evaluation prompts (eval.HeldOutWording nor
// eval.RULERWording; a test checks this). texts must not be empty.
func SyntheticRow(rng *rand.Rand, tok Tokenizer, texts [][]string, window, kind int) (shards.Row, error) {
	if len(texts) == 0 {
		return shards.Row{}, fmt.Errorf("tinybase: synthetic rows need corpus text for their filler")
	}
	build := func(words int) string {
		switch kind {
		case KindCopyText:
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
			return p + "\n" + p
		case KindRecall:
			p, a := RecallDoc(rng, texts, words)
			return p + " " + a + "."
		default:
			p, a := KeyValueDoc(rng, texts, words, window)
			return p + " " + a + "."
		}
	}
	// Shrink the filler until the document fits the window. The random
	// draws differ per attempt, which is fine: determinism comes from rng.
	words := window * 2 / 3
	for ; words >= 0; words -= max(words/8, 1) {
		ids := tok.Encode(build(words), true)
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

// recallForms are the statement and question of a recall document: the
// thing ({t}) and its number ({v}); the question ends where the number
// is to be said.
var recallForms = [][2]string{
	{"The {t} number is {v}.", "So the {t} number is"},
	{"Write down the {t}: {v}.", "The {t} written down was"},
	{"{v} is the number on the {t}.", "The number on the {t} is"},
	{"Remember the {t}, it is {v}.", "Which {t} was it? It was"},
	{"Earlier the {t} was set to {v}.", "Back then the {t} was set to"},
	{"For the {t}, use {v}.", "For the {t} we use"},
	{"Note: {t} = {v}.", "Recall: {t} ="},
	{"They gave us {v} for the {t}.", "For the {t} they gave us"},
}

var recallThings = strings.Fields(`locker ticket room parcel order badge account invoice gate seat permit cabin crate
	shelf platform tag voucher receipt folder bus flight table drawer`)

// openers start some generated documents (or none).
var openers = []string{"", "", "Read on and answer at the end.", "A question follows the text.", "Keep track of the details below.", "Notes:"}

// randNumber returns a number of three to seven digits.
func randNumber(rng *rand.Rand) string {
	d := 3 + rng.IntN(5)
	lo := 1
	for i := 1; i < d; i++ {
		lo *= 10
	}
	return strconv.Itoa(lo + rng.IntN(9*lo))
}

// RecallDoc returns a recall document of about words filler words, cut
// where the answer is to be said, and its answer: a number stated in
// corpus prose, a question in the matching wording after more prose.
func RecallDoc(rng *rand.Rand, texts [][]string, words int) (prompt, answer string) {
	form := recallForms[rng.IntN(len(recallForms))]
	t := recallThings[rng.IntN(len(recallThings))]
	v := randNumber(rng)
	r := strings.NewReplacer("{t}", t, "{v}", v)
	before := rng.IntN(words + 1)
	parts := []string{openers[rng.IntN(len(openers))], filler(rng, texts, before), r.Replace(form[0]), filler(rng, texts, words-before), r.Replace(form[1])}
	return joinNonEmpty(parts, "\n"), v
}

// keyValueForms are the ways a key–value pair is written ({k}, {v}) and
// asked for (the statement cut before the value).
var keyValueForms = []string{"{k} -> {v}", "{k} = {v}", "{k}: {v}", "the value of {k} is {v}", "{k} maps to {v}", "entry {k} holds {v}"}

// KeyValueDoc returns a key–value document of about words filler words,
// cut where the answer is to be said, and its answer: one to four pairs
// spread through corpus prose in one format, then one of the keys.
func KeyValueDoc(rng *rand.Rand, texts [][]string, words, window int) (prompt, answer string) {
	form := keyValueForms[rng.IntN(len(keyValueForms))]
	ask := strings.TrimSpace(strings.Split(form, "{v}")[0])
	n := 1 + rng.IntN(max(1, min(4, window/96)))
	var keys, vals []string
	for len(keys) < n {
		k := keyWords[rng.IntN(20)] + "-" + keyWords[20+rng.IntN(len(keyWords)-20)]
		if !slices.Contains(keys, k) {
			keys, vals = append(keys, k), append(vals, randNumber(rng))
		}
	}
	parts := []string{openers[rng.IntN(len(openers))]}
	per := words / (n + 1)
	for i := range keys {
		parts = append(parts, filler(rng, texts, per), strings.NewReplacer("{k}", keys[i], "{v}", vals[i]).Replace(form)+".")
	}
	q := rng.IntN(n)
	parts = append(parts, filler(rng, texts, per), strings.ReplaceAll(ask, "{k}", keys[q]))
	return joinNonEmpty(parts, "\n"), vals[q]
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(parts []string, sep string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
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
	KindRecall   = 0
	KindKeyValue = 1
	KindCopyText = 2
	KindCopyRand = 3
	// KindPasskey is the old name of KindRecall. The rows it names are no
	// longer the evaluation's passkey prompt.
	KindPasskey = KindRecall
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

// ReplayRecords returns n prompt/response records of general replay data
// (stage 2): the paper replays general and pretraining data, never the
// evaluation tasks. Three records in four are corpus passages of about
// words words whose response is their second half; the fourth is a
// recall or key–value document of the pretraining mix (RecallDoc,
// KeyValueDoc, in turn) whose response is the answer. None shares
// wording with the evaluation prompts.
func ReplayRecords(rng *rand.Rand, texts [][]string, n, words int) []ReplayRecord {
	out := make([]ReplayRecord, 0, n)
	for i := 0; i < n; i++ {
		var p, a string
		switch i % 8 {
		case 3:
			p, a = RecallDoc(rng, texts, words)
		case 7:
			p, a = KeyValueDoc(rng, texts, words, words*3/2)
		default:
			f := strings.Fields(filler(rng, texts, words))
			h := len(f) / 2
			out = append(out, ReplayRecord{Prompt: strings.Join(f[:h], " "), Response: " " + strings.Join(f[h:], " ")})
			continue
		}
		out = append(out, ReplayRecord{Prompt: p, Response: " " + a + "."})
	}
	return out
}
