package eval

import (
	"fmt"
	"strings"

	"github.com/longrecipe/longrecipe/assets"
)

// The haystack names, the same wherever a haystack is chosen (the eval
// command's --haystack, a recipe's eval.haystack, the experiment). Any
// other value is a text or JSONL file.
const (
	// HaystackHeldOut is the held-out split of the shipped corpus, the
	// default ("" means it too).
	HaystackHeldOut = "heldout"
	// HaystackNoise is the repeated noise sentences of PoSE's passkey
	// prompt; "repeat", its former name in the eval command, is accepted.
	HaystackNoise = "noise"
)

// IsHaystackName reports whether s names a built-in haystack rather than
// a file ("" included).
func IsHaystackName(s string) bool {
	switch s {
	case "", HaystackHeldOut, HaystackNoise, "repeat":
		return true
	}
	return false
}

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
func OpenHaystack(name string) (*Haystack, error) {
	switch strings.TrimSpace(name) {
	case HaystackNoise, "repeat":
		return NoiseHaystack(), nil
	case "", HaystackHeldOut:
		docs, err := HeldOutDocuments()
		if err != nil {
			return nil, err
		}
		return TextHaystack(HeldOutSource, docs)
	}
	return LoadHaystack(name)
}

// PPLDocuments returns the text perplexity is measured on and its name:
// the file text if set, else the haystack's file if it is one, else the
// held-out split of the shipped corpus.
func PPLDocuments(text, haystack string) (docs []string, source string, err error) {
	if text == "" && !IsHaystackName(haystack) {
		text = haystack
	}
	if text == "" {
		docs, err = HeldOutDocuments()
		return docs, HeldOutSource, err
	}
	docs, err = Documents(text)
	return docs, text, err
}
