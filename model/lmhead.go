package model

import "math"

// ceChunkRows returns how many rows of logits the fused LM head computes at
// once: 256, fewer for very large vocabularies (at most 8M logits).
func ceChunkRows(V int) int {
	r := 256
	for r > 16 && r*V > 1<<23 {
		r /= 2
	}
	return r
}

// lmHeadLoss runs the LM head and cross-entropy fused, chunk by chunk of
// rows, so that the T×V logits never exist at once. xf holds the T final
// hidden rows (width D); targets[t] is the token row t predicts, or −1 for
// none. It returns the summed negative log-likelihood over the targeted
// rows and their count. When dxf is not nil the gradient of
// gradScale·loss with respect to xf is added to it, and that of the LM
// head's weight to its G. When logp is not nil, logp[t] receives
// log p(targets[t]) for targeted rows.
func (m *Model) lmHeadLoss(xf []float32, targets []int32, dxf []float32, gradScale float32, logp []float32, threads int) (float64, int) {
	d := &m.dims
	T, V, D := len(targets), d.V, d.D
	w := m.lmHead
	C := ceChunkRows(V)
	m.ws.logits = growF(m.ws.logits, C*V)
	m.ws.rowLoss = growF(m.ws.rowLoss, C)
	logits, rowLoss := m.ws.logits, m.ws.rowLoss
	var loss float64
	var count int
	for c0 := 0; c0 < T; c0 += C {
		n := min(C, T-c0)
		any := false
		for _, tg := range targets[c0 : c0+n] {
			if tg >= 0 {
				any = true
				break
			}
		}
		if !any {
			continue
		}
		m.prec.gemmOn(threads, false, true, n, V, D, 1, xf[c0*D:], D, w.W, D, 0, logits, V)
		parallelRows(n, threads, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				row := logits[r*V : (r+1)*V]
				tg := targets[c0+r]
				if tg < 0 {
					rowLoss[r] = 0
					if dxf != nil {
						clear(row)
					}
					continue
				}
				mx := m.prec.rowMax(row, row[0])
				xt := row[tg]
				sum := m.prec.expShiftLSE(row, mx) // row[i] = exp(x_i − max)
				lse := mx + float32(math.Log(sum))
				lp := xt - lse
				rowLoss[r] = -lp
				if logp != nil {
					logp[c0+r] = lp
				}
				if dxf != nil {
					m.prec.scale(float32(float64(gradScale)/sum), row)
					row[tg] -= gradScale
				}
			}
		})
		for r := 0; r < n; r++ {
			if targets[c0+r] >= 0 {
				loss += float64(rowLoss[r])
				count++
			}
		}
		if dxf != nil {
			m.prec.gemmOn(threads, false, false, n, D, V, 1, logits, V, w.W, D, 1, dxf[c0*D:], D)
			m.prec.gemmOn(threads, true, false, V, D, n, 1, logits, V, xf[c0*D:], D, 1, w.G, D)
		}
	}
	return loss, count
}
