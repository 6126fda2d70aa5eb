package eval

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
)

// PPLBucket is the perplexity of the tokens at positions [From, To).
type PPLBucket struct {
	From   int     `json:"from"`
	To     int     `json:"to"`
	Tokens int     `json:"tokens"`
	NLL    float64 `json:"nll"` // mean negative log-likelihood, nats
	PPL    float64 `json:"ppl"` // exp(NLL)
}

// ShortPPLTokens is the least number of tokens short-context perplexity
// is measured on by default, when the text has that many.
const ShortPPLTokens = 20000

// PPLResult is the perplexity part of an evaluation.
type PPLResult struct {
	// Source names the text.
	Source string `json:"source"`
	// Length is the length of each long sequence, Sequences how many were
	// scored: each is the first Length tokens of one document (BOS
	// first, no document boundary inside). Documents is how many
	// documents were offered and TooShort how many of them had fewer
	// than Length tokens and were skipped.
	Length    int         `json:"length"`
	Sequences int         `json:"sequences"`
	Documents int         `json:"documents"`
	TooShort  int         `json:"too_short"`
	Buckets   []PPLBucket `json:"buckets"`
	// Window is the short-context window (the model's original length)
	// and Windows how many were scored, ShortTokens the tokens predicted
	// in them (at least the asked number, ShortPPLTokens by default, when
	// the text has them). Each window lies inside one document.
	Window      int     `json:"window"`
	Windows     int     `json:"windows"`
	ShortTokens int     `json:"short_tokens"`
	ShortNLL    float64 `json:"short_nll"`
	ShortPPL    float64 `json:"short_ppl"`
	// Docs are the long sequences one by one (ppl_docs.jsonl), for
	// paired comparisons of models over the same documents.
	Docs []PPLDoc `json:"docs,omitempty"`
}

