package analyze

import (
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// TestTokenKindsShippedTokenizer checks the classifier on real tokens of
// the shipped tokenizer.
func TestTokenKindsShippedTokenizer(t *testing.T) {
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	c := NewClassifier(tok)
	tests := []struct {
		text string
		want Kind
	}{
		{" of", Adposition}, {" the", Other}, {" he", Pronoun}, {" will", Auxiliary}, {" and", Conjunction},
		{" 1", Numeral}, {"79", Numeral}, {",", Punctuation}, {" $", Punctuation}, {" ", Whitespace},
		{"<|bos|>", Special}, {" Congress", Other},
	}
	for _, tc := range tests {
		ids := tok.Encode(tc.text, false)
		if len(ids) != 1 {
			t.Fatalf("%q is %d tokens", tc.text, len(ids))
		}
		if got := c.TokenKind(ids[0]); got != tc.want {
			t.Errorf("TokenKind(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	counts := map[Kind]int{}
	for id := range int32(tok.VocabSize()) {
		counts[c.TokenKind(id)]++
	}
	t.Logf("kinds over the vocabulary: %v", counts)
	if counts[Numeral] < 50 || counts[Special] != 3 {
		t.Errorf("kinds over the vocabulary: %v", counts)
	}
}
