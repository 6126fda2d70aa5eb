package model

// The gradient rule (as in llm.c): every backward function ADDS (+=) its
// contribution into the gradients of its inputs — activations and
// parameters alike — and never overwrites them. Whoever owns a gradient
// buffer zeroes it once, right before the first backward that adds into
// it; a buffer that several paths feed (a residual stream, the shared
// inputs of the q, k and v projections) then needs nothing more. The one
// exception is RoPE's backward, a rotation applied in place to the
// gradient of the rotated tensor (nothing else feeds that buffer).

import (
	"errors"
	"fmt"
)

// Options control a training forward/backward pass.
type Options struct {
	// Checkpointing keeps only each layer's input during the forward pass
	// and recomputes the layer's activations during the backward pass
	// (layer-level activation checkpointing): activation memory is then
	// (L+c)·T·D floats instead of about L·(6D+3FF)·T.
	Checkpointing bool
	// Threads bounds the goroutines of attention and elementwise work
	// (0: GOMAXPROCS). Matrix multiplies use the kernels package's own
	// parallelism.
	Threads int
	// GradScale multiplies every gradient (0 means 1), e.g. 1/N to get the
	// gradient of the mean loss over N tokens known in advance.
	GradScale float32
	// Stop, when set, is asked before each layer of the forward and the
	// backward pass; when it returns true the pass ends at once with
	// ErrStopped and the gradients hold a partial sum, to be discarded.
	// A pass over a long sequence of a large model takes minutes: this is
	// how an interrupted training stops promptly.
	Stop func() bool
}

// ErrStopped is the error of a pass ended by Options.Stop.
var ErrStopped = errors.New("model: pass stopped")

// stopped reports whether o.Stop asks the pass to end.
func (o *Options) stopped() bool { return o.Stop != nil && o.Stop() }

// layerActs are the activations of one layer that its backward pass needs.
type layerActs struct {
	xn1, q, k, v, o, lse, x2, xn2, g, u, h []float32
	rstd1, rstd2                           []float32
}

func (a *layerActs) grow(T int, d *dims) {
	a.xn1 = growF(a.xn1, T*d.D)
	a.q = growF(a.q, T*d.QD)
	a.k = growF(a.k, T*d.KVD)
	a.v = growF(a.v, T*d.KVD)
	a.o = growF(a.o, T*d.QD)
	a.lse = growF(a.lse, T*d.H)
	a.x2 = growF(a.x2, T*d.D)
	a.xn2 = growF(a.xn2, T*d.D)
	a.g = growF(a.g, T*d.FF)
	a.u = growF(a.u, T*d.FF)
	a.h = growF(a.h, T*d.FF)
	a.rstd1 = growF(a.rstd1, T)
	a.rstd2 = growF(a.rstd2, T)
}

// workspace holds the scratch buffers reused across calls.
type workspace struct {
	xs                              [][]float32 // layer inputs; xs[L] is the last layer's output
	acts                            []layerActs
	xf, rstdF, cos, sin             []float32
	dx, dxn, dh, du, do, dq, dk, dv []float32
	logits, rowLoss, logp           []float32
	forks                           []*Model // gradient forks (see perseq.go)
	targets                         []int32
}

// FreeScratch drops the buffers kept between calls (they are reallocated
// on demand).
func (m *Model) FreeScratch() {
	m.mu.Lock()
	m.ws = workspace{}
	m.mu.Unlock()
}

// checkSeq validates one sequence's tokens and positions.
func (m *Model) checkSeq(what string, tokens, pos []int32) error {
	if len(tokens) == 0 {
		return fmt.Errorf("%s: empty sequence", what)
	}
	if pos != nil && len(pos) != len(tokens) {
		return fmt.Errorf("%s: %d position ids for %d tokens", what, len(pos), len(tokens))
	}
	for t, id := range tokens {
		if id < 0 || int(id) >= m.dims.V {
			return fmt.Errorf("%s: token %d is id %d, outside the vocabulary [0, %d)", what, t, id, m.dims.V)
		}
	}
	for t, p := range pos {
		if p < 0 {
			return fmt.Errorf("%s: position id %d at token %d is negative", what, p, t)
		}
	}
	return nil
}

