package model

import (
	"fmt"
	"math"
)

// Scoring several continuations of one prompt (the evaluation's ranking
// of an answer against distractors) with the prompt run once: the prompt
// is prefilled into a cache, each continuation is decoded token by token
// from it, and the cache is rewound to the prompt before the next one.

// cacheMark is a point a KVCache can be rewound to.
type cacheMark struct {
	n      int
	maxPos int32
}

// mark returns the cache's current point.
func (c *KVCache) mark() cacheMark { return cacheMark{c.n, c.maxPos} }

// rewind drops the tokens cached after mark (the layers append from their
// count, so the dropped rows are overwritten by the next tokens).
func (c *KVCache) rewind(mk cacheMark) {
	c.n, c.maxPos = mk.n, mk.maxPos
	for i := range c.layers {
		c.layers[i].n = mk.n
	}
}

// ContinuationLogProbs returns, for each continuation, the log-
// probabilities of its tokens after prompt: entry j of result i is
// log p(conts[i][j] | prompt, conts[i][:j]), positions continuing the
// prompt's 0..len(prompt)−1. The prompt is run once; each continuation
// costs one decoding step per token. It agrees with LogProbs on
// prompt + continuation up to float rounding.
func (m *Model) ContinuationLogProbs(prompt []int32, conts [][]int32) ([][]float32, error) {
	_, lps, err := m.GenerateAndScore(prompt, 0, nil, conts)
	return lps, err
}

// GenerateAndScore runs prompt once and, from its cache, generates up to
// maxNew tokens greedily (as Generate does, stopping before a token for
// which stop is true) and scores conts (as ContinuationLogProbs does).
// Its results are those of the two calls, bit for bit, for the price of
// one prefill.
func (m *Model) GenerateAndScore(prompt []int32, maxNew int, stop func(id int32) bool, conts [][]int32) ([]int32, [][]float32, error) {
	if maxNew < 0 {
		return nil, nil, fmt.Errorf("model: Generate: negative maxNew %d", maxNew)
	}
	if err := m.checkSeq("model: prompt", prompt, nil); err != nil {
		return nil, nil, err
	}
	for i, c := range conts {
		if err := m.checkSeq(fmt.Sprintf("model: continuation %d", i), c, nil); err != nil {
			return nil, nil, err
		}
	}
	c := m.NewCache()
	first, err := m.Prefill(c, prompt, nil)
	if err != nil {
		return nil, nil, err
	}
	first = append([]float32(nil), first...)
	start := c.mark()
	out, err := m.greedy(c, first, int32(len(prompt)), maxNew, stop)
	if err != nil {
		return out, nil, err
	}
	c.rewind(start)
	lps := make([][]float32, len(conts))
	for i, cont := range conts {
		logits := first
		lp := make([]float32, len(cont))
		for j, id := range cont {
			if j > 0 {
				if logits, err = m.Decode(c, cont[j-1], int32(len(prompt)+j-1)); err != nil {
					return out, nil, err
				}
			}
			lp[j] = logSoftmaxAt(logits, id)
		}
		lps[i] = lp
		c.rewind(start)
	}
	return out, lps, nil
}

// logSoftmaxAt returns log softmax(logits)[id], in float64.
func logSoftmaxAt(logits []float32, id int32) float32 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(float64(v) - mx)
	}
	return float32(float64(logits[id]) - mx - math.Log(s))
}
