package kernels

import (
	"unsafe"

	"github.com/longrecipe/longrecipe/internal/freelist"
)

// The bfloat16 paths pack operands as pairs of k steps: one 32-bit word
// holds the bfloat16 roundings of op(X) at k steps 2p (low half) and 2p+1
// (high half), the layout VDPBF16PS multiplies. A packed panel is, for
// each pair p, w such words (w = mr rows of A, or nr columns of B); an odd
// k is padded with a zero step. The panels sit at the same offsets as the
// float32 panels of packABlock and packBBlock (r·mr·kb, r·nr·kb floats),
// which leaves room: a pair panel needs ceil(kb/2)·w words.

// pairOf packs the bfloat16 roundings of lo and hi into one word.
func pairOf(lo, hi float32) uint32 { return uint32(toBF16(lo)) | uint32(toBF16(hi))<<16 }

// asWords views n words at the start of x.
func asWords(x []float32, n int) []uint32 {
	_ = x[n-1]
	return unsafe.Slice((*uint32)(unsafe.Pointer(&x[0])), n)
}

// packAPairs packs op(A)[i0:i0+mb, p0:p0+kb], rounded to bfloat16, into
// dst as ceil(mb/mr) pair panels (rows past mb are zero).
func (im *impl) packAPairs(trans bool, a []float32, lda, i0, p0, mb, kb int, dst []float32) {
	mr, kp, full := im.mr, ceilDiv(kb, 2), kb/2
	at := func(i, p int) float32 {
		if p >= kb {
			return 0
		}
		if trans {
			return a[(p0+p)*lda+i0+i]
		}
		return a[(i0+i)*lda+p0+p]
	}
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		panel := asWords(dst[ir*kb:], mr*kp)
		start := 0
		if im.pairPackA != nil && lda <= maxGatherLd && full > 0 {
			switch {
			case rows < mr:
				// A partial panel: its rows padded with zeros to a
				// whole one, for the assembly.
				base := (i0+ir)*lda + p0
				if trans {
					base = p0*lda + i0 + ir
				}
				pad, pld := padPanel(a, base, lda, rows, mr, 2*full, trans)
				im.pairPackA(trans, full, &(*pad)[0], pld, &dst[ir*kb])
				padPool.Put(pad)
			case trans:
				im.pairPackA(trans, full, &a[p0*lda+i0+ir], lda, &dst[ir*kb])
			default:
				im.pairPackA(trans, full, &a[(i0+ir)*lda+p0], lda, &dst[ir*kb])
			}
			start = full
		}
		for p := start; p < kp; p++ {
			w := panel[p*mr : p*mr+mr]
			for i := 0; i < rows; i++ {
				w[i] = pairOf(at(ir+i, 2*p), at(ir+i, 2*p+1))
			}
			clear(w[rows:])
		}
	}
}

// packBPairs packs op(B)[p0:p0+kb, j0:j0+nb], rounded to bfloat16, into
// dst as ceil(nb/nr) pair panels (columns past nb are zero).
func (im *impl) packBPairs(trans bool, b []float32, ldb, p0, j0, kb, nb int, dst []float32) {
	nr, kp, full := im.nr, ceilDiv(kb, 2), kb/2
	at := func(p, j int) float32 {
		if p >= kb {
			return 0
		}
		if trans {
			return b[(j0+j)*ldb+p0+p]
		}
		return b[(p0+p)*ldb+j0+j]
	}
	for jr := 0; jr < nb; jr += nr {
		cols := min(nr, nb-jr)
		panel := asWords(dst[jr*kb:], nr*kp)
		start := 0
		if im.pairPackB != nil && ldb <= maxGatherLd && full > 0 {
			switch {
			case cols < nr:
				// A partial panel, padded as in packAPairs (Bᵀ holds
				// the columns as rows).
				base := p0*ldb + j0 + jr
				if trans {
					base = (j0+jr)*ldb + p0
				}
				pad, pld := padPanel(b, base, ldb, cols, nr, 2*full, !trans)
				im.pairPackB(trans, full, &(*pad)[0], pld, &dst[jr*kb])
				padPool.Put(pad)
			case trans:
				im.pairPackB(trans, full, &b[(j0+jr)*ldb+p0], ldb, &dst[jr*kb])
			default:
				im.pairPackB(trans, full, &b[p0*ldb+j0+jr], ldb, &dst[jr*kb])
			}
			start = full
		}
		for p := start; p < kp; p++ {
			w := panel[p*nr : p*nr+nr]
			for j := 0; j < cols; j++ {
				w[j] = pairOf(at(2*p, jr+j), at(2*p+1, jr+j))
			}
			clear(w[cols:])
		}
	}
}

var padPool freelist.List[[]float32]

// padPanel copies the n (< w) rows of k steps of a panel at x[base]
// (stride ld) into a buffer of w rows, the rest zero, laid out as the
// assembly packs read a whole panel: row by row, or, when stepsFirst (the
// rows side by side in x), step by step. It returns the buffer, from
// padPool, to which the caller returns it, and its stride.
func padPanel(x []float32, base, ld, n, w, k int, stepsFirst bool) (*[]float32, int) {
	buf := padPool.Get()
	if buf == nil {
		buf = new([]float32)
	}
	if cap(*buf) < w*k {
		*buf = make([]float32, w*k)
	}
	*buf = (*buf)[:w*k]
	out := *buf
	if stepsFirst {
		for p := 0; p < k; p++ {
			row := out[p*w : (p+1)*w]
			copy(row, x[base+p*ld:base+p*ld+n])
			clear(row[n:])
		}
		return buf, w
	}
	for i := 0; i < w; i++ {
		row := out[i*k : (i+1)*k]
		if i < n {
			copy(row, x[base+i*ld:base+i*ld+k])
		} else {
			clear(row)
		}
	}
	return buf, k
}
