package eval

import (
	"strings"
	"testing"
)

func TestScore(t *testing.T) {
	cases := []struct {
		name    string
		output  string
		answers []string
		want    float64
	}{
		{"passkey right", " 31415. Remember it.", []string{"31415"}, 1},
		{"passkey wrong", " 31416.", []string{"31415"}, 0},
		{"longer number is not a match", " 314159", []string{"31415"}, 0},
		{"prefix digits are not a match", "231415", []string{"31415"}, 0},
		{"second occurrence counts", "2314150 or 31415", []string{"31415"}, 1},
		{"case ignored", "the variables are abcde, FGHIJ", []string{"ABCDE", "fghij"}, 1},
		{"partial recall", "1234567 and 7654321", []string{"1234567", "7654321", "1111111", "2222222"}, 0.5},
		{"words inside words do not count", "start, smart", []string{"art"}, 0},
		{"words with punctuation", "1. art 2. (tent)", []string{"art", "tent"}, 1},
		{"hyphenated key", "for sunny-elephant is: 1234567", []string{"1234567"}, 1},
		{"no answers", "anything", nil, 0},
		{"empty output", "", []string{"x"}, 0},
		{"empty answer never found", "text", []string{""}, 0},
		{"unicode neighbours", "é31415", []string{"31415"}, 0},
	}
	for _, c := range cases {
		if got := Score(c.output, c.answers); got != c.want {
			t.Errorf("%s: Score(%q, %q) = %v, want %v", c.name, c.output, c.answers, got, c.want)
		}
	}
}

// FuzzScore checks that Score never panics and stays in [0, 1], and that
// an output made of the answers scores 1.
func FuzzScore(f *testing.F) {
	f.Add("1234 and 5678", "1234", "5678")
	f.Add("é\xff\xfe", "\xff", "é")
	f.Add("", "", "a")
	f.Fuzz(func(t *testing.T, out, a, b string) {
		s := Score(out, []string{a, b})
		if s < 0 || s > 1 {
			t.Fatalf("Score = %v", s)
		}
		if a != "" && b != "" && strings.ToLower(a) == a && strings.ToLower(b) == b &&
			strings.ToValidUTF8(a, "") == a && strings.ToValidUTF8(b, "") == b {
			if got := Score(" "+a+" , "+b+" ", []string{a, b}); got != 1 {
				// Answers that end or start in word characters glued
				// to the separators cannot fail; others may legitimately.
				if !strings.ContainsAny(a+b, " ,") {
					t.Fatalf("Score of an output listing %q and %q = %v", a, b, got)
				}
			}
		}
	})
}
