package bpetrain

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
)

var update = flag.Bool("update", false, "rewrite testdata/small.json")

// smallModel trains the second fixture tokenizer: 400 tokens, no special
// tokens and no post-processor, on the first three addresses.
func smallModel(t *testing.T) *Model {
	docs, err := assets.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{docs[0].Text, docs[1].Text, docs[2].Text}
	words, err := CountWords(context.Background(), texts, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Train(context.Background(), words, Options{VocabSize: 400})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSmallTokenizerMatchesHF checks the variant without specials:
// testdata/small.json is what Train writes today (go test -update rewrites
// it; then rerun scripts/assets/hf_fixtures.sh), and encoding by its merges
// gives the ids Hugging Face gave (testdata/hf_ids_small.json).
func TestSmallTokenizerMatchesHF(t *testing.T) {
	got, err := smallModel(t).JSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/small.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("Train no longer writes testdata/small.json (run go test -update and scripts/assets/hf_fixtures.sh)")
	}
	e := newRefEncoder(t, want)
	fix, err := os.ReadFile("testdata/hf_ids_small.json")
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
		if ids := e.encode(t, c.Text); !slices.Equal(ids, c.IDs) {
			t.Errorf("encode(%q)\n got %v\nwant %v", short(c.Text), ids, c.IDs)
		}
		if !slices.Equal(c.IDsBOS, c.IDs) {
			t.Errorf("HF added special tokens to %q without a post-processor", short(c.Text))
		}
	}
}
