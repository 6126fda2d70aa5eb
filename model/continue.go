package model

import (
	"fmt"
	"math"
	"slices"
)

// Scoring several continuations of one prompt (the evaluation's ranking
// of an answer against distractors) with the prompt run once: the prompt
// is prefilled into a cache, the continuations run after it in one pass,
// each masked from the others, and the cache is rewound to the prompt.

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
// prompt's 0..len(prompt)−1. The prompt is run once, then all the
// continuations in one more pass. It agrees with LogProbs on
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
// c is left at the prompt. The continuations run together, in passes of
// at most scoreRows tokens, each token at its position after the prompt
// and seeing the prompt and its own continuation only (mask.seg): one
// pass reads the weights and the prompt's keys once for all of them.
// Under dynamic NTK, where a pass's frequencies depend on its longest
// position, each continuation is decoded alone instead.
func (m *Model) scoreAfter(c *KVCache, first []float32, n int, conts [][]int32) ([][]float32, error) {
	lps := make([][]float32, len(conts))
	for i, cont := range conts {
		lps[i] = make([]float32, len(cont))
		lps[i][0] = logSoftmaxAt(first, cont[0])
	}
	if m.dims.dynamicNTK {
		return lps, m.decodeEach(c, n, conts, lps)
	}
	for i0 := 0; i0 < len(conts); {
		i1, rows := i0, 0
		for i1 < len(conts) && (i1 == i0 || rows+len(conts[i1])-1 <= scoreRows) {
			rows += len(conts[i1]) - 1
			i1++
		}
		if err := m.scoreSegments(c, n, conts[i0:i1], lps[i0:i1]); err != nil {
			return nil, err
		}
		i0 = i1
	}
	return lps, nil
}

// scoreRows bounds the tokens of one scoring pass (its activations).
const scoreRows = 256

// scoreSegments runs conts (all tokens but each one's last) in one pass
// after the prompt of n tokens cached in c, and writes log p(cont[j]) for
// j ≥ 1 into lps; c is rewound to the prompt.
func (m *Model) scoreSegments(c *KVCache, n int, conts [][]int32, lps [][]float32) error {
	var tokens, pos, seg, targets []int32
	for _, cont := range conts {
		start := int32(n + len(tokens))
		for j := 0; j+1 < len(cont); j++ {
			tokens = append(tokens, cont[j])
			pos = append(pos, int32(n+j))
			seg = append(seg, start)
			targets = append(targets, cont[j+1])
		}
	}
	if len(tokens) == 0 {
		return nil
	}
	if err := m.checkSeq("model: continuations", tokens, pos); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	start := c.mark()
	defer c.rewind(start)
	if err := m.inferForward(tokens, pos, c, seg); err != nil {
		return err
	}
	out := make([]float32, len(tokens))
	m.lmHeadLoss(m.ws.xf, targets, nil, 0, out, m.inferThreads())
	r := 0
	for i, cont := range conts {
		for j := 1; j < len(cont); j++ {
			lps[i][j] = out[r]
			r++
		}
	}
	return nil
}

// decodeEach scores conts as scoreAfter does, one token at a time, each
// continuation decoded alone from the prompt.
func (m *Model) decodeEach(c *KVCache, n int, conts [][]int32, lps [][]float32) error {
	start := c.mark()
	for i, cont := range conts {
		for j := 1; j < len(cont); j++ {
			logits, err := m.Decode(c, cont[j-1], int32(n+j-1))
			if err != nil {
				return err
			}
			lps[i][j] = logSoftmaxAt(logits, cont[j])
		}
		c.rewind(start)
	}
	return nil
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
