package analyze

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the class of a token occurrence used to read the analysis.
type Kind uint8

// The kinds, in report order. Function-word kinds follow the Universal
// Dependencies part-of-speech classes (PRON, AUX, CCONJ+SCONJ, ADP) for a
// word's most common use; see words.go for the lists.
const (
	Numeral     Kind = iota // digits, or a cardinal number word
	Punctuation             // only punctuation and symbols
	Whitespace              // only spaces, tabs or newlines
	Pronoun
	Auxiliary
	Conjunction
	Adposition
	Other   // any other word or word piece
	Special // added special tokens (BOS, EOS, ...)
	numKinds
)

var kindNames = [numKinds]string{"numeral", "punctuation", "whitespace", "pronoun", "auxiliary", "conjunction", "adposition", "other", "special"}

// String returns the kind's name as written in reports.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind?"
}

// Kinds returns all kinds in report order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// Vocab is what the analysis needs of a tokenizer. *tokenizer.Tokenizer
// implements it.
type Vocab interface {
	// TokenText is what the id decodes to on its own (raw bytes).
	TokenText(id int32) []byte
	// IsSpecial reports whether id is a special added token.
	IsSpecial(id int32) bool
}

// Classifier assigns kinds to token occurrences. A token's own text decides
// numerals, punctuation and whitespace. A function word must be a whole
// word: its token starts a word (leading space, first token, or the token
// before ends in a non-letter) and the next token does not continue it with
// a letter; so "he" inside "hello" stays Other. A Classifier caches token
// texts and is not safe for concurrent use.
type Classifier struct {
	v     Vocab
	cache map[int32]*tokenInfo
}

type tokenInfo struct {
	text      string // TokenText as a string (may hold partial UTF-8)
	base      Kind   // kind by text alone (Numeral, Punctuation, Whitespace, Special, Other)
	word      string // lower-cased text without surrounding spaces, if it has letters
	startWord bool   // text starts with a space or a non-letter
	letterEnd bool   // last character is a letter
	letterBeg bool   // first character is a letter
}

// NewClassifier returns a classifier that reads token texts from v.
func NewClassifier(v Vocab) *Classifier {
	return &Classifier{v: v, cache: map[int32]*tokenInfo{}}
}

func (c *Classifier) info(id int32) *tokenInfo {
	if ti, ok := c.cache[id]; ok {
		return ti
	}
	ti := &tokenInfo{text: string(c.v.TokenText(id))}
	c.cache[id] = ti
	if c.v.IsSpecial(id) {
		ti.base = Special
		return ti
	}
	trimmed := strings.TrimSpace(ti.text)
	letters, numbers := false, false
	for _, r := range trimmed {
		switch {
		case unicode.IsLetter(r):
			letters = true
		case unicode.IsNumber(r):
			numbers = true
		}
	}
	switch {
	case ti.text == "": // unknown id, or a token without text
		ti.base = Other
	case trimmed == "":
		ti.base = Whitespace
	case numbers && !letters:
		ti.base = Numeral
	case !letters:
		ti.base = Punctuation
	default:
		ti.base = Other
		ti.word = strings.ToLower(trimmed)
	}
	if r, _ := utf8.DecodeRuneInString(ti.text); ti.text != "" {
		ti.letterBeg = unicode.IsLetter(r)
		ti.startWord = !ti.letterBeg
	}
	if r, _ := utf8.DecodeLastRuneInString(ti.text); ti.text != "" {
		ti.letterEnd = unicode.IsLetter(r)
	}
	return ti
}

// Text returns what token id decodes to on its own.
func (c *Classifier) Text(id int32) string { return c.info(id).text }

// TokenKind is the kind of id judged by its text alone, as a whole word.
func (c *Classifier) TokenKind(id int32) Kind {
	ti := c.info(id)
	if ti.base != Other {
		return ti.base
	}
	return wordKind(ti.word)
}

// Kind returns the kind of the token doc[pos] in its document; pos must
// index doc.
func (c *Classifier) Kind(doc []int32, pos int) Kind {
	ti := c.info(doc[pos])
	if ti.base != Other {
		return ti.base
	}
	starts := ti.startWord || pos == 0 || !c.info(doc[pos-1]).letterEnd
	ends := pos+1 == len(doc) || !c.info(doc[pos+1]).letterBeg
	if !starts || !ends {
		return Other
	}
	return wordKind(ti.word)
}

func wordKind(w string) Kind {
	w = strings.ReplaceAll(w, "’", "'")
	if k, ok := functionWords[w]; ok {
		return k
	}
	return Other
}
