package analyze

import (
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/data"
)

// fakeVocab is a small vocabulary of token texts; ids >= len(texts)−1 of
// the last entry... id 0 is the special BOS.
type fakeVocab []string

func (v fakeVocab) TokenText(id int32) []byte { return []byte(v[id]) }
func (v fakeVocab) IsSpecial(id int32) bool   { return id == 0 }

var vocab = fakeVocab{
	"<|bos|>", " he", "he", "llo", " the", " and", " of", "'ll", " 12", "3", " one", ",", ".", "\n", " ",
	" cat", " is", " it", "s", " Hello", " dog", " that",
}

func id(t *testing.T, s string) int32 {
	i := slices.Index(vocab, s)
	if i < 0 {
		t.Fatalf("no token %q", s)
	}
	return int32(i)
}

func TestClassifierKind(t *testing.T) {
	c := NewClassifier(vocab)
	tests := []struct {
		doc  []string
		pos  int
		want Kind
	}{
		{[]string{"<|bos|>", " he", " is"}, 1, Pronoun},
		{[]string{"<|bos|>", " he", " is"}, 2, Auxiliary},
		{[]string{"<|bos|>", " he", " is"}, 0, Special},
		{[]string{" he", "llo"}, 0, Other},       // continues into a longer word
		{[]string{" the", "he"}, 1, Other},       // "he" inside "thehe"
		{[]string{",", "he", " is"}, 1, Pronoun}, // starts after punctuation
		{[]string{"he"}, 0, Pronoun},
		{[]string{" it", "'ll"}, 1, Auxiliary},
		{[]string{" it", "s"}, 0, Other}, // "its" is one word made of two tokens
		{[]string{" cat", " and", " dog"}, 1, Conjunction},
		{[]string{" cat", " of", " dog"}, 1, Adposition},
		{[]string{" cat", " that", " dog"}, 1, Conjunction},
		{[]string{" 12", "3"}, 0, Numeral},
		{[]string{" 12", "3"}, 1, Numeral},
		{[]string{" one", " dog"}, 0, Numeral},
		{[]string{" dog", ","}, 1, Punctuation},
		{[]string{" dog", "\n"}, 1, Whitespace},
		{[]string{" dog", " "}, 1, Whitespace},
		{[]string{" Hello", " dog"}, 0, Other},
		{[]string{" the", " dog"}, 0, Other},
	}
	for _, tc := range tests {
		doc := make([]int32, len(tc.doc))
		for i, s := range tc.doc {
			doc[i] = id(t, s)
		}
		if got := c.Kind(doc, tc.pos); got != tc.want {
			t.Errorf("Kind(%q, %d) = %v, want %v", tc.doc, tc.pos, got, tc.want)
		}
	}
	if got := c.TokenKind(id(t, " he")); got != Pronoun {
		t.Errorf("TokenKind(\" he\") = %v", got)
	}
}

func TestWordListsDisjoint(t *testing.T) {
	seen := map[string]Kind{}
	for k, words := range wordLists {
		for _, w := range words {
			if w != strings.ToLower(strings.TrimSpace(w)) {
				t.Errorf("%q is not lower-case and trimmed", w)
			}
			if prev, dup := seen[w]; dup {
				t.Errorf("%q listed as %v and %v", w, prev, k)
			}
			seen[w] = k
		}
	}
}

// fakeModel scores with a fixed log-prob per token id plus a deterministic
// per-position jitter; gain[id] is added for the "extended" model.
type fakeModel struct {
	gain map[int32]float32
}

func (f fakeModel) LogProbs(tokens, positions []int32) ([]float32, error) {
	out := make([]float32, len(tokens)-1)
	for t := range out {
		id := tokens[t+1]
		jitter := float32((int(id)*7919+t*104729)%1000) / 1e5 // < 0.01
		out[t] = float32(math.Log(0.05)) - jitter + f.gain[id]
	}
	return out, nil
}

// testDocs returns documents mixing words, function words and numbers.
func testDocs(t *testing.T, n, length int) [][]int32 {
	pattern := []string{" the", " cat", " is", " 12", "3", ",", " he", " and", " the", " dog", " of", " one", ".", "\n"}
	var docs [][]int32
	for d := range n {
		doc := []int32{0}
		for i := 0; len(doc) < length; i++ {
			doc = append(doc, id(t, pattern[(i*(d+3))%len(pattern)]))
		}
		docs = append(docs, doc)
	}
	return docs
}

