package model

import (
	"runtime"
	"sync"

	"github.com/longrecipe/longrecipe/kernels"
)

// Per-sequence training of small models. A model of a few million
// parameters keeps two cores busy badly by splitting each matrix
// multiply (T = 614, d = 256: 1.2× from the second core); its batch's
// sequences, run side by side on one core each, keep them busy. Each
// worker is a gradient fork: the model's weights, a gradient buffer of
// its own and its own scratch. Each sequence's gradient is computed from
// zero in a fork and added to the model's, in sequence order: the sum is
// then the same, bit for bit, whatever the number of workers, so that a
// run gives the same model on any machine. (It is not the same as the
// sequential path's, which adds each product into the gradient as it
// goes; FP32 keeps that path, so its results stay those of earlier
// versions.)

// perSeqMaxParams is the largest model (in parameters) trained per
// sequence: above it a second gradient buffer per core costs more memory
// than the speed is worth, and the multiplies are large enough to split.
const perSeqMaxParams = 50_000_000

// perSequence reports whether ForwardBackward runs batch b per sequence:
// BF16, at most perSeqMaxParams parameters and at least two sequences
// (with one there is nothing to run side by side, and the sequential
// path needs no second gradient buffer). It depends on the model and the
// batch, not on the machine, so that results do not depend on the core
// count.
func (m *Model) perSequence(b *Batch) bool {
	if m.prec != BF16 || len(b.Tokens) < 2 {
		return false
	}
	n := 0
	for _, p := range m.params {
		n += len(p.W)
	}
	return n <= perSeqMaxParams
}

// gradFork returns a model that shares m's weights but has gradients
// (zero) and scratch of its own.
func (m *Model) gradFork() *Model {
	f := &Model{Cfg: m.Cfg, dims: m.dims, prec: m.prec, byName: map[string]*Param{}}
	re := make(map[*Param]*Param, len(m.params))
	for _, p := range m.params {
		q := &Param{Name: p.Name, Shape: p.Shape, W: p.W, G: make([]float32, len(p.G))}
		re[p] = q
		f.params = append(f.params, q)
		f.byName[q.Name] = q
	}
	r := func(p *Param) *Param { return re[p] } // nil stays nil
	f.embed, f.norm, f.lmHead = r(m.embed), r(m.norm), r(m.lmHead)
	f.layers = make([]layerParams, len(m.layers))
	for i, lp := range m.layers {
		f.layers[i] = layerParams{inNorm: r(lp.inNorm), q: r(lp.q), qb: r(lp.qb), k: r(lp.k), kb: r(lp.kb),
			v: r(lp.v), vb: r(lp.vb), o: r(lp.o), postNorm: r(lp.postNorm), gate: r(lp.gate), up: r(lp.up),
			down: r(lp.down), gateb: r(lp.gateb), upb: r(lp.upb), downb: r(lp.downb), window: lp.window}
	}
	return f
}

// forks returns w gradient forks of m, made once and kept, their weights
// and precision brought up to m's (an optimizer may have replaced a
// weight slice, SetPrecision changed the precision).
func (m *Model) forks(w int) []*Model {
	for len(m.ws.forks) < w {
		m.ws.forks = append(m.ws.forks, m.gradFork())
	}
	for _, f := range m.ws.forks[:w] {
		f.prec = m.prec
		for i, p := range m.params {
			f.params[i].W = p.W
		}
	}
	return m.ws.forks[:w]
}

// forwardBackwardPerSeq is ForwardBackward run per sequence (see above),
// on up to opt.Threads (0: GOMAXPROCS) workers of one thread each.
func (m *Model) forwardBackwardPerSeq(b *Batch, opt Options, scale float32) (float64, int, error) {
	n := len(b.Tokens)
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	forks := m.forks(max(1, min(threads, n)))
	type result struct {
		loss float64
		n    int
		ok   bool
	}
	res := make([]result, n)
	added := make([]chan struct{}, n) // closed once sequence i's gradient is in m's
	for i := range added {
		added[i] = make(chan struct{})
	}
	fopt := opt
	fopt.Threads = 1
	var wg sync.WaitGroup
	for w, f := range forks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += len(forks) {
				var pos []int32
				if b.Positions != nil {
					pos = b.Positions[i]
				}
				var mask []bool
				if b.LossMask != nil {
					mask = b.LossMask[i]
				}
				l, c, ok := f.seqForwardBackward(b.Tokens[i], pos, mask, fopt, scale)
				res[i] = result{l, c, ok}
				if i > 0 {
					<-added[i-1]
				}
				for j, p := range f.params {
					if ok {
						kernels.Add(m.params[j].G, m.params[j].G, p.G)
					}
					clear(p.G)
				}
				close(added[i])
			}
		}()
	}
	wg.Wait()
	var lossSum float64
	var nTokens int
	for _, r := range res {
		if !r.ok {
			return 0, 0, ErrStopped
		}
		lossSum += r.loss
		nTokens += r.n
	}
	return lossSum, nTokens, nil
}
