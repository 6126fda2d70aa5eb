package eval

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// docScorer is fakeScorer that also checks every scored sequence: BOS
// (256) only at the start, and records the sequences.
type docScorer struct {
	fakeScorer
	seqs [][]int32
}

func (d *docScorer) LogProbs(tokens, positions []int32) ([]float32, error) {
	if i := slices.Index(tokens[1:], 256); i >= 0 {
		return nil, fmt.Errorf("BOS inside the sequence at %d", i+1)
	}
	d.seqs = append(d.seqs, tokens)
	return d.fakeScorer.LogProbs(tokens, positions)
}

// TestPerplexityOneDocumentPerSequence checks on byte tokens: long
// sequences are the beginnings of the documents long enough (the others
// skipped and counted), capped when asked; short windows lie inside
// documents, taken round-robin, until the asked number of tokens.
func TestPerplexityOneDocumentPerSequence(t *testing.T) {
	docs := []string{strings.Repeat("a", 299), strings.Repeat("b", 99), strings.Repeat("c", 499)} // 300, 100, 500 tokens with BOS
	cases := []struct {
		sequences, short        int
		wantSeq, wantWin, wantN int
		wantFirst               []byte // first byte after BOS of each window
	}{
		// 300/64 = 4 windows of a, 100/64 = 1 of b, 500/64 = 7 of c.
		{0, 0, 2, 12, 12 * 63, []byte("abcacacacccc")},
		{1, 0, 1, 12, 12 * 63, nil},
		// 200 tokens: 4 windows (3·63 < 200 ≤ 4·63), round-robin a, b, c, a.
		{0, 200, 2, 4, 4 * 63, []byte("abca")},
	}
	for _, c := range cases {
		s := &docScorer{}
		res, err := Perplexity(context.Background(), []Scorer{s}, byteTok{}, "t", docs, 256, c.sequences, 64, c.short, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sequences != c.wantSeq || res.TooShort != 1 || res.Documents != 3 || res.Windows != c.wantWin || res.ShortTokens != c.wantN {
			t.Errorf("sequences %d, short %d: %+v", c.sequences, c.short, res)
		}
		if s.seqs[0][0] != 256 || s.seqs[0][1] != 'a' || len(s.seqs[0]) != 256 || (c.wantSeq == 2 && s.seqs[1][1] != 'c') {
			t.Errorf("long sequences are not the documents' beginnings")
		}
		var got []byte
		for _, w := range s.seqs[c.wantSeq:] {
			if w[0] == 256 {
				got = append(got, byte(w[1]))
			} else {
				got = append(got, byte(w[0]))
			}
		}
		if c.wantFirst != nil && string(got) != string(c.wantFirst) {
			t.Errorf("windows from %q, want %q", got, c.wantFirst)
		}
		want := 0.0
		for pos := 1; pos < 64; pos++ {
			want += fakeNLL(pos)
		}
		if want /= 63; math.Abs(res.ShortNLL-want) > 1e-9 {
			t.Errorf("short NLL %v, want %v", res.ShortNLL, want)
		}
	}
	if _, err := Perplexity(context.Background(), []Scorer{&docScorer{}}, byteTok{}, "t", docs[1:2], 256, 0, 64, 0, nil); err == nil || !strings.Contains(err.Error(), "no document of 256 tokens") {
		t.Errorf("only short documents: error %v", err)
	}
}

// TestPerplexityScorers: sequences shared among several scorers give the
// result of one scorer, to the last bit (sums in the same order); every
// sequence is scored once.
func TestPerplexityScorers(t *testing.T) {
	docs := []string{strings.Repeat("a", 299), strings.Repeat("b", 99), strings.Repeat("c", 499), strings.Repeat("d", 700)}
	one, err := Perplexity(context.Background(), []Scorer{&docScorer{}}, byteTok{}, "t", docs, 256, 0, 64, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss := []*docScorer{{}, {}, {}}
	ticks := 0
	three, err := Perplexity(context.Background(), []Scorer{ss[0], ss[1], ss[2]}, byteTok{}, "t", docs, 256, 0, 64, 0, func(done, total int) { ticks++ })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, three) {
		t.Errorf("one scorer %+v, three %+v", one, three)
	}
	if n := len(ss[0].seqs) + len(ss[1].seqs) + len(ss[2].seqs); n != one.Sequences+one.Windows || ticks != n {
		t.Errorf("%d sequences scored, %d ticks; want %d", n, ticks, one.Sequences+one.Windows)
	}
}