// ForwardBackward runs the forward and backward pass of every sequence of
// b and adds the gradients of the summed next-token negative
// log-likelihood (times opt.GradScale) to the parameters' G. It returns the
// summed NLL and the number of predicted tokens (those the loss mask
// keeps); the caller divides to get the mean. Sequences are processed one
// after the other; attention never crosses sequences.
func (m *Model) ForwardBackward(b *Batch, opt Options) (lossSum float64, nTokens int, err error) {
	if b == nil {
		return 0, 0, fmt.Errorf("model: nil batch")
	}
	if b.Positions != nil && len(b.Positions) != len(b.Tokens) {
		return 0, 0, fmt.Errorf("model: batch has %d position lists for %d sequences", len(b.Positions), len(b.Tokens))
	}
	if b.LossMask != nil && len(b.LossMask) != len(b.Tokens) {
		return 0, 0, fmt.Errorf("model: batch has %d loss masks for %d sequences", len(b.LossMask), len(b.Tokens))
	}
	for i, toks := range b.Tokens {
		var pos []int32
		if b.Positions != nil {
			pos = b.Positions[i]
		}
		if err := m.checkSeq(fmt.Sprintf("model: batch sequence %d", i), toks, pos); err != nil {
			return 0, 0, err
		}
		if b.LossMask != nil && b.LossMask[i] != nil && len(b.LossMask[i]) != len(toks) {
			return 0, 0, fmt.Errorf("model: batch sequence %d: loss mask has %d entries for %d tokens", i, len(b.LossMask[i]), len(toks))
		}
	}
	scale := opt.GradScale
	if scale == 0 {
		scale = 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.perSequence(b) {
		return m.forwardBackwardPerSeq(b, opt, scale)
	}
	for i, toks := range b.Tokens {
		var pos []int32
		if b.Positions != nil {
			pos = b.Positions[i]
		}
		var mask []bool
		if b.LossMask != nil {
			mask = b.LossMask[i]
		}
		l, n, ok := m.seqForwardBackward(toks, pos, mask, opt, scale)
		if !ok {
			return 0, 0, ErrStopped
		}
		lossSum += l
		nTokens += n
	}
	return lossSum, nTokens, nil
}

// prepareRope fills the workspace's cos/sin tables for positions pos
// (nil: 0..T−1) with the frequencies for the sequence's largest position.
func (m *Model) prepareRope(T int, pos []int32, maxPos int32) {
	d := &m.dims
	half := d.HD / 2
	m.ws.cos = growF(m.ws.cos, T*half)
	m.ws.sin = growF(m.ws.sin, T*half)
	if pos == nil {
		p := make([]int32, T)
		for i := range p {
			p[i] = int32(i)
		}
		pos = p
	}
	if maxPos < 0 {
		for _, p := range pos {
			maxPos = max(maxPos, p)
		}
	}
	ropeTables(m.ws.cos, m.ws.sin, pos, d.invFreqFor(maxPos), d.ropeMscale)
}

// embedForward copies the embedding rows of tokens into x.
func (m *Model) embedForward(x []float32, tokens []int32) {
	D := m.dims.D
	for t, id := range tokens {
		copy(x[t*D:(t+1)*D], m.embed.W[int(id)*D:(int(id)+1)*D])
	}
}

// seqForwardBackward runs one sequence; ok is false when opt.Stop ended
// the pass.
func (m *Model) seqForwardBackward(tokens, pos []int32, mask []bool, opt Options, scale float32) (loss float64, n int, ok bool) {
	d := &m.dims
	T := len(tokens)
	ws := &m.ws
	if cap(ws.targets) < T {
		ws.targets = make([]int32, T)
	}
	targets := ws.targets[:T]
	nt := 0
	for t := range targets {
		targets[t] = -1
		if t+1 < T && (mask == nil || mask[t]) {
			targets[t] = tokens[t+1]
			nt++
		}
	}
	if nt == 0 {
		return 0, 0, true
	}
	if len(ws.xs) != d.L+1 {
		ws.xs = make([][]float32, d.L+1)
	}
	for i := range ws.xs {
		ws.xs[i] = growF(ws.xs[i], T*d.D)
	}
	nActs := d.L
	if opt.Checkpointing {
		nActs = 1
	}
	if len(ws.acts) < nActs {
		ws.acts = append(ws.acts, make([]layerActs, nActs-len(ws.acts))...)
	}
	for i := 0; i < nActs; i++ {
		ws.acts[i].grow(T, d)
	}
	ws.xf = growF(ws.xf, T*d.D)
	ws.rstdF = growF(ws.rstdF, T)
	ws.dx = growF(ws.dx, T*d.D)
	ws.dxn = growF(ws.dxn, T*d.D)
	ws.dh = growF(ws.dh, T*d.FF)
	ws.du = growF(ws.du, T*d.FF)
	ws.do = growF(ws.do, T*d.QD)
	ws.dq = growF(ws.dq, T*d.QD)
	ws.dk = growF(ws.dk, T*d.KVD)
	ws.dv = growF(ws.dv, T*d.KVD)
	m.prepareRope(T, pos, -1)

	m.embedForward(ws.xs[0], tokens)
	for l := 0; l < d.L; l++ {
		if opt.stopped() {
			return 0, 0, false
		}
		a := &ws.acts[0]
		if !opt.Checkpointing {
			a = &ws.acts[l]
		}
		m.layerForward(&m.layers[l], ws.xs[l], ws.xs[l+1], a, T, opt.Threads)
	}
	rmsnormForward(ws.xf, ws.rstdF, ws.xs[d.L], m.norm.W, T, d.D, d.eps)
	clear(ws.dxn)
	loss, n = m.lmHeadLoss(ws.xf, targets, ws.dxn, scale, nil, opt.Threads)
	// dx is the gradient of the residual stream: the final norm's input
	// here, then, going down, each layer's input (see layerBackward).
	dx := ws.dx
	clear(dx)
	rmsnormBackward(dx, m.norm.G, ws.dxn, ws.xs[d.L], m.norm.W, ws.rstdF, T, d.D)
	for l := d.L - 1; l >= 0; l-- {
		if opt.stopped() {
			return 0, 0, false
		}
		a := &ws.acts[0]
		if opt.Checkpointing {
			// Recompute the layer; its output goes to a scratch buffer
			// (dxn is free here) and equals xs[l+1].
			m.layerForward(&m.layers[l], ws.xs[l], ws.dxn, a, T, opt.Threads)
		} else {
			a = &ws.acts[l]
		}
		m.layerBackward(&m.layers[l], ws.xs[l], a, dx, T, opt.Threads)
	}
	D := d.D
	for t, id := range tokens {
		g := m.embed.G[int(id)*D : (int(id)+1)*D]
		for i, v := range dx[t*D : (t+1)*D] {
			g[i] += v
		}
	}
	return loss, n, true
}

// layerForward runs decoder layer lp on the T rows x, writing out and the
// activations a (rope tables from the workspace).
func (m *Model) layerForward(lp *layerParams, x, out []float32, a *layerActs, T, threads int) {
	m.attnBlockForward(lp, x, a, T, threads, nil, nil)
	m.mlpForward(lp, a, out, T, threads)
}

// attnBlockForward computes a.x2 = x + o_proj(attention(norm(x))). With a
// cache, the new keys and values are appended to it and the queries attend
// to the whole cache.
func (m *Model) attnBlockForward(lp *layerParams, x []float32, a *layerActs, T, threads int, kv *layerCache, seg []int32) {
	d := &m.dims
	rmsnormForward(a.xn1, a.rstd1, x, lp.inNorm.W, T, d.D, d.eps)
	linearForward(m.prec, threads, a.q, a.xn1, lp.q, lp.qb, T)
	linearForward(m.prec, threads, a.k, a.xn1, lp.k, lp.kb, T)
	linearForward(m.prec, threads, a.v, a.xn1, lp.v, lp.vb, T)
	cos, sin := m.ws.cos, m.ws.sin
	parallelRows(T, threads, func(t0, t1 int) {
		h := d.HD / 2
		ropeForward(a.q[t0*d.QD:t1*d.QD], t1-t0, d.H, d.HD, cos[t0*h:t1*h], sin[t0*h:t1*h])
		ropeForward(a.k[t0*d.KVD:t1*d.KVD], t1-t0, d.KV, d.HD, cos[t0*h:t1*h], sin[t0*h:t1*h])
	})
	if kv == nil {
		attnForward(m.prec, a.o, a.lse, a.q, T, 0, a.k, a.v, T, d, mask{window: lp.window}, threads, m.ws.dh)
	} else {
		past := kv.n
		kv.k = append(kv.k[:past*d.KVD], a.k[:T*d.KVD]...)
		kv.v = append(kv.v[:past*d.KVD], a.v[:T*d.KVD]...)
		kv.n = past + T
		attnForward(m.prec, a.o, nil, a.q, T, past, kv.k, kv.v, kv.n, d, mask{window: lp.window, seg: seg}, threads, m.ws.dh)
	}
	copy(a.x2[:T*d.D], x[:T*d.D])
	m.prec.gemmOn(threads, false, true, T, d.D, d.QD, 1, a.o, d.QD, lp.o.W, d.QD, 1, a.x2, d.D)
}

// mlpForward computes out = x2 + down(silu(gate(norm(x2)))·up(norm(x2))).
func (m *Model) mlpForward(lp *layerParams, a *layerActs, out []float32, T, threads int) {
	d := &m.dims
	rmsnormForward(a.xn2, a.rstd2, a.x2, lp.postNorm.W, T, d.D, d.eps)
	linearForward(m.prec, threads, a.g, a.xn2, lp.gate, lp.gateb, T)
	linearForward(m.prec, threads, a.u, a.xn2, lp.up, lp.upb, T)
	parallelRows(T, threads, func(t0, t1 int) {
		m.prec.swiglu(a.h[t0*d.FF:t1*d.FF], a.g[t0*d.FF:t1*d.FF], a.u[t0*d.FF:t1*d.FF])
	})
	copy(out[:T*d.D], a.x2[:T*d.D])
	m.prec.gemmOn(threads, false, true, T, d.D, d.FF, 1, a.h, d.FF, lp.down.W, d.FF, 1, out, d.D)
	if lp.downb != nil {
		addBias(out, lp.downb.W, T)
	}
}

// layerBackward runs decoder layer lp backward. On entry dx holds the
// gradient of the loss with respect to the layer's output; on return it
// holds the gradient with respect to the layer's input x. The parameter
// gradients are added to. ws.dxn, dh, du, do, dq, dk, dv are scratch.
//
// The residual path: out = x2 + mlp(x2) and x2 = x + attn(x), so the
// gradient of out flows unchanged into x2 and that of x2 into x. dx is
// therefore never copied: it is the residual stream's gradient, and each
// branch's backward adds its part into it (rmsnormBackward adds).
func (m *Model) layerBackward(lp *layerParams, x []float32, a *layerActs, dx []float32, T, threads int) {
	d := &m.dims
	ws := &m.ws
	// MLP block: dh = dx·W_down; then the SwiGLU backward adds the gate
	// gradient into dg and the up gradient into du. h is dead once the
	// down projection's backward has read it: its memory holds dg.
	clear(ws.dh)
	linearBackward(m.prec, threads, ws.dh, dx, a.h, lp.down, lp.downb, T)
	dg, du := a.h, ws.du
	clear(dg)
	clear(du)
	parallelRows(T, threads, func(t0, t1 int) {
		f0, f1 := t0*d.FF, t1*d.FF
		m.prec.swigluBackward(dg[f0:f1], du[f0:f1], ws.dh[f0:f1], a.g[f0:f1], a.u[f0:f1])
	})
	clear(ws.dxn)
	linearBackward(m.prec, threads, ws.dxn, dg, a.xn2, lp.gate, lp.gateb, T)
	linearBackward(m.prec, threads, ws.dxn, du, a.xn2, lp.up, lp.upb, T)
	rmsnormBackward(dx, lp.postNorm.G, ws.dxn, a.x2, lp.postNorm.W, a.rstd2, T, d.D)
	// Attention block.
	clear(ws.do)
	linearBackward(m.prec, threads, ws.do, dx, a.o, lp.o, nil, T)
	clear(ws.dq)
	clear(ws.dk)
	clear(ws.dv)
	attnBackward(m.prec, ws.dq, ws.dk, ws.dv, ws.do, a.q, a.k, a.v, a.o, a.lse, T, d, lp.window, threads, ws.dh)
	cos, sin := ws.cos, ws.sin
	parallelRows(T, threads, func(t0, t1 int) {
		h := d.HD / 2
		ropeBackward(ws.dq[t0*d.QD:t1*d.QD], t1-t0, d.H, d.HD, cos[t0*h:t1*h], sin[t0*h:t1*h])
		ropeBackward(ws.dk[t0*d.KVD:t1*d.KVD], t1-t0, d.KV, d.HD, cos[t0*h:t1*h], sin[t0*h:t1*h])
	})
	clear(ws.dxn)
	linearBackward(m.prec, threads, ws.dxn, ws.dq, a.xn1, lp.q, lp.qb, T)
	linearBackward(m.prec, threads, ws.dxn, ws.dk, a.xn1, lp.k, lp.kb, T)
	linearBackward(m.prec, threads, ws.dxn, ws.dv, a.xn1, lp.v, lp.vb, T)
	rmsnormBackward(dx, lp.inNorm.G, ws.dxn, x, lp.inNorm.W, a.rstd1, T, d.D)
}