// PPLDoc is the loss on one long sequence: Doc is its document's index in
// the text, NLL the mean over its Tokens predicted tokens, BucketNLL the
// mean in each bucket of PPLResult.Buckets (same order).
type PPLDoc struct {
	Doc       int       `json:"doc"`
	Tokens    int       `json:"tokens"`
	NLL       float64   `json:"nll"`
	BucketNLL []float64 `json:"bucket_nll"`
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

// pplPlan is what Perplexity scores: long sequences and short windows.
type pplPlan struct {
	long, short [][]int32
	longDoc     []int // document index of each long sequence
	tooShort    int
}

// planPPL encodes docs (each with its special tokens) and picks the long
// sequences (the first length tokens of each document that has them, at
// most sequences of them; 0: all) and the short windows (window-token
// slices inside documents, taken round-robin: the first window of every
// document, then the second, ... until short tokens are predicted or the
// documents run out).
func planPPL(tok Tokenizer, docs []string, length, sequences, window, short int) pplPlan {
	var p pplPlan
	ids := make([][]int32, len(docs))
	for i, d := range docs {
		ids[i] = tok.Encode(d, true)
		if len(ids[i]) < length {
			p.tooShort++
		} else if sequences == 0 || len(p.long) < sequences {
			p.long = append(p.long, ids[i][:length])
			p.longDoc = append(p.longDoc, i)
		}
	}
	if window == 0 {
		return p
	}
	predicted := 0
	for k, more := 0, true; more && predicted < short; k++ {
		more = false
		for _, d := range ids {
			if (k+1)*window > len(d) || predicted >= short {
				continue
			}
			more = true
			p.short = append(p.short, d[k*window:(k+1)*window])
			predicted += window - 1
		}
	}
	return p
}

// Perplexity reports the loss by position bucket over long sequences of
// length tokens, each one document's beginning (positions 0..length−1;
// documents shorter than length are skipped and counted; at most
// sequences of them, 0: every one), then the loss over short windows of
// window tokens (0: skipped) adding up to at least short predicted tokens
// (0: ShortPPLTokens) when the text has them. The text must hold at least
// one long sequence and one window. tick, if not nil, is called after
// each scored sequence or window with the number done and the total.
func Perplexity(ctx context.Context, ss []Scorer, tok Tokenizer, source string, docs []string, length, sequences, window, short int, tick func(done, total int)) (*PPLResult, error) {
	if len(ss) == 0 {
		return nil, fmt.Errorf("eval: ppl: no scorer")
	}
	if length < 2 || sequences < 0 || window < 0 || window == 1 || short < 0 {
		return nil, fmt.Errorf("eval: ppl: bad sizes (length %d, sequences %d, window %d, short tokens %d)", length, sequences, window, short)
	}
	if short == 0 {
		short = ShortPPLTokens
	}
	plan := planPPL(tok, docs, length, sequences, window, short)
	if len(plan.long) == 0 {
		return nil, fmt.Errorf("eval: ppl: text %s has no document of %d tokens (%d documents)", source, length, len(docs))
	}
	if window > 0 && len(plan.short) == 0 {
		return nil, fmt.Errorf("eval: ppl: text %s has no document of one window (%d tokens)", source, window)
	}
	res := &PPLResult{Source: source, Length: length, Sequences: len(plan.long), Documents: len(docs), TooShort: plan.tooShort, Window: window}
	seqs := plan.long
	if window > 0 {
		seqs = append(slices.Clip(seqs), plan.short...)
	}
	lps, err := scoreAll(ctx, ss, seqs, tick)
	if err != nil {
		return nil, err
	}
	res.Buckets, res.Docs = pplBuckets(bucketEdges(length), lps[:len(plan.long)], plan.longDoc)
	if window == 0 {
		return res, nil
	}
	var nllSum float64
	for _, lp := range lps[len(plan.long):] {
		for _, v := range lp {
			nllSum -= float64(v)
		}
		res.ShortTokens += len(lp)
	}
	res.Windows = len(plan.short)
	res.ShortNLL = nllSum / float64(res.ShortTokens)
	res.ShortPPL = math.Exp(res.ShortNLL)
	return res, nil
}

// pplBuckets returns the loss of the long sequences lps by position
// bucket (edges from bucketEdges; empty buckets left out) and per
// sequence (docs: each one's document index).
func pplBuckets(edges []int, lps [][]float32, docs []int) ([]PPLBucket, []PPLDoc) {
	sum := make([]float64, len(edges)-1)
	cnt := make([]int, len(edges)-1)
	var perDoc []PPLDoc
	for i, lp := range lps {
		dsum := make([]float64, len(edges)-1)
		dcnt := make([]int, len(edges)-1)
		b := 0
		for t, v := range lp {
			pos := t + 1 // position of the predicted token
			for pos >= edges[b+1] {
				b++
			}
			dsum[b] -= float64(v)
			dcnt[b]++
		}
		d := PPLDoc{Doc: docs[i], Tokens: len(lp)}
		for b := range dsum {
			sum[b] += dsum[b]
			cnt[b] += dcnt[b]
			d.NLL += dsum[b] / float64(len(lp))
			if dcnt[b] > 0 {
				d.BucketNLL = append(d.BucketNLL, dsum[b]/float64(dcnt[b]))
			}
		}
		perDoc = append(perDoc, d)
	}
	var buckets []PPLBucket
	for b := range sum {
		if cnt[b] == 0 {
			continue
		}
		nll := sum[b] / float64(cnt[b])
		buckets = append(buckets, PPLBucket{From: edges[b], To: edges[b+1], Tokens: cnt[b], NLL: nll, PPL: math.Exp(nll)})
	}
	return buckets, perDoc
}

// scoreAll scores seqs on the scorers, one sequence at a time on each,
// and returns the log-probabilities in the order of seqs (sums over them
// are then the same whatever the number of scorers). tick, if not nil,
// is called after each sequence with the number done and the total. The
// first error stops the rest.
func scoreAll(ctx context.Context, ss []Scorer, seqs [][]int32, tick func(done, total int)) ([][]float32, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lps := make([][]float32, len(seqs))
	var mu sync.Mutex
	next, done := 0, 0
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(seqs) || ctx.Err() != nil {
					return
				}
				lp, err := scoreSeq(ctx, s, seqs[i])
				if err != nil {
					cancel(fmt.Errorf("eval: ppl sequence %d of %d tokens: %w", i, len(seqs[i]), err))
					return
				}
				mu.Lock()
				lps[i] = lp
				done++
				if tick != nil {
					tick(done, len(seqs))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return lps, nil
}

// scoreSeq returns the checked log-probabilities of seq.
func scoreSeq(ctx context.Context, s Scorer, seq []int32) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lp, err := s.LogProbs(seq, nil)
	if err != nil {
		return nil, err
	}
	if len(lp) != len(seq)-1 {
		return nil, fmt.Errorf("scorer returned %d log-probabilities for %d tokens", len(lp), len(seq))
	}
	for t, v := range lp {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("log-probability %v at position %d", v, t+1)
		}
	}
	return lp, nil
}
