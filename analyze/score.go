package analyze

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/longrecipe/longrecipe/internal/progress"
)

// Scorer scores a token sequence. *model.Model implements it.
type Scorer interface {
	// LogProbs returns len(tokens)−1 values: entry t is
	// log p(tokens[t+1] | tokens[0..t]) at the given position ids (nil:
	// 0..len−1).
	LogProbs(tokens, positions []int32) ([]float32, error)
}

// Token is one scored token occurrence.
type Token struct {
	Doc int32 // index of the document in the input
	Pos int32 // index of the token in its document (≥ 1)
	ID  int32 // the token
	// Base and Ext are log p(token | its prefix) under the base model and
	// the extended model (in context mode: with the short context and with
	// the full context).
	Base, Ext float32
	Kind      Kind
}

// DeltaProb is p_ext − p_base of the gold token.
func (t *Token) DeltaProb() float64 { return math.Exp(float64(t.Ext)) - math.Exp(float64(t.Base)) }

// DeltaLogProb is log p_ext − log p_base of the gold token.
func (t *Token) DeltaLogProb() float64 { return float64(t.Ext) - float64(t.Base) }

func checkScores(what string, lp []float32, want int) error {
	if len(lp) != want {
		return fmt.Errorf("analyze: %s returned %d log-probs, want %d", what, len(lp), want)
	}
	for i, v := range lp {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v > 1e-3 {
			return fmt.Errorf("analyze: %s returned log-prob %g at %d (not a finite log-probability)", what, v, i)
		}
	}
	return nil
}

func newBar(w io.Writer, docs [][]int32) *progress.Bar {
	if w == nil {
		return nil
	}
	var n int64
	for _, d := range docs {
		n += int64(len(d))
	}
	return progress.New(w, "analyze", n, "tokens")
}

// ScoreModels scores every token of docs (from position 1 on) under base
// and ext, each document in one pass at positions 0..len−1. Documents
// shorter than 2 tokens are skipped. progress, if not nil, shows a bar.
func ScoreModels(ctx context.Context, base, ext Scorer, docs [][]int32, progress io.Writer) ([]Token, error) {
	bar := newBar(progress, docs)
	var out []Token
	for d, doc := range docs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(doc) < 2 {
			continue
		}
		lb, err := base.LogProbs(doc, nil)
		if err != nil {
			return nil, fmt.Errorf("analyze: base model, document %d: %w", d, err)
		}
		if err := checkScores(fmt.Sprintf("base model on document %d", d), lb, len(doc)-1); err != nil {
			return nil, err
		}
		le, err := ext.LogProbs(doc, nil)
		if err != nil {
			return nil, fmt.Errorf("analyze: extended model, document %d: %w", d, err)
		}
		if err := checkScores(fmt.Sprintf("extended model on document %d", d), le, len(doc)-1); err != nil {
			return nil, err
		}
		for t := 1; t < len(doc); t++ {
			out = append(out, Token{Doc: int32(d), Pos: int32(t), ID: doc[t], Base: lb[t-1], Ext: le[t-1]})
		}
		if bar != nil {
			bar.Add(int64(len(doc)))
		}
	}
	if bar != nil {
		bar.Finish()
	}
	return out, nil
}

// ScoreContext scores every token of docs under one model twice: with its
// full prefix (Ext) and with a short context of between short and
// short+stride−1 tokens (Base), counting the document's first token (BOS),
// which starts every short window. Only tokens whose full prefix is longer
// than short are scored (pos > short). The targets pos in
// [short+1+b·stride, short+1+(b+1)·stride) are scored in one pass over
// doc[0] followed by doc[2+b·stride : short+1+(b+1)·stride], at positions
// 0..n−1. This costs about (short+stride)/stride tokens of passes per
// token; stride = short/4 keeps every context within 25 % of short.
func ScoreContext(ctx context.Context, m Scorer, docs [][]int32, short, stride int, progress io.Writer) ([]Token, error) {
	if short < 1 || stride < 1 {
		return nil, fmt.Errorf("analyze: short context %d and stride %d must be at least 1", short, stride)
	}
	bar := newBar(progress, docs)
	var out []Token
	window := make([]int32, 0, short+stride+1)
	for d, doc := range docs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		T := len(doc)
		if T <= short+1 {
			continue
		}
		full, err := m.LogProbs(doc, nil)
		if err != nil {
			return nil, fmt.Errorf("analyze: full context, document %d: %w", d, err)
		}
		if err := checkScores(fmt.Sprintf("full context of document %d", d), full, T-1); err != nil {
			return nil, err
		}
		for first := short + 1; first < T; first += stride {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			start := first - short + 1 // window text starts here, after doc[0]
			end := min(first+stride, T)
			window = append(window[:0], doc[0])
			window = append(window, doc[start:end]...)
			lp, err := m.LogProbs(window, nil)
			if err != nil {
				return nil, fmt.Errorf("analyze: short context, document %d, targets %d..%d: %w", d, first, end-1, err)
			}
			if err := checkScores(fmt.Sprintf("short context of document %d", d), lp, len(window)-1); err != nil {
				return nil, err
			}
			for t := first; t < end; t++ {
				// doc[t] is window[1+t−start], predicted by entry t−start.
				out = append(out, Token{Doc: int32(d), Pos: int32(t), ID: doc[t], Base: lp[t-start], Ext: full[t-1]})
			}
		}
		if bar != nil {
			bar.Add(int64(T))
		}
	}
	if bar != nil {
		bar.Finish()
	}
	return out, nil
}

// Classify sets the Kind of every token from its document. A token must
// point into docs and hold the id found there.
func Classify(tokens []Token, docs [][]int32, c *Classifier) error {
	for i := range tokens {
		t := &tokens[i]
		if t.Doc < 0 || int(t.Doc) >= len(docs) || t.Pos < 0 || int(t.Pos) >= len(docs[t.Doc]) || docs[t.Doc][t.Pos] != t.ID {
			return fmt.Errorf("analyze: token %d (id %d, document %d, position %d) is not in the %d documents", i, t.ID, t.Doc, t.Pos, len(docs))
		}
		t.Kind = c.Kind(docs[t.Doc], int(t.Pos))
	}
	return nil
}
