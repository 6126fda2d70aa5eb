package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's "added_tokens".
type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedPattern is an added token as searched for: its (possibly
// normalized) text and the token it stands for.
type addedPattern struct {
	text string
	tok  *addedToken
}

// addedMatcher splits text around added tokens the way HF's
// AddedVocabulary does: an Aho-Corasick search with leftmost-longest
// semantics, then the single_word, lstrip and rstrip rules per match.
type addedMatcher struct {
	byFirst [256][]addedPattern // patterns by first byte, longest first
	any     bool
}

func newAddedMatcher(pats []addedPattern) *addedMatcher {
	m := &addedMatcher{}
	for _, p := range pats {
		if p.text == "" {
			continue
		}
		m.byFirst[p.text[0]] = append(m.byFirst[p.text[0]], p)
		m.any = true
	}
	for i := range m.byFirst {
		l := m.byFirst[i]
		// Longest first; among equal lengths keep the earlier token, like
		// Aho-Corasick's pattern order.
		sort.SliceStable(l, func(a, b int) bool { return len(l[a].text) > len(l[b].text) })
	}
	return m
}

// split calls emit for each piece of s in order: text between added tokens
// with tok nil, and each added token match with its token. Empty pieces are
// not emitted.
func (m *addedMatcher) split(s string, emit func(piece string, tok *addedToken)) {
	if !m.any {
		if s != "" {
			emit(s, nil)
		}
		return
	}
	startOffset := 0
	for i := 0; i < len(s); {
		var hit *addedPattern
		for k := range m.byFirst[s[i]] {
			p := &m.byFirst[s[i]][k]
			if strings.HasPrefix(s[i:], p.text) {
				hit = p
				break
			}
		}
		if hit == nil {
			i++
			continue
		}
		start, stop := i, i+len(hit.text)
		i = stop // matches never overlap, whatever the rules below decide
		tok := hit.tok
		if tok.SingleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if tok.LStrip {
			start = max(spaceLeftmostAtEnd(s[:start]), startOffset)
		}
		if tok.RStrip {
			stop += spaceRightmostAtStart(s[stop:])
		}
		if startOffset < start {
			emit(s[startOffset:start], nil)
		}
		emit(s[start:stop], tok)
		startOffset = stop
	}
	if startOffset < len(s) {
		emit(s[startOffset:], nil)
	}
}

// isAlphanumeric is Rust's char::is_alphanumeric: the Alphabetic property
// or a numeric general category.
func isAlphanumeric(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Other_Alphabetic, r)
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isAlphanumeric(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isAlphanumeric(r)
}

// spaceLeftmostAtEnd returns the offset where the trailing whitespace of s
// starts.
func spaceLeftmostAtEnd(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// spaceRightmostAtStart returns the length of the leading whitespace of s.
func spaceRightmostAtStart(s string) int {
	for i, r := range s {
		if !unicode.IsSpace(r) {
			return i
		}
	}
	return len(s)
}
