package folder

import (
	"fmt"
	"strings"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/eval"
)

// The evaluation's default text is chosen here, not in package eval: the
// held-out split of the shipped corpus (package assets), which no
// training source of the project uses.

// HeldOutSource names the held-out split of the shipped corpus in reports.
var HeldOutSource = fmt.Sprintf("%s, held-out %d%%", assets.CorpusName, assets.DefaultHeldOutPercent)

// HeldOutDocuments returns the held-out split of the shipped corpus: text
// that no training source of the project uses.
func HeldOutDocuments() ([]string, error) {
	docs, err := assets.Corpus()
	if err != nil {
		return nil, err
	}
	_, held, err := assets.Split(docs, assets.DefaultHeldOutPercent)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(held))
	for i, d := range held {
		out[i] = d.Text
	}
	return out, nil
}

// OpenHaystack returns the haystack a name or file stands for.
func OpenHaystack(name string) (*eval.Haystack, error) {
	switch strings.TrimSpace(name) {
	case eval.HaystackNoise, "repeat":
		return eval.NoiseHaystack(), nil
	case "", eval.HaystackHeldOut:
		docs, err := HeldOutDocuments()
		if err != nil {
			return nil, err
		}
		return eval.TextHaystack(HeldOutSource, docs)
	}
	return eval.LoadHaystack(name)
}

// PPLDocuments returns the text perplexity is measured on and its name:
// the file text if set, else the haystack's file if it is one, else the
// held-out split of the shipped corpus.
func PPLDocuments(text, haystack string) (docs []string, source string, err error) {
	if text == "" && !eval.IsHaystackName(haystack) {
		text = haystack
	}
	if text == "" {
		docs, err = HeldOutDocuments()
		return docs, HeldOutSource, err
	}
	docs, err = eval.Documents(text)
	return docs, text, err
}
