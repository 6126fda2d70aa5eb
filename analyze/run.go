package analyze

import (
	"context"
	"io"
)

// Job is one analysis from scores to its report: the whole of `longrecipe
// analyze` and of the experiment's analysis step once the models and
// documents are loaded (the caller writes the report, WriteOutputs).
type Job struct {
	// Base scores every token; with Extended set, the Δ of each token is
	// Extended's against Base's (models mode), else Base's with the full
	// context against a short one of Short tokens, Stride targets per
	// window (context mode, see ScoreContext).
	Base, Extended Scorer
	Short, Stride  int
	// Vocab classifies the tokens.
	Vocab   Vocab
	Docs    [][]int32
	Options Options
	// Meta is recorded in the report; Progress shows a bar.
	Meta     map[string]string
	Progress io.Writer
}

// Run scores, classifies and aggregates j's documents.
func Run(ctx context.Context, j Job) (*Report, error) {
	var toks []Token
	var err error
	if j.Extended != nil {
		toks, err = ScoreModels(ctx, j.Base, j.Extended, j.Docs, j.Progress)
	} else {
		toks, err = ScoreContext(ctx, j.Base, j.Docs, j.Short, j.Stride, j.Progress)
	}
	if err != nil {
		return nil, err
	}
	c := NewClassifier(j.Vocab)
	if err := Classify(toks, j.Docs, c); err != nil {
		return nil, err
	}
	r, err := Aggregate(toks, c, j.Options)
	if err != nil {
		return nil, err
	}
	r.Meta = j.Meta
	return r, nil
}
