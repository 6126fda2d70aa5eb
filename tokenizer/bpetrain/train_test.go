package bpetrain

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// naiveTrain is the textbook algorithm, written independently of Train:
// every step recounts all pairs of all words from scratch, takes the most
// frequent (ties: smallest left id, then right id) and merges it left to
// right everywhere.
func naiveTrain(words WordCounts, vocabSize int) (vocab []string, merges [][2]int32) {
	for id := range 256 {
		vocab = append(vocab, string(byteRune[idByte[id]]))
	}
	type word struct {
		s []int32
		n int64
	}
	var ws []word
	for k, n := range words {
		s := make([]int32, len(k))
		for i := range len(k) {
			s[i] = byteID[k[i]]
		}
		ws = append(ws, word{s, n})
	}
	for len(vocab) < vocabSize {
		counts := map[[2]int32]int64{}
		for _, w := range ws {
			for i := 0; i+1 < len(w.s); i++ {
				counts[[2]int32{w.s[i], w.s[i+1]}] += w.n
			}
		}
		var best [2]int32
		var bestN int64
		for p, n := range counts {
			if n > bestN || (n == bestN && (p[0] < best[0] || (p[0] == best[0] && p[1] < best[1]))) {
				best, bestN = p, n
			}
		}
		if bestN == 0 {
			return vocab, merges
		}
		text := vocab[best[0]] + vocab[best[1]]
		id := int32(slices.Index(vocab, text))
		if id < 0 {
			id = int32(len(vocab))
			vocab = append(vocab, text)
		}
		merges = append(merges, best)
		for wi := range ws {
			s := ws[wi].s
			var out []int32
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, id)
					i++
				} else {
					out = append(out, s[i])
				}
			}
			ws[wi].s = out
		}
	}
	return vocab, merges
}

func randomCorpus(r *rand.Rand, n int, alphabet string) []string {
	texts := make([]string, n)
	for i := range texts {
		var b strings.Builder
		for range 1 + r.IntN(60) {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		texts[i] = b.String()
	}
	return texts
}

func TestTrainMatchesNaive(t *testing.T) {
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name  string
		texts []string
		vocab int
	}{
		{"aaaa runs", []string{"aaaa aaa aa a aaaaaaa", "aaaaa"}, 262},
		{"aaaa unreachable", []string{"aaaa aaa aa a aaaaaaa", "aaaaa"}, 280},
		{"random ab", randomCorpus(r, 200, "aab "), 300},
		{"random abc+digits", randomCorpus(r, 300, "abcab c1212'\n"), 400},
		{"utf8", []string{"日本語のテキスト 日本 日本語", "été café naïve é\u0301", "🎉🎉🎉 🎉"}, 280},
		{"sotu 3 docs", []string{docs[0].Text, docs[100].Text, docs[200].Text}, 600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			words, err := CountWords(context.Background(), tc.texts, nil, 2)
			if err != nil {
				t.Fatal(err)
			}
			wantVocab, wantMerges := naiveTrain(words, tc.vocab)
			t.Logf("%d words, naive trainer reached %d tokens", len(words), len(wantVocab))
			m, err := Train(context.Background(), words, Options{VocabSize: tc.vocab})
			if len(wantVocab) < tc.vocab {
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("corpus allows %d tokens; Train(%d) err = %v", len(wantVocab), tc.vocab, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Vocab, wantVocab) {
				t.Errorf("vocab differs from the naive trainer's")
			}
			if !slices.Equal(m.Merges, wantMerges) {
				for i := range min(len(m.Merges), len(wantMerges)) {
					if m.Merges[i] != wantMerges[i] {
						t.Fatalf("merge %d: got %v want %v (of %d/%d)", i, m.Merges[i], wantMerges[i], len(m.Merges), len(wantMerges))
					}
				}
				t.Fatalf("got %d merges, want %d", len(m.Merges), len(wantMerges))
			}
		})
	}
}

