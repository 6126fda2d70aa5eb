package bpetrain

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestPreTokenizeMatchesHF compares PreTokenize with the pieces that Hugging
// Face tokenizers 0.23.2 (Oniguruma regex) produces for the same pattern
// on hand-picked and on 1500 random strings (testdata/hf_pretok*.json,
// made by scripts/assets/hf_fixtures.sh).
func TestPreTokenizeMatchesHF(t *testing.T) {
	for _, file := range []string{"testdata/hf_pretok.json", "testdata/hf_pretok_random.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cases []struct {
			Text   string   `json:"text"`
			Pieces []string `json:"pieces"`
		}
		if err := json.Unmarshal(data, &cases); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(cases) < 40 {
			t.Fatalf("only %d cases in %s", len(cases), file)
		}
		for _, c := range cases {
			var got []string
			PreTokenize(c.Text, func(p string) { got = append(got, p) })
			if !slices.Equal(got, c.Pieces) {
				t.Errorf("%s: PreTokenize(%q)\n got %q\nwant %q", file, short(c.Text), got, c.Pieces)
			}
		}
	}
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func TestPreTokenizeTable(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"it's", []string{"it", "'s"}},
		{"IT'S", []string{"IT", "'", "S"}}, // contractions are case-sensitive
		{"a  b", []string{"a", " ", " b"}},
		{"x \n\n y", []string{"x", " \n\n", " y"}},
		{"end  ", []string{"end", "  "}},
		{" 42nd", []string{" 42", "nd"}},
		{"\xff\xfe a", []string{"\xff\xfe", " a"}}, // invalid bytes are "other"
	}
	for _, tc := range tests {
		var got []string
		PreTokenize(tc.in, func(p string) { got = append(got, p) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("PreTokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzPreTokenize checks that pieces are non-empty, concatenate to the
// input, and are each split no further when pre-tokenized alone.
func FuzzPreTokenize(f *testing.F) {
	for _, s := range []string{"Hello  world's\n\n x", "1,000 'll ''s", "\xff a\u00a0b \u2028", "é\u0301 日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		PreTokenize(s, func(p string) {
			if p == "" {
				t.Fatalf("empty piece in %q", s)
			}
			b.WriteString(p)
			n := 0
			PreTokenize(p, func(q string) {
				if n++; q != p {
					t.Fatalf("piece %q of %q splits into %q", p, s, q)
				}
			})
		})
		if b.String() != s {
			t.Fatalf("pieces of %q concatenate to %q", s, b.String())
		}
	})
}