// TestNumeralsLeadWhenExtendedGainsOnNumbers is issue 4's "done means" on
// fakes: the extended model gains probability on digit tokens only, so the
// analysis must put numerals first and choose exactly the digit ids.
func TestNumeralsLeadWhenExtendedGainsOnNumbers(t *testing.T) {
	docs := testDocs(t, 6, 300)
	base := fakeModel{}
	ext := fakeModel{gain: map[int32]float32{id(t, " 12"): 1.5, id(t, "3"): 1.2}}
	toks, err := ScoreModels(context.Background(), base, ext, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 6*299 {
		t.Fatalf("%d tokens scored, want %d", len(toks), 6*299)
	}
	c := NewClassifier(vocab)
	if err := Classify(toks, docs, c); err != nil {
		t.Fatal(err)
	}
	for _, score := range []string{"prob", "logprob"} {
		r, err := Aggregate(toks, c, Options{Buckets: []int{0, 64, 128}, Score: score})
		if err != nil {
			t.Fatal(err)
		}
		if r.KindsByRatio[0] != "numeral" {
			t.Errorf("%s: kinds by ratio %v, want numeral first", score, r.KindsByRatio)
		}
		// Digits are 2/14 of the tokens (" one" is a numeral without gain):
		// all of them make the top 20 %, so numerals are over half of it.
		num := r.Overall[Numeral]
		if num.TopShare < 0.6 || num.Ratio < 2.5 {
			t.Errorf("%s: numeral top share %.3f ratio %.2f", score, num.TopShare, num.Ratio)
		}
		for _, s := range r.IDs[:2] {
			if s.Kind != "numeral" || s.TopRate != 1 {
				t.Errorf("%s: id stat %+v, want a digit token always in the top set", score, s)
			}
		}
		want := []int32{id(t, " 12"), id(t, "3")}
		slices.Sort(want)
		if !slices.Equal(r.Impactful, want) {
			t.Errorf("%s: impactful ids %v, want %v", score, r.Impactful, want)
		}
		for _, b := range r.Buckets {
			if b.TopN != int(math.Ceil(0.2*float64(b.Tokens))) {
				t.Errorf("bucket %s: %d top of %d tokens", b.Label(), b.TopN, b.Tokens)
			}
		}
	}
}

func TestAggregateHandComputed(t *testing.T) {
	// Ten tokens in one bucket; Δlogprob = i/10 for token i. Top 20 %:
	// tokens 9 and 8 (" 12" numeral and "," punctuation).
	kinds := []Kind{Other, Other, Other, Pronoun, Pronoun, Other, Other, Other, Punctuation, Numeral}
	ids := []int32{15, 15, 15, 1, 1, 15, 15, 15, 11, 8}
	var toks []Token
	for i := range 10 {
		toks = append(toks, Token{Doc: 0, Pos: int32(i + 1), ID: ids[i], Base: -2, Ext: -2 + float32(i)/10, Kind: kinds[i]})
	}
	r, err := Aggregate(toks, NewClassifier(vocab), Options{Buckets: []int{0}, Score: "logprob", MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := r.Buckets[0]
	if b.Tokens != 10 || b.TopN != 2 || math.Abs(b.Threshold-0.8) > 1e-6 || b.Hi != -1 || b.Label() != "0+" {
		t.Fatalf("bucket %+v", b)
	}
	if math.Abs(b.MeanDeltaLogProb-0.45) > 1e-6 {
		t.Errorf("mean Δlogprob %g, want 0.45", b.MeanDeltaLogProb)
	}
	num := r.Overall[Numeral]
	if num.All != 1 || num.Top != 1 || num.AllShare != 0.1 || num.TopShare != 0.5 || math.Abs(num.Ratio-5) > 1e-9 {
		t.Errorf("numeral %+v", num)
	}
	if p := r.Overall[Pronoun]; p.Top != 0 || p.Ratio != 0 || p.All != 2 {
		t.Errorf("pronoun %+v", p)
	}
	// Impactful: top rate >= 0.4 with MinCount 1: ids 8 and 11 (rate 1).
	if !slices.Equal(r.Impactful, []int32{8, 11}) {
		t.Errorf("impactful %v", r.Impactful)
	}
	if r.IDs[0].ID != 8 && r.IDs[0].ID != 11 || r.IDs[0].TopCount != 1 {
		t.Errorf("first id stat %+v", r.IDs[0])
	}
	if r.Documents != 1 || r.Tokens != 10 {
		t.Errorf("documents %d tokens %d", r.Documents, r.Tokens)
	}
}

func TestAggregateErrors(t *testing.T) {
	toks := []Token{{Pos: 1}}
	c := NewClassifier(vocab)
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Buckets: []int{1, 2}}, "start at 0"},
		{Options{Buckets: []int{0, 5, 5}}, "strictly increasing"},
		{Options{Buckets: []int{0}, Top: 1.5}, "outside (0, 1]"},
		{Options{Buckets: []int{0}, Score: "logit"}, "neither prob nor logprob"},
		{Options{Buckets: []int{0}, MinRatio: -1}, "positive"},
	}
	for _, tc := range tests {
		if _, err := Aggregate(toks, c, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.opts, err, tc.want)
		}
	}
	if _, err := Aggregate(nil, c, Options{Buckets: []int{0}}); err == nil {
		t.Error("no tokens: no error")
	}
	inf := float32(math.Inf(-1))
	for _, bad := range []struct {
		tok     Token
		score   string
		wantErr bool
	}{
		{Token{Pos: -1}, "prob", true},
		{Token{Pos: 1, Kind: numKinds}, "prob", true},
		{Token{Pos: 1, Base: inf, Ext: inf}, "logprob", true}, // −Inf − −Inf
		{Token{Pos: 1, Base: inf, Ext: -1}, "logprob", true},
		{Token{Pos: 1, Base: inf, Ext: inf}, "prob", false}, // 0 − 0
	} {
		_, err := Aggregate([]Token{bad.tok}, c, Options{Buckets: []int{0}, Score: bad.score})
		if (err != nil) != bad.wantErr {
			t.Errorf("%+v (%s): err = %v", bad.tok, bad.score, err)
		}
	}
}

