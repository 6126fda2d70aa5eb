package bpetrain

import (
	"unicode"
	"unicode/utf8"
)

// SplitPattern is the GPT-2 pre-tokenization regex. It is written into
// tokenizer.json as the pattern of the Split pre-tokenizer; PreTokenize
// implements the same matching by hand, because Go's regexp has no
// lookahead for "\s+(?!\S)".
const SplitPattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// PreTokenize calls fn with each piece of text as SplitPattern splits it
// (leftmost-first alternation, as Oniguruma and Hugging Face tokenizers
// match it). The pieces are non-empty and concatenate back to text. \s is
// unicode.IsSpace, \p{L} unicode.IsLetter, \p{N} unicode.IsNumber. Invalid
// UTF-8 bytes count as one "other" character each.
func PreTokenize(text string, fn func(piece string)) {
	for i := 0; i < len(text); {
		j := matchAt(text, i)
		fn(text[i:j])
		i = j
	}
}

// class of a character for the split rules.
type class uint8

const (
	classOther class = iota // [^\s\p{L}\p{N}]
	classLetter
	classNumber
	classSpace
)

func classOf(r rune) class {
	switch {
	case r < utf8.RuneSelf:
		return asciiClass[r]
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

var asciiClass = func() (t [utf8.RuneSelf]class) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		switch {
		case unicode.IsLetter(r):
			t[r] = classLetter
		case unicode.IsNumber(r):
			t[r] = classNumber
		case unicode.IsSpace(r):
			t[r] = classSpace
		}
	}
	return t
}()

// decode returns the rune at s[i] and its width; invalid bytes decode as
// utf8.RuneError of width 1, which is class "other".
func decode(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// run returns the end of the maximal run of characters of class c from i.
func run(s string, i int, c class) int {
	for i < len(s) {
		r, n := decode(s, i)
		if classOf(r) != c {
			break
		}
		i += n
	}
	return i
}

// matchAt returns the end of the piece that starts at i (i < len(s)).
func matchAt(s string, i int) int {
	r, n := decode(s, i)
	// 's|'t|'re|'ve|'m|'ll|'d
	if r == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	c := classOf(r)
	// ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' with the optional space.
	if r == ' ' && i+1 < len(s) {
		r2, _ := decode(s, i+1)
		if c2 := classOf(r2); c2 != classSpace {
			return run(s, i+1, c2)
		}
	}
	if c != classSpace {
		return run(s, i+n, c)
	}
	// '\s+(?!\S)' then '\s+'.
	end := run(s, i, classSpace)
	if end == len(s) {
		return end
	}
	// Followed by a non-space: give back the last space if that leaves one.
	_, lastW := utf8.DecodeLastRuneInString(s[i:end])
	if end-lastW > i {
		return end - lastW
	}
	return end
}
