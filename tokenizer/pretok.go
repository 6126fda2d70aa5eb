package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The Split pre-tokenizer regexes of the supported tokenizers. Go's regexp
// package has no lookahead, so each is implemented by a hand-written matcher
// that reproduces the backtracking engine's leftmost-first alternation
// exactly (see matchLlama3 and matchGPT2).
const (
	// PatternLlama3 is Llama 3's pre-tokenizer regex.
	PatternLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternQwen2 is Qwen2/2.5/3's pre-tokenizer regex (single digits).
	PatternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternGPT2 is GPT-2's regex, also used by ByteLevel(use_regex=true)
	// and by tokenizers trained with tokenizer/bpetrain.
	PatternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// matcher returns the end of the regex match that starts exactly at byte
// offset i of s, or -1 when no alternative matches there.
type matcher func(s string, i int) int

// matcherFor returns the matcher of a known pattern.
func matcherFor(pattern string) (matcher, bool) {
	switch pattern {
	case PatternLlama3:
		return func(s string, i int) int { return matchLlama3(s, i, 3) }, true
	case PatternQwen2:
		return func(s string, i int) int { return matchLlama3(s, i, 1) }, true
	case PatternGPT2:
		return matchGPT2, true
	}
	return nil, false
}

// Character classes as the regex engine sees them: \p{L} (general category
// L), \p{N} (category N) and \s (White_Space: \t\n\v\f\r, U+0085 and the
// Z categories), which are exactly Go's unicode.IsLetter, IsNumber, IsSpace.
const (
	clsL = 1 << iota
	clsN
	clsS
)

var asciiClass [128]uint8

func init() {
	for c := 0; c < 128; c++ {
		r := rune(c)
		switch {
		case unicode.IsLetter(r):
			asciiClass[c] = clsL
		case unicode.IsNumber(r):
			asciiClass[c] = clsN
		case unicode.IsSpace(r):
			asciiClass[c] = clsS
		}
	}
}

// next decodes the rune at s[i] (i < len(s)) and returns its class and size.
// An invalid byte is one rune of size 1 in no class (like U+FFFD).
func next(s string, i int) (r rune, cls uint8, size int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), asciiClass[c], 1
	}
	r, size = utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		cls = clsL
	case unicode.IsNumber(r):
		cls = clsN
	case unicode.IsSpace(r):
		cls = clsS
	}
	return r, cls, size
}

// classAt returns the class of the rune at s[i], or 0xFF at the end.
func classAt(s string, i int) uint8 {
	if i >= len(s) {
		return 0xFF
	}
	_, c, _ := next(s, i)
	return c
}

// scanClass advances from i over runes of class cls and returns the end.
func scanClass(s string, i int, cls uint8) int {
	for i < len(s) {
		_, c, n := next(s, i)
		if c != cls {
			break
		}
		i += n
	}
	return i
}