func TestBuckets(t *testing.T) {
	tests := []struct {
		in     string
		maxLen int
		want   []int
		err    bool
	}{
		{"auto", 8192, []int{0, 128, 256, 512, 1024, 2048, 4096}, false},
		{"", 512, []int{0, 16, 32, 64, 128, 256}, false},
		{"0,1000, 2000", 0, []int{0, 1000, 2000}, false},
		{"0,x", 0, nil, true},
		{"10,20", 0, nil, true},
	}
	for _, tc := range tests {
		got, err := ParseBuckets(tc.in, tc.maxLen)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("ParseBuckets(%q, %d) = %v, %v", tc.in, tc.maxLen, got, err)
		}
	}
}

// ctxModel encodes the context length of every prediction in its log-prob
// (−ctx/1000) and checks that each window is doc[0] followed by a
// contiguous run of the document (tokens are 1000+index, doc[0] = 0).
type ctxModel struct{ t *testing.T }

func (m ctxModel) LogProbs(tokens, positions []int32) ([]float32, error) {
	if positions != nil {
		m.t.Errorf("positions %v, want nil", positions)
	}
	for i := 2; i < len(tokens); i++ {
		if tokens[i] != tokens[i-1]+1 {
			m.t.Errorf("window %v is not contiguous", tokens)
			break
		}
	}
	if tokens[0] != 0 {
		m.t.Errorf("window starts with %d, want doc[0]", tokens[0])
	}
	out := make([]float32, len(tokens)-1)
	for j := range out {
		out[j] = -float32(j+1) / 1000
	}
	return out, nil
}

