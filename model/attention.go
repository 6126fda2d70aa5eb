package model

import (
	"math"

	"github.com/longrecipe/longrecipe/internal/freelist"
	"github.com/longrecipe/longrecipe/kernels"
)

// Attention is computed FlashAttention-2 style: queries and keys are cut
// into tiles of tileQ and tileK rows; the forward pass keeps a running row
// maximum and sum (online softmax) and stores only the output and the row
// log-sum-exp; the backward pass recomputes the probabilities tile by tile
// from the log-sum-exp. Nothing of size T×T is ever allocated: the memory
// is O(T) per head plus one tile per worker.
//
// Masking is by token index within the sequence (not by position id), as
// transformers builds its causal and sliding-window masks from cache
// positions: query i sees key j when j ≤ i and, with a sliding window W,
// i − j < W. Query head h reads key/value head h/(H/KV) (repeat_kv).

// tileQ and tileK are the query and key tile sizes (variables so that the
// tests can exercise many tiles on small inputs).
var tileQ, tileK = 64, 64

// tileScaleBF16 multiplies both tile sizes in BF16: its matrix multiplies
// convert their operands to bfloat16 while packing them, a cost that
// larger tiles spread over more arithmetic. (FP32 keeps 64×64 tiles, and
// so its results.)
var tileScaleBF16 = 2

// tiles returns the query and key tile sizes for precision p.
func tiles(p Precision) (bq, bk int) {
	if p == BF16 {
		return tileQ * tileScaleBF16, tileK * tileScaleBF16
	}
	return tileQ, tileK
}

type attnScratch struct {
	s, dp, acc, m, l, dd []float32
	q, p                 kernels.PanelsA // the forward's query and probability tiles (BF16 panels)
	pt, ds, dst          kernels.PanelsA // the backward's Pᵀ, dS and dSᵀ tiles
}

// kvPanels are one key/value head's keys (as Kᵀ) and values, rounded to
// bfloat16 panels once for all the query tiles that read them.
type kvPanels struct{ k, v kernels.PanelsB }

var kvPanelPool freelist.List[kvPanels]

// panelRows is the fewest query rows for which attnForward packs keys and
// values into panels (measured on the benchmark model: decoding one row
// is 15 % slower with panels, a prefill of 1024 rows 8 % faster, of 4096
// rows 34 %); fewer rows take attnFew.
const panelRows = 16

// usePanels reports whether attnForward in precision p runs its products
// over panels: BF16 with AVX512_BF16, key tiles of bk that start on the
// panels' 32 keys, and at least panelRows query rows.
func usePanels(p Precision, Tq, bk int) bool {
	return p == BF16 && kernels.HasPanels() && bk%32 == 0 && Tq >= panelRows
}

// pack rounds key/value head kh of k and v (Tk rows of width KV·HD) into
// kv.
func (kv *kvPanels) pack(k, v []float32, kh, Tk int, d *dims, threads int) {
	parallelFor(2, threads, func(i int) {
		if i == 0 {
			kv.k.Pack(true, k[kh*d.HD:], d.KVD, d.HD, Tk)
		} else {
			kv.v.Pack(false, v[kh*d.HD:], d.KVD, Tk, d.HD)
		}
	})
}

var attnPool freelist.List[attnScratch]