// isOther reports a rune in [^\s\p{L}\p{N}].
func isOther(c uint8) bool { return c == 0 }

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at s[i] (s[i] == '\”).
// With fold, ASCII letters match either case (the engine's (?i) adds no
// other folds for these letters: "'ſ" is not matched, as HF shows).
func contraction(s string, i int, fold bool) int {
	if i+1 >= len(s) {
		return -1
	}
	lower := func(c byte) byte {
		if fold && c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	switch lower(s[i+1]) {
	case 's', 't', 'm', 'd':
		return i + 2
	case 'r', 'v':
		if i+2 < len(s) && lower(s[i+2]) == 'e' {
			return i + 3
		}
	case 'l':
		if i+2 < len(s) && lower(s[i+2]) == 'l' {
			return i + 3
		}
	}
	return -1
}

// matchLlama3 implements PatternLlama3 (maxDigits 3) and PatternQwen2
// (maxDigits 1), alternative by alternative:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)
//	[^\r\n\p{L}\p{N}]?\p{L}+
//	\p{N}{1,maxDigits}
//	 ?[^\s\p{L}\p{N}]+[\r\n]*
//	\s*[\r\n]+
//	\s+(?!\S)
//	\s+
func matchLlama3(s string, i int, maxDigits int) int {
	r, c, n := next(s, i)
	if r == '\'' {
		if e := contraction(s, i, true); e > 0 {
			return e
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c == clsL {
		return scanClass(s, i+n, clsL)
	}
	if r != '\r' && r != '\n' && c != clsN && classAt(s, i+n) == clsL {
		return scanClass(s, i+n, clsL)
	}
	// \p{N}{1,maxDigits}
	if c == clsN {
		j := i + n
		for k := 1; k < maxDigits && j < len(s); k++ {
			_, c2, n2 := next(s, j)
			if c2 != clsN {
				break
			}
			j += n2
		}
		return j
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	j := i
	if r == ' ' {
		j = i + 1
	}
	if j < len(s) && isOther(classAt(s, j)) {
		for j < len(s) {
			_, c2, n2 := next(s, j)
			if !isOther(c2) {
				break
			}
			j += n2
		}
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	if c != clsS {
		return -1
	}
	// Whitespace run [i, end); lastNL is the offset of its last \r or \n,
	// lastStart the offset of its last rune.
	end, lastNL, lastStart := i, -1, i
	for end < len(s) {
		r2, c2, n2 := next(s, end)
		if c2 != clsS {
			break
		}
		if r2 == '\r' || r2 == '\n' {
			lastNL = end
		}
		lastStart = end
		end += n2
	}
	// \s*[\r\n]+ : \s* backtracks to the last newline of the run.
	if lastNL >= 0 {
		return lastNL + 1
	}
	return whitespaceTail(s, i, end, lastStart)
}

// whitespaceTail implements \s+(?!\S)|\s+ on the whitespace run [i, end)
// whose last rune starts at lastStart.
func whitespaceTail(s string, i, end, lastStart int) int {
	if end == len(s) || lastStart == i {
		// At the end of input the lookahead holds; a single whitespace
		// rune before a non-space falls through to \s+.
		return end
	}
	// Leave the last whitespace rune to join the next pre-token.
	return lastStart
}

// matchGPT2 implements PatternGPT2:
//
//	's|'t|'re|'ve|'m|'ll|'d
//	 ?\p{L}+
//	 ?\p{N}+
//	 ?[^\s\p{L}\p{N}]+
//	\s+(?!\S)
//	\s+
func matchGPT2(s string, i int) int {
	r, c, n := next(s, i)
	if r == '\'' {
		if e := contraction(s, i, false); e > 0 {
			return e
		}
	}
	j, cj := i, c
	if r == ' ' && i+1 < len(s) {
		j = i + 1
		cj = classAt(s, j)
		if cj == clsS {
			j, cj = i, c
		}
	}
	switch {
	case cj == clsL:
		return scanClass(s, j, clsL)
	case cj == clsN:
		return scanClass(s, j, clsN)
	case isOther(cj):
		for j < len(s) {
			_, c2, n2 := next(s, j)
			if !isOther(c2) {
				break
			}
			j += n2
		}
		return j
	}
	// Whitespace (r is a space at the end of input, or other whitespace).
	if c != clsS {
		return -1
	}
	end, lastStart := i+n, i
	for end < len(s) {
		_, c2, n2 := next(s, end)
		if c2 != clsS {
			break
		}
		lastStart = end
		end += n2
	}
	return whitespaceTail(s, i, end, lastStart)
}

// splitIsolated splits s into the matches of m and the gaps between them
// (HF Split with behavior Isolated), calling emit for each non-empty piece.
func splitIsolated(s string, m matcher, emit func(string)) {
	gap, i := 0, 0
	for i < len(s) {
		e := m(s, i)
		if e <= i {
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
			continue
		}
		if gap < i {
			emit(s[gap:i])
		}
		emit(s[i:e])
		i, gap = e, e
	}
	if gap < len(s) {
		emit(s[gap:])
	}
}
