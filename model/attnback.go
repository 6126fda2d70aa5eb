package model

import (
	"math"

	"github.com/longrecipe/longrecipe/internal/freelist"
	"github.com/longrecipe/longrecipe/kernels"
)

// bwdPanels are one worker's operands of the BF16 attention backward,
// rounded to bfloat16 panels once instead of once per tile pair: its
// key/value head's keys as Kᵀ and K and values as Vᵀ; its current query
// head's queries and output gradients as B operands (k = their rows) and
// as A tiles of bq rows.
type bwdPanels struct {
	kt, k, vt, q, do kernels.PanelsB
	qa, doa          []kernels.PanelsA
}

var bwdPanelPool freelist.List[bwdPanels]

// bwdWords is how many float32 words one worker's bwdPanels take for T
// tokens (tiles of bq rows, head dimension HD).
func bwdWords(T, HD, bq int) int {
	nTiles := (T + bq - 1) / bq
	return 2*kernels.PanelsBWords(HD, T) + 3*kernels.PanelsBWords(T, HD) + 2*nTiles*kernels.PanelsAWords(bq, HD)
}

// use lays bp out in slab (bwdWords long), or leaves it its own memory
// when slab is nil.
func (bp *bwdPanels) use(slab []float32, T, HD, bq int) {
	nTiles := (T + bq - 1) / bq
	if len(bp.qa) < nTiles {
		bp.qa, bp.doa = make([]kernels.PanelsA, nTiles), make([]kernels.PanelsA, nTiles)
	}
	if slab == nil {
		return
	}
	take := func(n int) []float32 {
		s := slab[:n]
		slab = slab[n:]
		return s
	}
	for _, b := range []*kernels.PanelsB{&bp.kt, &bp.vt} {
		b.Use(take(kernels.PanelsBWords(HD, T)))
	}
	for _, b := range []*kernels.PanelsB{&bp.k, &bp.q, &bp.do} {
		b.Use(take(kernels.PanelsBWords(T, HD)))
	}
	for i := 0; i < nTiles; i++ {
		bp.qa[i].Use(take(kernels.PanelsAWords(bq, HD)))
		bp.doa[i].Use(take(kernels.PanelsAWords(bq, HD)))
	}
}

// attnBackwardPanels is attnBackward in BF16 over panels: per key/value
// head (one worker each), its keys and values are packed once, then, one
// query head of its group at a time, that head's queries and output
// gradients; only the probabilities and score gradients are packed per
// tile pair. The products and their order of accumulation are those of
// attnBackwardTiles. The workers' panels live in scratch when it has room
// for them (the training step's MLP-gradient buffer, dead here).
func attnBackwardPanels(dq, dk, dv, dout, q, k, v, o, lse []float32, T int, d *dims, window, threads int, scratch []float32) {
	bq, _ := tiles(BF16)
	per := bwdWords(T, d.HD, bq)
	slabs := make(chan []float32, d.KV)
	for off := 0; off+per <= len(scratch) && len(slabs) < d.KV; off += per {
		slabs <- scratch[off : off+per]
	}
	parallelFor(d.KV, threads, func(kh int) {
		var bp *bwdPanels
		select {
		case slab := <-slabs:
			defer func() { slabs <- slab }()
			bp = new(bwdPanels)
			bp.use(slab, T, d.HD, bq)
		default:
			if bp = bwdPanelPool.Get(); bp == nil {
				bp = new(bwdPanels)
			}
			defer bwdPanelPool.Put(bp)
			bp.use(nil, T, d.HD, bq)
		}
		backwardHead(bp, kh, dq, dk, dv, dout, q, k, v, o, lse, T, d, window)
	})
}

