package model

import (
	"fmt"
	"math"
	"slices"
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
	out, lps, _, err := m.GenerateAndScoreBranch(prompt, maxNew, stop, conts, nil, nil)
	return out, lps, err
}

// GenerateAndScoreBranch does what GenerateAndScore does and then scores
// bconts after a second prompt, branch (the evaluation's prompt without
// its needle), as ContinuationLogProbs(branch, bconts) would. The tokens
// the two prompts share at the start are run once: their cache is kept
// and the rest of each prompt is prefilled after it. (Not under dynamic
// NTK scaling, where a prompt's RoPE frequencies depend on its length:
// there each prompt runs whole.) A nil branch scores nothing more.
func (m *Model) GenerateAndScoreBranch(prompt []int32, maxNew int, stop func(id int32) bool, conts [][]int32, branch []int32, bconts [][]int32) (out []int32, lps, blps [][]float32, err error) {
	if maxNew < 0 {
		return nil, nil, nil, fmt.Errorf("model: Generate: negative maxNew %d", maxNew)
	}
	if err := m.checkSeq("model: prompt", prompt, nil); err != nil {
		return nil, nil, nil, err
	}
	if branch != nil {
		if err := m.checkSeq("model: second prompt", branch, nil); err != nil {
			return nil, nil, nil, err
		}
	}
	for i, c := range append(slices.Clip(conts), bconts...) {
		if err := m.checkSeq(fmt.Sprintf("model: continuation %d", i), c, nil); err != nil {
			return nil, nil, nil, err
		}
	}
	c := m.NewCache()
	shared := 0
	if branch != nil && !m.dims.dynamicNTK {
		// Each prompt keeps at least one token of its own to prefill.
		shared = min(commonPrefix(prompt, branch), len(prompt)-1, len(branch)-1)
	}
	if shared > 0 {
		if _, err := m.Prefill(c, prompt[:shared], nil); err != nil {
			return nil, nil, nil, err
		}
	}
	fork := c.mark()
	first, err := m.Prefill(c, prompt[shared:], nil)
	if err != nil {
		return nil, nil, nil, err
	}
	start := c.mark()
	if out, err = m.greedy(c, first, int32(len(prompt)), maxNew, stop); err != nil {
		return out, nil, nil, err
	}
	c.rewind(start)
	if lps, err = m.scoreAfter(c, first, len(prompt), conts); err != nil || branch == nil {
		return out, lps, nil, err
	}
	c.rewind(fork)
	bfirst, err := m.Prefill(c, branch[shared:], nil)
	if err != nil {
		return out, lps, nil, err
	}
	blps, err = m.scoreAfter(c, bfirst, len(branch), bconts)
	return out, lps, blps, err
}

// scoreAfter returns the log-probabilities of each continuation's tokens
// after a prompt of n tokens held in c, whose next-token logits are first;
// c is rewound to the prompt after each continuation.
func (m *Model) scoreAfter(c *KVCache, first []float32, n int, conts [][]int32) ([][]float32, error) {
	start := c.mark()
	lps := make([][]float32, len(conts))
	for i, cont := range conts {
		logits := first
		lp := make([]float32, len(cont))
		for j, id := range cont {
			if j > 0 {
				var err error
				if logits, err = m.Decode(c, cont[j-1], int32(n+j-1)); err != nil {
					return nil, err
				}
			}
			lp[j] = logSoftmaxAt(logits, id)
		}
		lps[i] = lp
		c.rewind(start)
	}
	return lps, nil
}

// commonPrefix returns the number of tokens a and b share at the start.
func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
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
