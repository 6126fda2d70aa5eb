package model

import (
	"fmt"
)

// layerCache is one layer's cached keys (after RoPE) and values.
type layerCache struct {
	k, v []float32 // n rows of width KV·HD
	n    int
}

// KVCache holds the keys and values of the tokens a model has already
// seen, for incremental decoding. Create it with NewCache; it belongs to
// one model.
type KVCache struct {
	layers []layerCache
	n      int   // tokens cached
	maxPos int32 // largest position id seen (dynamic NTK)
}

// NewCache returns an empty key/value cache for m.
func (m *Model) NewCache() *KVCache {
	return &KVCache{layers: make([]layerCache, m.dims.L), maxPos: -1}
}

// Len returns the number of tokens in the cache.
func (c *KVCache) Len() int { return c.n }

// InferBytes is the memory an inference pass over T tokens keeps
// (workspace and key/value cache, float32): the two layer buffers and the
// final norm (3·D), one layer's activations (3·D + 2·QD + 2·KVD + 3·FF
// and the row statistics), RoPE tables (HD), the cache (2·L·KVD) and a
// chunk of LM-head logits. What Fork's copies add, one each.
func (m *Model) InferBytes(T int) int64 {
	d := &m.dims
	perToken := int64(6*d.D + 2*d.QD + 2*d.KVD + 3*d.FF + d.H + 3 + d.HD + 2*d.L*d.KVD)
	return 4 * (int64(T)*perToken + int64(ceChunkRows(d.V)*d.V))
}

// inferForward runs the layers over tokens (no backward), leaving the
// final normed hidden rows in ws.xf. With a cache, keys and values are
// appended to it and attention covers the cached tokens; seg, if not nil,
// makes the tokens segments after the cache (see mask). It returns
// ErrStopped when m.stop ends the pass between two layers.
func (m *Model) inferForward(tokens, pos []int32, c *KVCache, seg []int32) error {
	d := &m.dims
	ws := &m.ws
	T := len(tokens)
	threads := m.inferThreads()
	if len(ws.xs) < 2 {
		ws.xs = append(ws.xs, make([][]float32, 2-len(ws.xs))...)
	}
	ws.xs[0] = growF(ws.xs[0], T*d.D)
	ws.xs[1] = growF(ws.xs[1], T*d.D)
	if len(ws.acts) < 1 {
		ws.acts = make([]layerActs, 1)
	}
	a := &ws.acts[0]
	a.grow(T, d)
	ws.xf = growF(ws.xf, T*d.D)
	ws.rstdF = growF(ws.rstdF, T)
	maxPos := int32(-1)
	if c != nil {
		for _, p := range pos {
			c.maxPos = max(c.maxPos, p)
		}
		maxPos = c.maxPos
	}
	m.prepareRope(T, pos, maxPos)
	x, out := ws.xs[0], ws.xs[1]
	m.embedForward(x, tokens)
	for l := 0; l < d.L; l++ {
		if m.stop != nil && m.stop() {
			return ErrStopped
		}
		var kv *layerCache
		if c != nil {
			kv = &c.layers[l]
		}
		m.attnBlockForward(&m.layers[l], x, a, T, threads, kv, seg)
		m.mlpForward(&m.layers[l], a, out, T, threads)
		x, out = out, x
	}
	if c != nil {
		c.n += T
	}
	rmsnormForward(ws.xf, ws.rstdF, x, m.norm.W, T, d.D, d.eps)
	return nil
}

// LogProbs returns, for a sequence of T tokens at the given position ids
// (nil: 0..T−1), the T−1 values log p(tokens[t+1] | tokens[0..t]). The LM
// head is computed in chunks of rows, so memory grows as O(T·D), not T·V.
func (m *Model) LogProbs(tokens, positions []int32) ([]float32, error) {
	if err := m.checkSeq("model: LogProbs", tokens, positions); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	T := len(tokens)
	if err := m.inferForward(tokens, positions, nil, nil); err != nil {
		return nil, err
	}
	ws := &m.ws
	if cap(ws.targets) < T {
		ws.targets = make([]int32, T)
	}
	targets := ws.targets[:T]
	for t := range targets {
		targets[t] = -1
		if t+1 < T {
			targets[t] = tokens[t+1]
		}
	}
	out := make([]float32, T)
	m.lmHeadLoss(ws.xf, targets, nil, 0, out, m.inferThreads())
	return out[:T-1], nil
}

// Prefill runs tokens at the given positions (nil: continuing the cache,
// Len()..Len()+T−1) through the model in one batched pass, appending
// their keys and values to c, and returns the logits (V values) that
// predict the token after the last one.
func (m *Model) Prefill(c *KVCache, tokens, positions []int32) ([]float32, error) {
	if c == nil || len(c.layers) != m.dims.L {
		return nil, fmt.Errorf("model: Prefill needs a cache from this model's NewCache")
	}
	if positions == nil && len(tokens) > 0 {
		positions = make([]int32, len(tokens))
		for i := range positions {
			positions[i] = int32(c.n + i)
		}
	}
	if err := m.checkSeq("model: Prefill", tokens, positions); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.inferForward(tokens, positions, c, nil); err != nil {
		return nil, err
	}
	d := &m.dims
	T := len(tokens)
	logits := make([]float32, d.V)
	m.prec.gemmOn(m.inferThreads(), false, true, 1, d.V, d.D, 1, m.ws.xf[(T-1)*d.D:], d.D, m.lmHead.W, d.D, 0, logits, d.V)
	return logits, nil
}

// Decode feeds one token at position pos and returns the next logits.
func (m *Model) Decode(c *KVCache, token, pos int32) ([]float32, error) {
	return m.Prefill(c, []int32{token}, []int32{pos})
}

// Generate continues prompt greedily (argmax, lowest id on ties) for at
// most maxNew tokens, with a key/value cache: the prompt is prefilled in
// one pass at positions 0..len(prompt)−1 and each new token takes the next
// position. Generation stops before a token for which stop (if not nil)
// returns true; that token is not included. It returns the new tokens.
func (m *Model) Generate(prompt []int32, maxNew int, stop func(id int32) bool) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("model: Generate needs a non-empty prompt")
	}
	if maxNew < 0 {
		return nil, fmt.Errorf("model: Generate: negative maxNew %d", maxNew)
	}
	if maxNew == 0 {
		return nil, nil
	}
	c := m.NewCache()
	logits, err := m.Prefill(c, prompt, nil)
	if err != nil {
		return nil, err
	}
	return m.greedy(c, logits, int32(len(prompt)), maxNew, stop)
}

// greedy continues the sequence cached in c, whose next-token logits are
// logits and next position pos, by up to maxNew argmax tokens, stopping
// before a token for which stop is true.
func (m *Model) greedy(c *KVCache, logits []float32, pos int32, maxNew int, stop func(id int32) bool) ([]int32, error) {
	var out []int32
	if maxNew == 0 {
		return out, nil
	}
	var err error
	for {
		id := argmax(logits)
		if stop != nil && stop(id) {
			break
		}
		out = append(out, id)
		if len(out) == maxNew {
			break
		}
		if logits, err = m.Decode(c, id, pos); err != nil {
			return out, err
		}
		pos++
	}
	return out, nil
}

// argmax returns the index of the largest value (the first on ties).
func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}
