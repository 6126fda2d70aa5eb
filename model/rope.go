package model

import (
	"fmt"
	"math"

	"github.com/longrecipe/longrecipe/hf"
)

// RoPE follows transformers' rotate_half convention: dimension i of a head
// is paired with dimension i+HD/2, and pair i turns by angle p·invFreq[i]
// at position p. The inverse frequencies depend on config.json's
// rope_theta and rope_scaling:
//
//   - none:    invFreq[i] = θ^(−2i/HD)
//   - linear:  invFreq[i] / factor (positions divided by the factor)
//   - dynamic: θ is replaced by θ·((s·n/L0) − (s−1))^(HD/(HD−2)) when
//     n > L0, where s is the factor, L0 max_position_embeddings (as
//     transformers does, even when rope_scaling has an
//     original_max_position_embeddings) and n the sequence length. With non-contiguous position ids n is the
//     largest position id of the sequence plus one (what transformers does:
//     max(position_ids)+1), computed per sequence, not per batch.
//   - yarn:    per-dimension blend of interpolated (invFreq/factor) and
//     extrapolated frequencies with a linear ramp between the correction
//     dimensions of beta_fast and beta_slow (transformers'
//     _compute_yarn_parameters), and cos/sin multiplied by the attention
//     factor (default 0.1·ln(factor)+1).
//   - llama3:  wavelengths longer than L0/low_freq_factor are divided by the
//     factor, shorter than L0/high_freq_factor kept, smoothed in between.
//
// Angles are computed in float64 and rounded to float32 cos/sin.

// initRope derives the inverse frequencies from cfg.
func (d *dims) initRope(cfg *hf.Config) error {
	theta := cfg.RopeTheta
	if !(theta > 1) {
		return fmt.Errorf("model: rope_theta %v must be > 1", theta)
	}
	d.ropeThetaRaw = theta
	d.invFreq = baseInvFreq(theta, d.HD)
	d.ropeMscale = 1
	rs := cfg.RopeScaling
	if rs == nil || rs.Type == "" || rs.Type == "default" {
		return nil
	}
	if !(rs.Factor > 0) {
		return fmt.Errorf("model: rope_scaling %q needs a positive factor (got %v)", rs.Type, rs.Factor)
	}
	origLen := rs.OriginalMaxPositionEmbeddings
	if origLen <= 0 {
		origLen = cfg.MaxPositionEmbeddings
	}
	switch rs.Type {
	case "linear":
		for i := range d.invFreq {
			d.invFreq[i] /= rs.Factor
		}
	case "dynamic":
		if cfg.MaxPositionEmbeddings <= 0 {
			return fmt.Errorf("model: dynamic rope_scaling needs max_position_embeddings > 0")
		}
		d.dynamicNTK, d.dynFactor, d.dynOrigLen = true, rs.Factor, cfg.MaxPositionEmbeddings
	case "yarn":
		if origLen <= 0 {
			return fmt.Errorf("model: yarn rope_scaling needs max_position_embeddings or original_max_position_embeddings")
		}
		betaFast, betaSlow := rs.BetaFast, rs.BetaSlow
		if betaFast == 0 {
			betaFast = 32
		}
		if betaSlow == 0 {
			betaSlow = 1
		}
		d.invFreq, d.ropeMscale = yarnInvFreq(theta, d.HD, rs.Factor, betaFast, betaSlow, origLen, rs.AttentionFactor)
	case "llama3":
		if rs.OriginalMaxPositionEmbeddings <= 0 || !(rs.HighFreqFactor > rs.LowFreqFactor) || !(rs.LowFreqFactor > 0) {
			return fmt.Errorf("model: llama3 rope_scaling needs original_max_position_embeddings > 0 and high_freq_factor > low_freq_factor > 0 (got %d, %v, %v)", rs.OriginalMaxPositionEmbeddings, rs.HighFreqFactor, rs.LowFreqFactor)
		}
		llama3Scale(d.invFreq, rs.Factor, rs.LowFreqFactor, rs.HighFreqFactor, float64(rs.OriginalMaxPositionEmbeddings))
	default:
		return fmt.Errorf("model: rope_scaling type %q is not supported (want linear, dynamic, yarn or llama3)", rs.Type)
	}
	return nil
}

// baseInvFreq returns θ^(−2i/hd) for i < hd/2.
func baseInvFreq(theta float64, hd int) []float64 {
	f := make([]float64, hd/2)
	for i := range f {
		f[i] = 1 / math.Pow(theta, float64(2*i)/float64(hd))
	}
	return f
}

