package eval

import (
	"strings"
	"unicode"
)

// LeakGram is the n-gram size of a LeakDetector: a training text leaks an
// evaluation template when it shares a run of LeakGram words with one of
// the template's fragments (a fragment of fewer words, but at least
// minLeakWords, must occur whole).
const LeakGram = 5

// minLeakWords is the shortest fragment a LeakDetector looks for: shorter
// ones ("Question:", "VAR") are common words, not wording.
const minLeakWords = 3

// LeakDetector finds the wording of evaluation prompts in training text.
// Texts and fragments are compared as lowercase words (runs of letters
// and digits; punctuation and spacing are ignored), so a rephrasing that
// keeps five consecutive words of a template, or a change of case or
// punctuation, is still found.
type LeakDetector struct {
	grams map[string]string // normalised n-gram → the fragment it came from
	sizes []int             // distinct gram sizes, largest first
}

// NewLeakDetector returns a detector of the fragments of every wording
// given (all of Wordings when none is).
func NewLeakDetector(ws ...*Wording) *LeakDetector {
	if len(ws) == 0 {
		ws = Wordings
	}
	d := &LeakDetector{grams: map[string]string{}}
	seen := map[int]bool{}
	for _, w := range ws {
		for _, f := range w.Fragments() {
			words := leakWords(f)
			if len(words) < minLeakWords {
				continue
			}
			n := min(LeakGram, len(words))
			for i := 0; i+n <= len(words); i++ {
				d.grams[strings.Join(words[i:i+n], " ")] = f
			}
			if !seen[n] {
				seen[n] = true
				d.sizes = append(d.sizes, n)
			}
		}
	}
	return d
}

// Find returns the first template fragment text shares wording with and
// the shared words, or ok false when it shares none.
func (d *LeakDetector) Find(text string) (fragment, shared string, ok bool) {
	words := leakWords(text)
	for _, n := range d.sizes {
		for i := 0; i+n <= len(words); i++ {
			g := strings.Join(words[i:i+n], " ")
			if f, hit := d.grams[g]; hit {
				return f, g, true
			}
		}
	}
	return "", "", false
}

// leakWords splits s into lowercase runs of letters and digits.
func leakWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}
