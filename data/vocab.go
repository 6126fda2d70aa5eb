package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Vocab is what selection needs of a tokenizer: the text each id decodes
// to on its own. *tokenizer.Tokenizer implements it.
type Vocab interface {
	VocabSize() int
	TokenText(id int32) []byte
}

// Tokenizer is what Prepare needs to tokenize a text corpus.
// *tokenizer.Tokenizer implements it.
type Tokenizer interface {
	Vocab
	Encode(text string, addSpecial bool) []int32
	EOS() (int32, bool)
	Hash() string
}

// TokenSet is a set of token ids (a bit set over the vocabulary).
type TokenSet struct {
	bits []uint64
	n    int
}

// NewTokenSet returns a set holding ids; ids must be >= 0.
func NewTokenSet(ids []int32) (*TokenSet, error) {
	s := &TokenSet{}
	for _, id := range ids {
		if id < 0 {
			return nil, fmt.Errorf("negative token id %d", id)
		}
		for int(id)>>6 >= len(s.bits) {
			s.bits = append(s.bits, 0)
		}
		if !s.Has(id) {
			s.n++
		}
		s.bits[id>>6] |= 1 << (id & 63)
	}
	return s, nil
}

// Has reports whether id is in the set (a nil set holds nothing).
func (s *TokenSet) Has(id int32) bool {
	if s == nil || id < 0 || int(id>>6) >= len(s.bits) {
		return false
	}
	return s.bits[id>>6]&(1<<(id&63)) != 0
}

// Len is the number of ids in the set.
func (s *TokenSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// IDs returns the ids in increasing order.
func (s *TokenSet) IDs() []int32 {
	var out []int32
	if s == nil {
		return out
	}
	for w, b := range s.bits {
		for j := range 64 {
			if b&(1<<j) != 0 {
				out = append(out, int32(w*64+j))
			}
		}
	}
	return out
}

// tokensWhere returns the ids of v whose text satisfies keep.
func tokensWhere(v Vocab, keep func(text []byte) bool) *TokenSet {
	var ids []int32
	for id := range int32(v.VocabSize()) {
		if keep(v.TokenText(id)) {
			ids = append(ids, id)
		}
	}
	s, _ := NewTokenSet(ids) // ids are >= 0 by construction
	return s
}

// SentenceEnds returns the ids of every token whose text ends with ".",
// "?", "!" or a newline — every variant the vocabulary has (".", ".\n",
// "?\n\n", ")."...), derived from the vocabulary, never hard-coded.
func SentenceEnds(v Vocab) *TokenSet {
	return tokensWhere(v, func(t []byte) bool {
		if len(t) == 0 {
			return false
		}
		switch t[len(t)-1] {
		case '.', '?', '!', '\n':
			return true
		}
		return false
	})
}

// DigitTokens returns the ids of every token whose text contains an ASCII
// digit: the impactful set of "--impactful digits" (the reference code's
// rule, numerals being the most affected tokens in the paper's analysis).
func DigitTokens(v Vocab) *TokenSet {
	return tokensWhere(v, func(t []byte) bool {
		return bytes.ContainsFunc(t, func(r rune) bool { return r >= '0' && r <= '9' })
	})
}

// ImpactfulFile is the JSON file of impactful token ids that `analyze`
// writes and `prepare --impactful FILE` reads:
//
//	{"token_ids": [15, 16, 17], "source": "analyze: 200 docs, top 20%", "tokenizer_hash": "..."}
//
// token_ids is required (ids >= 0, any order, duplicates allowed); source is
// free text saying how the set was made; tokenizer_hash, when present, must
// equal the hash of the tokenizer prepare uses, so ids of one vocabulary are
// never applied to another. Unknown fields are an error.
type ImpactfulFile struct {
	TokenIDs      []int32 `json:"token_ids"`
	Source        string  `json:"source,omitempty"`
	TokenizerHash string  `json:"tokenizer_hash,omitempty"`
}

// ReadImpactful reads an impactful-token file. tokenizerHash, when not
// empty, must match the file's tokenizer_hash if the file has one; ids must
// be below vocabSize when vocabSize > 0.
func ReadImpactful(path, tokenizerHash string, vocabSize int) (*TokenSet, *ImpactfulFile, error) {
	b, err := paths.ReadRegular(path) // a FIFO is refused, not waited on
	if err != nil {
		return nil, nil, fmt.Errorf("read impactful tokens: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f ImpactfulFile
	if err := dec.Decode(&f); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.TokenIDs == nil {
		return nil, nil, fmt.Errorf("%s: no token_ids field", path)
	}
	if tokenizerHash != "" && f.TokenizerHash != "" && f.TokenizerHash != tokenizerHash {
		return nil, nil, fmt.Errorf("%s: made for tokenizer %s, but the tokenizer is %s", path, f.TokenizerHash, tokenizerHash)
	}
	if vocabSize > 0 {
		if i := slices.IndexFunc(f.TokenIDs, func(id int32) bool { return int(id) >= vocabSize }); i >= 0 {
			return nil, nil, fmt.Errorf("%s: token id %d is outside the vocabulary (%d ids)", path, f.TokenIDs[i], vocabSize)
		}
	}
	s, err := NewTokenSet(f.TokenIDs)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, &f, nil
}