func TestScoreContextWindows(t *testing.T) {
	for _, tc := range []struct{ T, short, stride int }{{100, 10, 3}, {50, 16, 4}, {18, 16, 4}, {17, 16, 4}, {40, 8, 1}} {
		doc := []int32{0}
		for i := 1; i < tc.T; i++ {
			doc = append(doc, int32(1000+i))
		}
		toks, err := ScoreContext(context.Background(), ctxModel{t}, [][]int32{doc}, tc.short, tc.stride, nil)
		if err != nil {
			t.Fatal(err)
		}
		var pos []int32
		for _, k := range toks {
			pos = append(pos, k.Pos)
			full := int(math.Round(float64(-k.Ext * 1000)))
			short := int(math.Round(float64(-k.Base * 1000)))
			if full != int(k.Pos) || short < tc.short || short >= tc.short+tc.stride || short >= full || k.ID != doc[k.Pos] {
				t.Errorf("T=%d short=%d stride=%d: token %d has full context %d, short %d, id %d", tc.T, tc.short, tc.stride, k.Pos, full, short, k.ID)
			}
		}
		var want []int32
		for p := tc.short + 1; p < tc.T; p++ {
			want = append(want, int32(p))
		}
		if !slices.Equal(pos, want) {
			t.Errorf("T=%d short=%d stride=%d: scored positions %v, want %v", tc.T, tc.short, tc.stride, pos, want)
		}
	}
	if _, err := ScoreContext(context.Background(), ctxModel{t}, nil, 0, 1, nil); err == nil {
		t.Error("short 0: no error")
	}
}

type badModel struct{ n int }

func (b badModel) LogProbs(tokens, _ []int32) ([]float32, error) {
	out := make([]float32, len(tokens)-1+b.n)
	if b.n == 0 && len(out) > 0 {
		out[0] = 0.5
	}
	return out, nil
}

func TestScoreRejectsBadScorers(t *testing.T) {
	docs := [][]int32{{0, 1, 2}}
	for _, m := range []Scorer{badModel{1}, badModel{0}} {
		if _, err := ScoreModels(context.Background(), fakeModel{}, m, docs, nil); err == nil {
			t.Errorf("%+v accepted", m)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ScoreModels(ctx, fakeModel{}, fakeModel{}, docs, nil); err != context.Canceled {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestWriteOutputs(t *testing.T) {
	docs := testDocs(t, 3, 200)
	toks, err := ScoreModels(context.Background(), fakeModel{}, fakeModel{gain: map[int32]float32{id(t, "3"): 1}}, docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClassifier(vocab)
	if err := Classify(toks, docs, c); err != nil {
		t.Fatal(err)
	}
	r, err := Aggregate(toks, c, Options{Buckets: AutoBuckets(200)})
	if err != nil {
		t.Fatal(err)
	}
	r.Meta = map[string]string{"mode": "models"}
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteOutputs(dir, r, "abc123", "analyze test"); err != nil {
		t.Fatal(err)
	}
	// prepare's reader accepts the impactful set.
	set, f, err := data.ReadImpactful(filepath.Join(dir, ImpactfulJSON), "abc123", len(vocab))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(set.IDs(), r.Impactful) || f.Source != "analyze test" {
		t.Errorf("impactful file holds %v (%q), report says %v", set.IDs(), f.Source, r.Impactful)
	}
	if _, _, err := data.ReadImpactful(filepath.Join(dir, ImpactfulJSON), "other-tokenizer", 0); err == nil {
		t.Error("impactful set accepted for another tokenizer")
	}
	var back Report
	js, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &back); err != nil || back.Tokens != r.Tokens || back.Meta["mode"] != "models" {
		t.Errorf("report.json round trip: %v %+v", err, back.Meta)
	}
	for _, name := range []string{KindsPNG, RatioPNG} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestClassifyRejectsStrayTokens(t *testing.T) {
	docs := [][]int32{{0, 4, 15}}
	c := NewClassifier(vocab)
	for _, tok := range []Token{{Doc: 1, Pos: 1, ID: 4}, {Doc: 0, Pos: 3, ID: 4}, {Doc: 0, Pos: 1, ID: 5}, {Doc: -1}} {
		if err := Classify([]Token{tok}, docs, c); err == nil {
			t.Errorf("%+v: no error", tok)
		}
	}
	ok := []Token{{Doc: 0, Pos: 2, ID: 15}}
	if err := Classify(ok, docs, c); err != nil || ok[0].Kind != Other {
		t.Errorf("valid token: %v, kind %v", err, ok[0].Kind)
	}
}