// backwardHead runs attnBackwardPanels for key/value head kh.
func backwardHead(bp *bwdPanels, kh int, dq, dk, dv, dout, q, k, v, o, lse []float32, T int, d *dims, window int) {
	bq, bk := tiles(BF16)
	sc := getAttnScratch()
	defer attnPool.Put(sc)
	sc.s = growF(sc.s, bq*bk)
	sc.dp = growF(sc.dp, bq*bk)
	sc.dd = growF(sc.dd, T)
	b := &bwdHead{bp: bp, sc: sc, d: d, kh: kh, T: T, window: window,
		scale: float32(1 / math.Sqrt(float64(d.HD))), dq: dq, dk: dk, dv: dv, dout: dout, q: q, k: k, lse: lse}
	HD, QD, KVD := d.HD, d.QD, d.KVD
	bp.kt.Pack(true, k[kh*HD:], KVD, HD, T)
	bp.vt.Pack(true, v[kh*HD:], KVD, HD, T)
	bp.k.Pack(false, k[kh*HD:], KVD, T, HD)
	rep := d.H / d.KV
	for b.h = kh * rep; b.h < (kh+1)*rep; b.h++ {
		h := b.h
		for t := 0; t < T; t++ {
			off := t*QD + h*HD
			sc.dd[t] = BF16.dot(dout[off:off+HD], o[off:off+HD])
		}
		bp.q.Pack(false, q[h*HD:], QD, T, HD)
		bp.do.Pack(false, dout[h*HD:], QD, T, HD)
		for i0 := 0; i0 < T; i0 += bq {
			n := min(bq, T-i0)
			bp.qa[i0/bq].Pack(false, q[i0*QD+h*HD:], QD, n, HD)
			bp.doa[i0/bq].Pack(false, dout[i0*QD+h*HD:], QD, n, HD)
		}
		for j0 := 0; j0 < T; j0 += bk {
			nc := min(bk, T-j0)
			iHi := T
			if window > 0 {
				iHi = min(T, j0+nc-1+window)
			}
			for i0 := j0; i0 < iHi; i0 += bq {
				b.pair(i0, min(bq, iHi-i0), j0, nc)
			}
		}
	}
}

// bwdHead is the state of backwardHead for query head h.
type bwdHead struct {
	bp                          *bwdPanels
	sc                          *attnScratch // s: P, dp: dP then dS, dd: D = rowsum(dO∘O)
	d                           *dims
	kh, h, T, window            int
	scale                       float32
	dq, dk, dv, dout, q, k, lse []float32
}

// pair adds the gradients of query tile i0 (n rows) against key tile j0
// (nc keys): P = softmax rows of scale·Q_i·K_jᵀ (from lse), dV_j +=
// Pᵀ·dO_i, dS = P∘(dO_i·V_jᵀ − D), dQ_i += scale·dS·K_j, dK_j +=
// scale·dSᵀ·Q_i. A run of rows or keys that is odd before the end pairs
// its last one with the next one's in the panels: those products take
// the tiles instead.
func (b *bwdHead) pair(i0, n, j0, nc int) {
	d, bp, sc, h, kh := b.d, b.bp, b.sc, b.h, b.kh
	HD, QD, KVD := d.HD, d.QD, d.KVD
	bq, bk := tiles(BF16)
	P, dP, D := sc.s, sc.dp, sc.dd
	ti := i0 / bq
	dot, dqt, qt := b.dout[i0*QD+h*HD:], b.dq[i0*QD+h*HD:], b.q[i0*QD+h*HD:]
	dkt, dvt := b.dk[j0*KVD+kh*HD:], b.dv[j0*KVD+kh*HD:]
	kernels.GemmPanels(&bp.qa[ti], &bp.kt, 0, j0, nc, b.scale, 0, P, bk)
	tileProbabilities(BF16, P, bk, i0, n, j0, nc, b.window, b.lse[h*b.T:])
	evenRows := n%2 == 0 || i0+n == b.T
	if evenRows { // dV_j += Pᵀ·dO_i
		sc.pt.Pack(true, P, bk, nc, n)
		kernels.GemmPanels(&sc.pt, &bp.do, i0, 0, HD, 1, 1, dvt, KVD)
	} else {
		BF16.gemmSerial(true, false, nc, HD, n, 1, P, bk, dot, QD, 1, dvt, KVD)
	}
	kernels.GemmPanels(&bp.doa[ti], &bp.vt, 0, j0, nc, 1, 0, dP, bk) // dP = dO_i·V_jᵀ
	scoreGrads(P, dP, bk, n, nc, D[i0:])
	if nc%2 == 0 || j0+nc == b.T { // dQ_i += scale·dS·K_j
		sc.ds.Pack(false, dP, bk, n, nc)
		kernels.GemmPanels(&sc.ds, &bp.k, j0, 0, HD, b.scale, 1, dqt, QD)
	} else {
		BF16.gemmSerial(false, false, n, HD, nc, b.scale, dP, bk, b.k[j0*KVD+kh*HD:], KVD, 1, dqt, QD)
	}
	if evenRows { // dK_j += scale·dSᵀ·Q_i
		sc.dst.Pack(true, dP, bk, nc, n)
		kernels.GemmPanels(&sc.dst, &bp.q, i0, 0, HD, b.scale, 1, dkt, KVD)
	} else {
		BF16.gemmSerial(true, false, nc, HD, n, b.scale, dP, bk, qt, QD, 1, dkt, KVD)
	}
}
