package steps

import (
	"cmp"
	"errors"
	"fmt"
	"io"

	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// AnalysisDocs are the documents an impactful-token analysis scores: the
// first n of at least 2 tokens, truncated to maxLen, of the corpus at path
// (data.OpenCorpus: JSONL with "text" — tokenized with BOS — or
// "input_ids" — checked against the tokenizer and used as they are —,
// Parquet, text files) or, when path is "", of texts (the caller's
// default).
func AnalysisDocs(path string, texts []string, tok *tokenizer.Tokenizer, n, maxLen int) ([][]int32, error) {
	var docs [][]int32
	add := func(ids []int32) {
		if len(ids) >= 2 {
			docs = append(docs, ids[:min(len(ids), maxLen)])
		}
	}
	if path == "" {
		for _, t := range texts {
			if len(docs) == n {
				break
			}
			add(tok.Encode(t, true))
		}
	} else if err := corpusDocs(path, tok, n, add, &docs); err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("analyze: %s has no document of at least 2 tokens", cmp.Or(path, "the default text"))
	}
	return docs, nil
}

// corpusDocs adds the documents of the corpus at path until docs has n.
func corpusDocs(path string, tok *tokenizer.Tokenizer, n int, add func([]int32), docs *[][]int32) error {
	c, err := data.OpenCorpus(path, data.CorpusOptions{})
	if err != nil {
		return err
	}
	defer c.Close()
	for len(*docs) < n {
		d, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = d.Decode()
		}
		if err != nil {
			return err
		}
		if d.IDs == nil {
			add(tok.Encode(d.Text, true))
			continue
		}
		for _, id := range d.IDs {
			if int(id) >= tok.VocabSize() {
				return fmt.Errorf("%s: token id %d is outside the tokenizer's %d ids", d.Source, id, tok.VocabSize())
			}
		}
		add(d.IDs)
	}
	return nil
}