// yarnInvFreq implements YaRN's frequency blend and attention factor.
func yarnInvFreq(theta float64, hd int, factor, betaFast, betaSlow float64, origLen int, attnFactor float64) ([]float64, float64) {
	if attnFactor == 0 {
		attnFactor = 1
		if factor > 1 {
			attnFactor = 0.1*math.Log(factor) + 1
		}
	}
	corrDim := func(rot float64) float64 {
		return float64(hd) * math.Log(float64(origLen)/(rot*2*math.Pi)) / (2 * math.Log(theta))
	}
	low := math.Max(math.Floor(corrDim(betaFast)), 0)
	high := math.Min(math.Ceil(corrDim(betaSlow)), float64(hd-1))
	if low == high {
		high += 0.001
	}
	f := make([]float64, hd/2)
	for i := range f {
		pos := math.Pow(theta, float64(2*i)/float64(hd))
		extra, inter := 1/pos, 1/(factor*pos)
		ramp := (float64(i) - low) / (high - low)
		ramp = math.Min(math.Max(ramp, 0), 1)
		extraFactor := 1 - ramp
		f[i] = inter*(1-extraFactor) + extra*extraFactor
	}
	return f, attnFactor
}

// llama3Scale applies Llama 3.1's wavelength-dependent scaling in place.
func llama3Scale(f []float64, factor, lowFF, highFF, oldLen float64) {
	lowWave, highWave := oldLen/lowFF, oldLen/highFF
	for i, inv := range f {
		wave := 2 * math.Pi / inv
		switch {
		case wave < highWave:
			// high frequency: kept
		case wave > lowWave:
			f[i] = inv / factor
		default:
			smooth := (oldLen/wave - lowFF) / (highFF - lowFF)
			f[i] = (1-smooth)*inv/factor + smooth*inv
		}
	}
}

// invFreqFor returns the inverse frequencies for a sequence whose largest
// position id is maxPos (dynamic NTK depends on it).
func (d *dims) invFreqFor(maxPos int32) []float64 {
	if !d.dynamicNTK {
		return d.invFreq
	}
	n := float64(maxPos) + 1
	L0 := float64(d.dynOrigLen)
	if n <= L0 {
		return d.invFreq
	}
	s := d.dynFactor
	base := d.ropeThetaRaw * math.Pow(s*n/L0-(s-1), float64(d.HD)/float64(d.HD-2))
	return baseInvFreq(base, d.HD)
}

// ropeTables fills cos and sin (len(pos)·HD/2 each) for the given positions
// using the frequencies invFreq, scaled by mscale.
func ropeTables(cos, sin []float32, pos []int32, invFreq []float64, mscale float64) {
	half := len(invFreq)
	for t, p := range pos {
		c, s := cos[t*half:(t+1)*half], sin[t*half:(t+1)*half]
		for i, f := range invFreq {
			sn, cs := math.Sincos(float64(p) * f)
			c[i], s[i] = float32(cs*mscale), float32(sn*mscale)
		}
	}
}

// ropeForward rotates, in place, the nh heads of head dimension hd in each
// of the T rows of x (row stride nh·hd) by the tables cos, sin (T·hd/2).
func ropeForward(x []float32, T, nh, hd int, cos, sin []float32) {
	half := hd / 2
	for t := 0; t < T; t++ {
		c, s := cos[t*half:(t+1)*half], sin[t*half:(t+1)*half]
		row := x[t*nh*hd : (t+1)*nh*hd]
		for h := 0; h < nh; h++ {
			v := row[h*hd : (h+1)*hd]
			a, b := v[:half], v[half:hd]
			for i := range c {
				x1, x2 := a[i], b[i]
				a[i] = x1*c[i] - x2*s[i]
				b[i] = x2*c[i] + x1*s[i]
			}
		}
	}
}

// ropeBackward maps, in place, the gradient with respect to the rotated
// rows to the gradient with respect to the rows before rotation (the
// transposed rotation).
func ropeBackward(dx []float32, T, nh, hd int, cos, sin []float32) {
	half := hd / 2
	for t := 0; t < T; t++ {
		c, s := cos[t*half:(t+1)*half], sin[t*half:(t+1)*half]
		row := dx[t*nh*hd : (t+1)*nh*hd]
		for h := 0; h < nh; h++ {
			v := row[h*hd : (h+1)*hd]
			a, b := v[:half], v[half:hd]
			for i := range c {
				d1, d2 := a[i], b[i]
				a[i] = d1*c[i] + d2*s[i]
				b[i] = d2*c[i] - d1*s[i]
			}
		}
	}
}
