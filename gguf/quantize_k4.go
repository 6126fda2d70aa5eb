package gguf

import "math"

// Q4_K: a super-block of 256 values in 8 groups of 32; each group gets a
// 4-bit code q ∈ [0, 15], a scale and a minimum, x ≈ d·sc[g]·q − dmin·m[g],
// with sc and m 6-bit multiples of the block's f16 d and dmin, packed into
// 12 bytes (ggml's get_scale_min_k4 layout). The group fit is ggml's
// make_qkx2_quants: weighted least squares over 21 candidate scales.
func qQ4K(dst []byte, src []float32) {
	var L [256]uint8
	var scales, mins [8]float32
	var weights [32]float32
	for b := 0; len(src) > 0; b++ {
		blk := dst[b*144 : (b+1)*144]
		x := src[:256]
		src = src[256:]
		var maxScale, maxMin float32
		for g := range 8 {
			xs := x[32*g : 32*g+32]
			var sumX2 float32
			for _, v := range xs {
				sumX2 += v * v
			}
			av := float32(math.Sqrt(float64(sumX2 / 32)))
			for i, v := range xs {
				weights[i] = av + float32(math.Abs(float64(v)))
			}
			scales[g], mins[g] = makeQkx2Quants(xs, weights[:], 15, L[32*g:32*g+32], -1, 0.1, 20)
			maxScale, maxMin = max(maxScale, scales[g]), max(maxMin, mins[g])
		}
		clear(blk)
		var invScale, invMin float32
		if maxScale > 0 {
			invScale = 63 / maxScale
		}
		if maxMin > 0 {
			invMin = 63 / maxMin
		}
		sc := blk[4:16]
		for g := range 8 {
			ls := uint8(min(63, nearestInt(invScale*scales[g])))
			lm := uint8(min(63, nearestInt(invMin*mins[g])))
			if g < 4 {
				sc[g], sc[g+4] = ls, lm
			} else {
				sc[g+4] = ls&0xf | (lm&0xf)<<4
				sc[g-4] |= (ls >> 4) << 6
				sc[g] |= (lm >> 4) << 6
			}
		}
		putF16(blk[0:], maxScale/63)
		putF16(blk[2:], maxMin/63)
		requantQ4K(blk, x, &L)
		qs := blk[16:]
		for j := 0; j < 256; j += 64 {
			for l := range 32 {
				qs[l] = L[j+l] | L[j+l+32]<<4
			}
			qs = qs[32:]
		}
	}
}

// requantQ4K recomputes each group's codes against the scale and minimum
// as stored (f16 d and dmin times the 6-bit factors).
func requantQ4K(blk []byte, x []float32, L *[256]uint8) {
	d16, dmin16 := f16(blk[0:]), f16(blk[2:])
	for g := range 8 {
		sc, m := scaleMinK4(g, blk[4:16])
		d := d16 * float32(sc)
		if d == 0 {
			continue
		}
		dm := dmin16 * float32(m)
		for i := range 32 {
			L[32*g+i] = uint8(max(0, min(15, nearestInt((x[32*g+i]+dm)/d))))
		}
	}
}

// makeQkx2Quants fits x ≈ scale·L − minimum (L ∈ [0, nmax], minimum ≥ 0)
// minimising Σ w·(error)², starting from the min/max fit and trying nstep+1
// candidate inverse scales (rmin + rdelta·i + nmax)/(max − min), each
// solved by weighted least squares. It returns scale and the minimum.
func makeQkx2Quants(x, w []float32, nmax int, L []uint8, rmin, rdelta float32, nstep int) (float32, float32) {
	lo, hi := x[0], x[0]
	var sumW, sumX float32
	for i, v := range x {
		lo, hi = min(lo, v), max(hi, v)
		sumW += w[i]
		sumX += w[i] * v
	}
	lo = min(lo, 0)
	if hi == lo {
		clear(L)
		return 0, -lo
	}
	iscale := float32(nmax) / (hi - lo)
	scale := 1 / iscale
	var bestErr float32
	for i, v := range x {
		L[i] = uint8(max(0, min(nmax, nearestInt(iscale*(v-lo)))))
		diff := scale*float32(L[i]) + lo - v
		bestErr += w[i] * diff * diff
	}
	var aux [32]uint8
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + rdelta*float32(is) + float32(nmax)) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := max(0, min(nmax, nearestInt(iscale*(v-lo))))
			aux[i] = uint8(l)
			fl := float32(l)
			sumL += w[i] * fl
			sumL2 += w[i] * fl * fl
			sumXL += w[i] * fl * v
		}
		D := sumW*sumL2 - sumL*sumL
		if D <= 0 {
			continue
		}
		thisScale := (sumW*sumXL - sumX*sumL) / D
		thisMin := (sumL2*sumX - sumL*sumXL) / D
		if thisMin > 0 {
			thisMin, thisScale = 0, sumXL/sumL2
		}
		var cur float32
		for i, v := range x {
			diff := thisScale*float32(aux[i]) + thisMin - v
			cur += w[i] * diff * diff
		}
		if cur < bestErr {
			copy(L, aux[:len(x)])
			bestErr, scale, lo = cur, thisScale, thisMin
		}
	}
	return scale, -lo
}
