package eval

import (
	"context"
	"fmt"
	"math"
)

// PPLBucket is the perplexity of the tokens at positions [From, To).
type PPLBucket struct {
	From   int     `json:"from"`
	To     int     `json:"to"`
	Tokens int     `json:"tokens"`
	NLL    float64 `json:"nll"` // mean negative log-likelihood, nats
	PPL    float64 `json:"ppl"` // exp(NLL)
}

// PPLResult is the perplexity part of an evaluation.
type PPLResult struct {
	// Source names the text.
	Source string `json:"source"`
	// Length is the length of each long sequence, Sequences how many.
	Length    int         `json:"length"`
	Sequences int         `json:"sequences"`
	Buckets   []PPLBucket `json:"buckets"`
	// Window is the short-context window (the model's original length)
	// and Windows how many were scored.
	Window   int     `json:"window"`
	Windows  int     `json:"windows"`
	ShortNLL float64 `json:"short_nll"`
	ShortPPL float64 `json:"short_ppl"`
}

// bucketEdges returns position bucket bounds for sequences of n tokens:
// [1, 64), then doubling, the last one ending at n.
func bucketEdges(n int) []int {
	edges := []int{1}
	for e := 64; e < n; e *= 2 {
		edges = append(edges, e)
	}
	return append(edges, n)
}

// tokenStream concatenates docs, each encoded with special tokens, until
// it holds need tokens (or the docs run out).
func tokenStream(tok Tokenizer, docs []string, need int) []int32 {
	var s []int32
	for _, d := range docs {
		if len(s) >= need {
			break
		}
		s = append(s, tok.Encode(d, true)...)
	}
	return s
}

// Perplexity scores up to sequences contiguous sequences of length tokens
// (positions 0..length−1) from docs and reports the loss by position
// bucket, then up to the same number of windows of window tokens
// (window 0: skipped). The text must hold at least one sequence and one
// window. tick, if not nil, is called after each scored sequence.
func Perplexity(ctx context.Context, s Scorer, tok Tokenizer, source string, docs []string, length, sequences, window int, tick func()) (*PPLResult, error) {
	if length < 2 || sequences < 1 || window < 0 || window == 1 {
		return nil, fmt.Errorf("eval: ppl: bad sizes (length %d, sequences %d, window %d)", length, sequences, window)
	}
	stream := tokenStream(tok, docs, max(length, window)*sequences)
	nseq := min(sequences, len(stream)/length)
	if nseq == 0 {
		return nil, fmt.Errorf("eval: ppl: text %s has %d tokens, fewer than one sequence of %d", source, len(stream), length)
	}
	res := &PPLResult{Source: source, Length: length, Sequences: nseq, Window: window}
	edges := bucketEdges(length)
	sum := make([]float64, len(edges)-1)
	cnt := make([]int, len(edges)-1)
	for i := 0; i < nseq; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lp, err := s.LogProbs(stream[i*length:(i+1)*length], nil)
		if err != nil {
			return nil, fmt.Errorf("eval: ppl sequence %d of %d tokens: %w", i, length, err)
		}
		if len(lp) != length-1 {
			return nil, fmt.Errorf("eval: ppl: scorer returned %d log-probabilities for %d tokens", len(lp), length)
		}
		b := 0
		for t, v := range lp {
			pos := t + 1 // position of the predicted token
			for pos >= edges[b+1] {
				b++
			}
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("eval: ppl sequence %d: log-probability %v at position %d", i, v, pos)
			}
			sum[b] -= float64(v)
			cnt[b]++
		}
		if tick != nil {
			tick()
		}
	}
	for b := range sum {
		if cnt[b] == 0 {
			continue
		}
		nll := sum[b] / float64(cnt[b])
		res.Buckets = append(res.Buckets, PPLBucket{From: edges[b], To: edges[b+1], Tokens: cnt[b], NLL: nll, PPL: math.Exp(nll)})
	}
	if window == 0 {
		return res, nil
	}
	nwin := min(sequences, len(stream)/window)
	if nwin == 0 {
		return nil, fmt.Errorf("eval: ppl: text %s has %d tokens, fewer than one window of %d", source, len(stream), window)
	}
	var total float64
	var n int
	for i := 0; i < nwin; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lp, err := s.LogProbs(stream[i*window:(i+1)*window], nil)
		if err != nil {
			return nil, fmt.Errorf("eval: ppl window %d of %d tokens: %w", i, window, err)
		}
		if len(lp) != window-1 {
			return nil, fmt.Errorf("eval: ppl: scorer returned %d log-probabilities for %d tokens", len(lp), window)
		}
		for _, v := range lp {
			total -= float64(v)
		}
		n += len(lp)
		if tick != nil {
			tick()
		}
	}
	res.Windows = nwin
	res.ShortNLL = total / float64(n)
	res.ShortPPL = math.Exp(res.ShortNLL)
	return res, nil
}
