package eval

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Haystack is the filler text that needles are hidden in, as a sequence of
// words. A noise haystack repeats Noise; a text haystack is real prose.
type Haystack struct {
	// Name describes the source in reports ("noise", a file name, ...).
	Name  string
	ws    []string
	noise bool
}

// NoiseHaystack returns the repeated-filler haystack of the default
// wording (HeldOutWording). A Generator replaces any noise haystack with
// its own wording's.
func NoiseHaystack() *Haystack { return HeldOutWording.NoiseHaystack() }

// NoiseHaystack returns the haystack that repeats w.Noise.
func (w *Wording) NoiseHaystack() *Haystack {
	return &Haystack{Name: "noise", ws: strings.Fields(w.Noise), noise: true}
}

// TextHaystack returns a haystack of the given documents, joined in order.
// It needs at least 100 words in all.
func TextHaystack(name string, docs []string) (*Haystack, error) {
	var words []string
	for _, d := range docs {
		words = append(words, strings.Fields(d)...)
	}
	if len(words) < 100 {
		return nil, fmt.Errorf("eval: haystack %s has %d words, need at least 100", name, len(words))
	}
	return &Haystack{Name: name, ws: words}, nil
}

// Documents reads a text corpus: a JSONL file (one object per line with a
// "text" string field; ".jsonl" or ".jsonl.gz") or any other file as one
// plain-text document (".gz" files are decompressed).
func Documents(path string) ([]string, error) {
	data, err := paths.ReadRegular(path)
	if err != nil {
		return nil, fmt.Errorf("eval: read corpus: %w", err)
	}
	name := path
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("eval: corpus %s: %w", path, err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(zr); err != nil {
			return nil, fmt.Errorf("eval: corpus %s: decompress: %w", path, err)
		}
		data = buf.Bytes()
		name = strings.TrimSuffix(name, ".gz")
	}
	if !strings.HasSuffix(name, ".jsonl") {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, fmt.Errorf("eval: corpus %s is empty", path)
		}
		return []string{string(data)}, nil
	}
	var docs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("eval: corpus %s line %d: %w", path, line, err)
		}
		if rec.Text == nil {
			return nil, fmt.Errorf("eval: corpus %s line %d: no \"text\" field", path, line)
		}
		docs = append(docs, *rec.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: corpus %s: %w", path, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("eval: corpus %s holds no documents", path)
	}
	return docs, nil
}

// LoadHaystack reads a text haystack with Documents.
func LoadHaystack(path string) (*Haystack, error) {
	docs, err := Documents(path)
	if err != nil {
		return nil, err
	}
	return TextHaystack(path, docs)
}

// Noisy reports whether h is the repeated-filler haystack.
func (h *Haystack) Noisy() bool { return h.noise }

// Len returns the number of distinct words before the haystack repeats.
func (h *Haystack) Len() int { return len(h.ws) }

// start returns where a sample's filler begins: the beginning for noise,
// a random sentence start for text.
func (h *Haystack) start(rng *rand.Rand) int {
	if h.noise {
		return 0
	}
	start := rng.IntN(len(h.ws))
	for k := 0; k < 200; k++ {
		i := (start + k) % len(h.ws)
		if i == 0 || endsSentence(h.ws[i-1]) {
			return i
		}
	}
	return start
}

// words returns n consecutive words from start; the text wraps around
// (and so repeats) when n exceeds its length.
func (h *Haystack) words(start, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = h.ws[(start+i)%len(h.ws)]
	}
	return out
}

// endsSentence reports whether word w ends a sentence.
func endsSentence(w string) bool {
	w = strings.TrimRight(w, `"')]”’`)
	return strings.HasSuffix(w, ".") || strings.HasSuffix(w, "!") || strings.HasSuffix(w, "?")
}

// wordCost counts the tokens of words (each with its leading space),
// remembering the counts.
type wordCost struct {
	tok   Tokenizer
	cache map[string]int
}

// cum returns the cumulative token counts of words: cum[i] is the cost of
// words[:i]. A nil wordCost counts one per word.
func (w *wordCost) cum(words []string) []int {
	c := make([]int, len(words)+1)
	for i, wd := range words {
		k := 1
		if w != nil {
			var ok bool
			if k, ok = w.cache[wd]; !ok {
				k = len(w.tok.Encode(" "+wd, false))
				w.cache[wd] = k
			}
		}
		c[i+1] = c[i] + k
	}
	return c
}

// insertAt returns the word index at which to insert a needle at depth d
// (0..1) of words, measured in tokens (cum from wordCost.cum): the sentence
// boundary nearest to that point within 1 % of the words (at least 3
// words), else the word boundary itself.
func insertAt(words []string, cum []int, d float64) int {
	n := len(words)
	goal := d * float64(cum[n])
	target := sort.Search(n+1, func(i int) bool { return float64(cum[i]) >= goal })
	if target > 0 && (target > n || goal-float64(cum[target-1]) < float64(cum[target])-goal) {
		target--
	}
	if target <= 0 || target >= n {
		return min(max(target, 0), n)
	}
	tol := max(n/100, 3)
	for k := 0; k <= tol; k++ {
		for _, i := range []int{target - k, target + k} {
			if i > 0 && i < n && endsSentence(words[i-1]) {
				return i
			}
		}
	}
	return target
}