func TestTrainUnreachable(t *testing.T) {
	words := WordCounts{"ab": 3, "abc": 1}
	_, err := Train(context.Background(), words, Options{VocabSize: 300})
	if err == nil || !strings.Contains(err.Error(), "at most 258") {
		t.Fatalf("err = %v, want unreachable with at most 258", err)
	}
}

func TestTrainOptionErrors(t *testing.T) {
	words := WordCounts{"hello": 3}
	tests := []struct {
		opts Options
		want string
	}{
		{Options{VocabSize: 255}, "below 256"},
		{Options{VocabSize: 257, Specials: []string{"<a>", "<b>"}}, "below 258"},
		{Options{VocabSize: 1_000_000_000}, "above 1048576"},
		{Options{VocabSize: 300, Specials: []string{"<a>", "<a>"}}, "given twice"},
		{Options{VocabSize: 300, Specials: []string{""}}, "empty"},
		{Options{VocabSize: 300, Specials: []string{" <a>"}}, "surrounding spaces"},
		{Options{VocabSize: 300, Specials: []string{"<a>"}, BOS: "<s>"}, "not one of the special"},
	}
	for _, tc := range tests {
		_, err := Train(context.Background(), words, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestTrainCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Train(ctx, WordCounts{"hello world": 2}, Options{VocabSize: 260})
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCountWords(t *testing.T) {
	texts := []string{"the cat<|eos|>the dog", "the<|bos|> cat's", "x"}
	got, err := CountWords(context.Background(), texts, []string{"<|eos|>", "<|bos|>"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := WordCounts{"the": 3, " cat": 2, " dog": 1, "'s": 1, "x": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CountWords = %v, want %v", got, want)
	}
	if _, err := CountWords(context.Background(), []string{"ok", "bad \xff"}, nil, 1); err == nil || !strings.Contains(err.Error(), "text 1") {
		t.Errorf("invalid UTF-8: err = %v", err)
	}
}

// TestTrainDeterministic trains twice (map iteration order differs between
// runs) and expects identical files.
func TestTrainDeterministic(t *testing.T) {
	texts := randomCorpus(rand.New(rand.NewPCG(3, 4)), 500, "abcdefg  ")
	var files [2][]byte
	for i := range files {
		words, err := CountWords(context.Background(), texts, nil, i+1)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Train(context.Background(), words, Options{VocabSize: 500, Specials: []string{"<s>"}, BOS: "<s>"})
		if err != nil {
			t.Fatal(err)
		}
		if files[i], err = m.JSON(); err != nil {
			t.Fatal(err)
		}
	}
	if string(files[0]) != string(files[1]) {
		t.Fatal("two trainings on the same texts differ")
	}
}

func TestReadTexts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, content string
		want          []string
		err           string
	}{
		{"a.txt", "plain text\nline 2", []string{"plain text\nline 2"}, ""},
		{"b.jsonl", "{\"text\":\"one\"}\n\n{\"text\":\"two\",\"id\":3}\n", []string{"one", "two"}, ""},
		{"c.jsonl", "{\"text\":\"one\"}\n{\"body\":\"x\"}\n", nil, "line 2: no \"text\""},
		{"d.jsonl", "{\"text\":\n", nil, "line 1"},
		{"e.txt", "bad \xff", nil, "not valid UTF-8"},
		{"f.ndjson", "{\"text\":\"x\"}", []string{"x"}, ""},
	}
	for _, tc := range tests {
		got, err := ReadTexts(write(tc.name, tc.content))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("%s: err = %v, want %q and the file name", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, %v", tc.name, got, err)
		}
	}
	// Gzipped JSONL.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("{\"text\":\"zipped\"}\n"))
	zw.Close()
	if got, err := ReadTexts(write("g.jsonl.gz", gz.String())); err != nil || !slices.Equal(got, []string{"zipped"}) {
		t.Errorf("g.jsonl.gz: %q, %v", got, err)
	}
	if _, err := ReadTexts(write("h.jsonl.gz", "not gzip")); err == nil || !strings.Contains(err.Error(), "h.jsonl.gz") {
		t.Errorf("h.jsonl.gz: err = %v", err)
	}
	if _, err := ReadTexts(filepath.Join(dir, "missing.txt")); err == nil {
		t.Error("missing file: no error")
	}
}

// tokJSON is the part of tokenizer.json the tests read.
type tokJSON struct {
	AddedTokens []struct {
		ID      int32  `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer struct {
		Type          string `json:"type"`
		Pretokenizers []struct {
			Type    string `json:"type"`
			Pattern struct {
				Regex string
			} `json:"pattern"`
			Behavior string `json:"behavior"`
		} `json:"pretokenizers"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type   string           `json:"type"`
		Vocab  map[string]int32 `json:"vocab"`
		Merges []string         `json:"merges"`
	} `json:"model"`
}

// refEncoder encodes text with a tokenizer.json the way Hugging Face's BPE
// model does: split out added tokens, pre-tokenize, map bytes to GPT-2
// characters, then repeatedly merge the adjacent pair of lowest merge rank.
type refEncoder struct {
	tj    tokJSON
	rank  map[string]int
	added map[string]int32
}

func newRefEncoder(t *testing.T, data []byte) *refEncoder {
	var e refEncoder
	if err := json.Unmarshal(data, &e.tj); err != nil {
		t.Fatal(err)
	}
	e.rank = map[string]int{}
	for r, m := range e.tj.Model.Merges {
		e.rank[m] = r
	}
	e.added = map[string]int32{}
	for _, a := range e.tj.AddedTokens {
		e.added[a.Content] = a.ID
	}
	return &e
}

func (e *refEncoder) encode(t *testing.T, text string) []int32 {
	var ids []int32
	for len(text) > 0 {
		// Leftmost added token.
		at, which := len(text), ""
		for a := range e.added {
			if i := strings.Index(text, a); i >= 0 && (i < at || (i == at && len(a) > len(which))) {
				at, which = i, a
			}
		}
		PreTokenize(text[:at], func(p string) {
			syms := []string{}
			for _, r := range ByteLevel([]byte(p)) {
				syms = append(syms, string(r))
			}
			for {
				best, bi := -1, -1
				for i := 0; i+1 < len(syms); i++ {
					if r, ok := e.rank[syms[i]+" "+syms[i+1]]; ok && (best < 0 || r < best) {
						best, bi = r, i
					}
				}
				if bi < 0 {
					break
				}
				syms = append(syms[:bi], append([]string{syms[bi] + syms[bi+1]}, syms[bi+2:]...)...)
			}
			for _, s := range syms {
				id, ok := e.tj.Model.Vocab[s]
				if !ok {
					t.Fatalf("token %q not in vocab", s)
				}
				ids = append(ids, id)
			}
		})
		if which == "" {
			break
		}
		ids = append(ids, e.added[which])
		text = text[at+len(which):]
	}
	return ids
}

// TestShippedTokenizerMatchesHF checks assets/tokenizer.json: its
// structure, and that encoding the fixture texts by the file's merges gives
// the ids Hugging Face tokenizers 0.23.2 gave (testdata/hf_ids.json).
func TestShippedTokenizerMatchesHF(t *testing.T) {
	data := assets.TokenizerJSON()
	e := newRefEncoder(t, data)
	tj := e.tj
	if tj.Model.Type != "BPE" || len(tj.Model.Vocab) != 4093 || len(tj.Model.Merges) != 3837 {
		t.Fatalf("model %s with %d vocab, %d merges", tj.Model.Type, len(tj.Model.Vocab), len(tj.Model.Merges))
	}
	if len(tj.AddedTokens) != 3 || tj.AddedTokens[0].Content != "<|bos|>" || tj.AddedTokens[0].ID != 4093 || tj.AddedTokens[2].ID != 4095 {
		t.Fatalf("added tokens %+v", tj.AddedTokens)
	}
	if p := tj.PreTokenizer; p.Type != "Sequence" || len(p.Pretokenizers) != 2 || p.Pretokenizers[0].Pattern.Regex != SplitPattern ||
		p.Pretokenizers[0].Behavior != "Isolated" || p.Pretokenizers[1].Type != "ByteLevel" {
		t.Fatalf("pre_tokenizer %+v", p)
	}
	fix, err := os.ReadFile("testdata/hf_ids.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Text   string  `json:"text"`
		IDs    []int32 `json:"ids"`
		IDsBOS []int32 `json:"ids_bos"`
	}
	if err := json.Unmarshal(fix, &cases); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range cases {
		got := e.encode(t, c.Text)
		total += len(got)
		if !slices.Equal(got, c.IDs) {
			t.Errorf("encode(%q)\n got %v\nwant %v", short(c.Text), got, c.IDs)
		}
		if want := append([]int32{4093}, c.IDs...); !slices.Equal(c.IDsBOS, want) {
			t.Errorf("HF with special tokens gave %v, want BOS + ids", c.IDsBOS)
		}
	}
	if total < 2000 {
		t.Errorf("fixture covers only %d tokens", total)
	}
}

// TestShippedTokenizerIsReproducible retrains the shipped tokenizer with
// the command in assets/README.md's settings and compares bytes.
func TestShippedTokenizerIsReproducible(t *testing.T) {
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	train, _, err := assets.Split(docs, assets.DefaultHeldOutPercent)
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(train))
	for i, d := range train {
		texts[i] = d.Text
	}
	specials := []string{"<|bos|>", "<|eos|>", "<|pad|>"}
	words, err := CountWords(context.Background(), texts, specials, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Train(context.Background(), words, Options{VocabSize: 4096, Specials: specials, BOS: "<|bos|>"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(assets.TokenizerJSON()) {
		t.Fatal("retrained tokenizer differs from assets/tokenizer.json; rebuild it with the command in assets/README.md")
	}
}

// TestGoTokenizerMatchesHF loads the shipped tokenizer with package
// tokenizer and compares its ids with Hugging Face's on the fixture texts.
func TestGoTokenizerMatchesHF(t *testing.T) {
	tok, err := tokenizer.Parse(assets.TokenizerJSON(), "assets/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	fix, err := os.ReadFile("testdata/hf_ids.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Text   string  `json:"text"`
		IDs    []int32 `json:"ids"`
		IDsBOS []int32 `json:"ids_bos"`
	}
	if err := json.Unmarshal(fix, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if got := tok.Encode(c.Text, false); !slices.Equal(got, c.IDs) {
			t.Errorf("Encode(%q, false)\n got %v\nwant %v", short(c.Text), got, c.IDs)
		}
		if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDsBOS) {
			t.Errorf("Encode(%q, true)\n got %v\nwant %v", short(c.Text), got, c.IDsBOS)
		}
		if got := tok.Decode(c.IDs, false); got != c.Text {
			t.Errorf("Decode gives %q, want %q", short(got), short(c.Text))
		}
	}
}

// FuzzTrain checks Train against naiveTrain on arbitrary small texts.
func FuzzTrain(f *testing.F) {
	f.Add("aaaa aaa aa a", uint8(10))
	f.Add("the cat's hat\n\n  is 1234 and 12,34", uint8(40))
	f.Add("日本語 日本 ééé", uint8(20))
	f.Fuzz(func(t *testing.T, text string, extra uint8) {
		if !utf8.ValidString(text) || len(text) > 400 {
			return
		}
		words, err := CountWords(context.Background(), strings.SplitAfter(text, "\n"), nil, 2)
		if err != nil {
			t.Fatal(err)
		}
		vocab := 256 + int(extra)
		wantVocab, wantMerges := naiveTrain(words, vocab)
		m, err := Train(context.Background(), words, Options{VocabSize: vocab})
		if len(wantVocab) < vocab {
			if err == nil {
				t.Fatalf("naive trainer stops at %d tokens, Train reached %d", len(wantVocab), vocab)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.Vocab, wantVocab) || !slices.Equal(m.Merges, wantMerges) {
			t.Fatalf("Train differs from the naive trainer on %q (vocab %d)", text, vocab)
		}
	})
}