func getAttnScratch() *attnScratch {
	if sc := attnPool.Get(); sc != nil {
		return sc
	}
	return new(attnScratch)
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// mask says which keys a query row sees besides the causal rule: window
// > 0 is a sliding window in tokens; seg, when not nil, makes the query
// rows (indices qOff..) segments of their own after a shared prefix (the
// keys before qOff): row r sees the prefix and the keys seg[r]..its own
// index, not the other segments. A row's distance to a prefix key, for
// the window, is then its offset in its segment past the prefix.
type mask struct {
	window int
	seg    []int32
}

// hides reports whether query row r, at absolute index a (the first
// query row being at qOff), must not see key j.
func (mk *mask) hides(r, a, qOff, j int) bool {
	if j > a {
		return true
	}
	if mk.seg != nil {
		s := int(mk.seg[r])
		if j >= qOff {
			return j < s || (mk.window > 0 && a-j >= mk.window)
		}
		a = qOff + a - s
	}
	return mk.window > 0 && a-j >= mk.window
}

// attnForward computes causal attention of Tq query rows q (row width
// H·HD), whose absolute indices are qOff..qOff+Tq−1, over Tk key/value rows
// k, v (row width KV·HD), under the further mask mk. It writes o (Tq rows
// of width H·HD) and, if lse is not nil, the row log-sum-exp lse[h·Tq+r].
// The two matrix multiplies run in precision p. scratch, if long enough,
// holds the key/value panels (a buffer the caller does not need during
// the call; nil: memory of their own).
func attnForward(p Precision, o, lse, q []float32, Tq, qOff int, k, v []float32, Tk int, d *dims, mk mask, threads int, scratch []float32) {
	if p == BF16 && Tq < panelRows && kernels.HasPanels() {
		attnFew(o, lse, q, Tq, qOff, k, v, Tk, d, mk, threads)
		return
	}
	H, KV, HD := d.H, d.KV, d.HD
	QD, KVD := d.QD, d.KVD
	rep := H / KV
	scale := float32(1 / math.Sqrt(float64(HD)))
	bq, bk := tiles(p)
	nTiles := (Tq + bq - 1) / bq
	// tile computes query tile ti of head h, over panels of its key/value
	// head when kv is not nil.
	tile := func(h, ti int, kv *kvPanels) {
		kh := h / rep
		r0 := ti * bq
		n := min(bq, Tq-r0)
		a0 := qOff + r0 // absolute index of the first query row
		kLo, kHi := 0, min(Tk, a0+n)
		if window := mk.window; window > 0 && mk.seg == nil {
			kLo = max(0, a0-window+1)
			if kv != nil {
				kLo &^= 31 // panels start at multiples of 32 keys; the mask hides the rest
			}
		}
		sc := getAttnScratch()
		defer attnPool.Put(sc)
		qt := q[r0*QD+h*HD:]
		if kv != nil {
			sc.q.Pack(false, qt, QD, n, HD)
		}
		sc.s = growF(sc.s, bq*bk)
		sc.acc = growF(sc.acc, bq*HD)
		sc.m = growF(sc.m, bq)
		sc.l = growF(sc.l, bq)
		S, acc, M, L := sc.s, sc.acc[:n*HD], sc.m[:n], sc.l[:n]
		clear(acc)
		clear(L)
		negInf := float32(math.Inf(-1))
		for i := range M {
			M[i] = negInf
		}
		for j0 := kLo; j0 < kHi; j0 += bk {
			nc := min(bk, kHi-j0)
			if kv != nil {
				kernels.GemmPanels(&sc.q, &kv.k, 0, j0, nc, scale, 0, S, bk)
			} else {
				p.gemmSerial(false, true, n, nc, HD, scale, qt, QD, k[j0*KVD+kh*HD:], KVD, 0, S, bk)
			}
			// A tile below the diagonal, inside the window and before
			// any segment has nothing to mask (absolute distances bound
			// the segments' window distances).
			full := j0+nc-1 <= a0 && (mk.window == 0 || a0+n-1-j0 < mk.window) && (mk.seg == nil || j0+nc <= qOff)
			for r := 0; r < n; r++ {
				row := S[r*bk : r*bk+nc]
				if !full {
					for c := range row {
						if mk.hides(r0+r, a0+r, qOff, j0+c) {
							row[c] = negInf
						}
					}
				}
				mx := p.rowMax(row, M[r])
				if mx == negInf {
					clear(row)
					continue
				}
				if mx != M[r] {
					alpha := expf(M[r] - mx)
					L[r] *= alpha
					p.scale(alpha, acc[r*HD:(r+1)*HD])
					M[r] = mx
				}
				L[r] += p.expShift(row, mx)
			}
			// An odd run of keys pairs its last key with the next one's
			// value in the panels: only at the end of the keys is that
			// the zero padding.
			if kv != nil && (nc%2 == 0 || j0+nc == Tk) {
				sc.p.Pack(false, S, bk, n, nc)
				kernels.GemmPanels(&sc.p, &kv.v, j0, 0, HD, 1, 1, acc, HD)
			} else {
				p.gemmSerial(false, false, n, HD, nc, 1, S, bk, v[j0*KVD+kh*HD:], KVD, 1, acc, HD)
			}
		}
		for r := 0; r < n; r++ {
			inv := 1 / L[r]
			or := o[(r0+r)*QD+h*HD : (r0+r)*QD+(h+1)*HD]
			ar := acc[r*HD : (r+1)*HD]
			for i := range or {
				or[i] = ar[i] * inv
			}
			if lse != nil {
				lse[h*Tq+r0+r] = M[r] + float32(math.Log(float64(L[r])))
			}
		}
	}
	if !usePanels(p, Tq, bk) {
		parallelFor(H*nTiles, threads, func(task int) { tile(task/nTiles, task%nTiles, nil) })
		return
	}
	// One key/value head at a time: its panels (a fraction of the layer's
	// keys and values in memory), then the tiles of its query heads.
	var kv *kvPanels
	nk, nv := kernels.PanelsBWords(HD, Tk), kernels.PanelsBWords(Tk, HD)
	if len(scratch) >= nk+nv {
		// In the caller's scratch: no memory beyond what training
		// already holds (these panels are not pooled).
		kv = new(kvPanels)
		kv.k.Use(scratch[:nk])
		kv.v.Use(scratch[nk : nk+nv])
	} else {
		if kv = kvPanelPool.Get(); kv == nil {
			kv = new(kvPanels)
		}
		defer kvPanelPool.Put(kv)
	}
	for kh := 0; kh < KV; kh++ {
		kv.pack(k, v, kh, Tk, d, threads)
		parallelFor(rep*nTiles, threads, func(task int) { tile(kh*rep+task/nTiles, task%nTiles, kv) })
	}
}

// attnFew is attnForward in BF16 for fewer than panelRows query rows
// (decoding, short continuations), where tiles would mostly cost calls:
// per key/value head, the values are packed once into panels; per query
// head, the scores against all keys are one product (the row-dot path,
// which rounds the keys on the fly), each row a softmax, the
// probabilities times the values one more, normalised after it.
func attnFew(o, lse, q []float32, Tq, qOff int, k, v []float32, Tk int, d *dims, mk mask, threads int) {
	rep := d.H / d.KV
	scale := float32(1 / math.Sqrt(float64(d.HD)))
	parallelFor(d.KV, threads, func(kh int) {
		sc := getAttnScratch()
		defer attnPool.Put(sc)
		kv := kvPanelPool.Get()
		if kv == nil {
			kv = new(kvPanels)
		}
		defer kvPanelPool.Put(kv)
		vp := &kv.v
		vp.Pack(false, v[kh*d.HD:], d.KVD, Tk, d.HD)
		if cap(sc.s) < Tq*Tk { // room for a growing cache
			sc.s = make([]float32, Tq*Tk, Tq*Tk*5/4)
		}
		sc.s = sc.s[:Tq*Tk]
		sc.l = growF(sc.l, Tq)
		S, L := sc.s, sc.l
		for h := kh * rep; h < (kh+1)*rep; h++ {
			kernels.SgemmBF16Serial(false, true, Tq, Tk, d.HD, scale, q[h*d.HD:], d.QD, k[kh*d.HD:], d.KVD, 0, S, Tk)
			for r := 0; r < Tq; r++ {
				row := S[r*Tk : (r+1)*Tk]
				for j := range row {
					if mk.hides(r, qOff+r, qOff, j) {
						row[j] = float32(math.Inf(-1))
					}
				}
				mx := kernels.MaxF32(row)
				L[r] = kernels.ExpSub(row, row, mx)
				if lse != nil {
					lse[h*Tq+r] = mx + float32(math.Log(float64(L[r])))
				}
			}
			// The probabilities are rounded before they are normalised,
			// as in attnForward's tiles.
			sc.p.Pack(false, S, Tk, Tq, Tk)
			kernels.GemmPanels(&sc.p, vp, 0, 0, d.HD, 1, 0, o[h*d.HD:], d.QD)
			for r := 0; r < Tq; r++ {
				kernels.Scale(1/L[r], o[r*d.QD+h*d.HD:r*d.QD+(h+1)*d.HD])
			}
		}
	})
}

// attnBackward adds to dq (T rows of width H·HD), dk and dv (T rows of
// width KV·HD) the gradients computed from dout and the forward's q, k, v
// (after RoPE), o and lse, for causal self-attention of one sequence of T
// tokens. Work is split by key/value head, so that no two workers write
// the same gradient entries. In BF16 with panels (see attnBackwardPanels)
// scratch, if long enough, holds them (nil: memory of their own).
func attnBackward(p Precision, dq, dk, dv, dout, q, k, v, o, lse []float32, T int, d *dims, window, threads int, scratch []float32) {
	if bq, bk := tiles(p); usePanels(p, T, bk) && bq == bk {
		attnBackwardPanels(dq, dk, dv, dout, q, k, v, o, lse, T, d, window, threads, scratch)
		return
	}
	attnBackwardTiles(p, dq, dk, dv, dout, q, k, v, o, lse, T, d, window, threads)
}

// attnBackwardTiles is attnBackward with every product over its tiles'
// operands, rounded (in BF16) as it goes.
func attnBackwardTiles(p Precision, dq, dk, dv, dout, q, k, v, o, lse []float32, T int, d *dims, window, threads int) {
	H, KV, HD := d.H, d.KV, d.HD
	QD, KVD := d.QD, d.KVD
	rep := H / KV
	scale := float32(1 / math.Sqrt(float64(HD)))
	bq, bk := tiles(p)
	parallelFor(KV, threads, func(kh int) {
		sc := getAttnScratch()
		defer attnPool.Put(sc)
		sc.s = growF(sc.s, bq*bk)
		sc.dp = growF(sc.dp, bq*bk)
		sc.dd = growF(sc.dd, rep*T)
		P, dP, D := sc.s, sc.dp, sc.dd
		// D[t] = dout[t]·o[t] per head.
		for t := 0; t < T; t++ {
			for g := 0; g < rep; g++ {
				h := kh*rep + g
				off := t*QD + h*HD
				D[g*T+t] = p.dot(dout[off:off+HD], o[off:off+HD])
			}
		}
		for j0 := 0; j0 < T; j0 += bk {
			nc := min(bk, T-j0)
			kt, vt := k[j0*KVD+kh*HD:], v[j0*KVD+kh*HD:]
			dkt, dvt := dk[j0*KVD+kh*HD:], dv[j0*KVD+kh*HD:]
			iHi := T
			if window > 0 {
				iHi = min(T, j0+nc-1+window)
			}
			for g := 0; g < rep; g++ {
				h := kh*rep + g
				for i0 := j0; i0 < iHi; i0 += bq {
					n := min(bq, iHi-i0)
					qt, dot, dqt := q[i0*QD+h*HD:], dout[i0*QD+h*HD:], dq[i0*QD+h*HD:]
					p.gemmSerial(false, true, n, nc, HD, scale, qt, QD, kt, KVD, 0, P, bk)
					tileProbabilities(p, P, bk, i0, n, j0, nc, window, lse[h*T:])
					// dV_j += Pᵀ·dO_i
					p.gemmSerial(true, false, nc, HD, n, 1, P, bk, dot, QD, 1, dvt, KVD)
					// dP = dO_i·V_jᵀ
					p.gemmSerial(false, true, n, nc, HD, 1, dot, QD, vt, KVD, 0, dP, bk)
					scoreGrads(P, dP, bk, n, nc, D[g*T+i0:])
					// dQ_i += scale·dS·K_j ; dK_j += scale·dSᵀ·Q_i
					p.gemmSerial(false, false, n, HD, nc, scale, dP, bk, kt, KVD, 1, dqt, QD)
					p.gemmSerial(true, false, nc, HD, n, scale, dP, bk, qt, QD, 1, dkt, KVD)
				}
			}
		}
	})
}

// tileProbabilities turns the scores of a tile of the backward pass (n
// query rows from i0, nc keys from j0; rows of P bk apart) into the
// forward's probabilities: masked (causal, sliding window), then
// exp(s − lse) with the row's log-sum-exp lse[i0+r].
func tileProbabilities(p Precision, P []float32, bk, i0, n, j0, nc, window int, lse []float32) {
	full := j0+nc-1 <= i0 && (window == 0 || i0+n-1-j0 < window)
	negInf := float32(math.Inf(-1))
	for r := 0; r < n; r++ {
		a := i0 + r
		row := P[r*bk : r*bk+nc]
		if !full {
			for c := range row {
				if j := j0 + c; j > a || (window > 0 && a-j >= window) {
					row[c] = negInf
				}
			}
		}
		p.expShift(row, lse[a])
	}
}

// scoreGrads overwrites dP (n rows of nc, bk apart) with the score
// gradient dS = P∘(dP − D), D[r] being row r's rowsum(dO∘O).
func scoreGrads(P, dP []float32, bk, n, nc int, D []float32) {
	for r := 0; r < n; r++ {
		dd := D[r]
		pr, dr := P[r*bk:r*bk+nc], dP[r*bk:r*bk+nc]
		for c := range dr {
			dr[c] = pr[c] * (dr[c] - dd)
		}
	}
}
