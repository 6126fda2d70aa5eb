package eval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Score is RULER's string-match recall: the fraction of answers found in
// output, ignoring case. Stricter than RULER's plain substring test, an
// answer only counts where it is not glued to letters or digits around it
// (so "1234" is not found in "12345", nor "art" in "start"). No answers
// scores 0.
func Score(output string, answers []string) float64 {
	if len(answers) == 0 {
		return 0
	}
	out := strings.ToLower(output)
	found := 0
	for _, a := range answers {
		if contains(out, strings.ToLower(a)) {
			found++
		}
	}
	return float64(found) / float64(len(answers))
}

// contains reports whether a occurs in s with no letter or digit directly
// before or after it.
func contains(s, a string) bool {
	if a == "" {
		return false
	}
	for off := 0; off <= len(s)-len(a); {
		i := strings.Index(s[off:], a)
		if i < 0 {
			return false
		}
		i += off
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+len(a):])
		if !wordRune(before) && !wordRune(after) {
			return true
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		off = i + size
	}
	return false
}

func wordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
