package gguf

import (
	"fmt"
	"math"

	"github.com/longrecipe/longrecipe/hf"
)

// llama3Candidates are the (low_freq_factor, high_freq_factor,
// original_max_position_embeddings) of the published Llama 3.1 / 3.2
// checkpoints; a rope_freqs tensor is matched against them.
var llama3Candidates = [][3]float64{{1, 4, 8192}}

// llama3Factors returns the per-frequency divisors llama.cpp's converter
// stores as rope_freqs.weight for llama3 RoPE scaling (ggml divides each
// frequency by its factor).
func llama3Factors(theta float64, headDim int, factor, low, high, orig float64) []float64 {
	out := make([]float64, headDim/2)
	lowWave, highWave := orig/low, orig/high
	for i := range out {
		freq := 1 / math.Pow(theta, float64(2*i)/float64(headDim))
		wave := 2 * math.Pi / freq
		switch {
		case wave < highWave:
			out[i] = 1
		case wave > lowWave:
			out[i] = factor
		default:
			smooth := (orig/wave - low) / (high - low)
			out[i] = 1 / ((1-smooth)/factor + smooth)
		}
	}
	return out
}

// ropeFromFactors recognises a rope_freqs tensor as llama3 RoPE scaling
// and returns the rope_scaling it encodes, or an error naming the tensor.
func (m *Model) ropeFromFactors(t TensorInfo, cfg *hf.Config) (*hf.RopeScaling, error) {
	n := cfg.HeadDim / 2
	if t.Type != F32 || len(t.Dims) != 1 || t.Dims[0] != int64(n) {
		return nil, fmt.Errorf("gguf %s: tensor %q: want %d F32 RoPE factors, got %s %v", t.File, t.Name, n, t.Type, t.Dims)
	}
	got := make([]float32, n)
	var buf []byte
	if err := m.Float32Rows(t, 0, 1, got, &buf); err != nil {
		return nil, err
	}
	for _, c := range llama3Candidates {
		// Factors are stored in float32: round the solved value (8, 32 in
		// the published models) to four decimals before checking.
		factor := math.Round(solveFactor(got, cfg.RopeTheta, cfg.HeadDim, c[0], c[1], c[2])*1e4) / 1e4
		want := llama3Factors(cfg.RopeTheta, cfg.HeadDim, factor, c[0], c[1], c[2])
		if factor > 0 && factorsMatch(got, want) {
			return &hf.RopeScaling{Type: "llama3", Factor: factor, LowFreqFactor: c[0], HighFreqFactor: c[1],
				OriginalMaxPositionEmbeddings: int(c[2])}, nil
		}
	}
	return nil, fmt.Errorf("gguf %s: tensor %q: per-frequency RoPE factors that are not llama3 scaling with low_freq_factor 1, high_freq_factor 4 and an 8192-token original window are not supported", t.File, t.Name)
}

func factorsMatch(got []float32, want []float64) bool {
	for i, g := range got {
		if math.Abs(float64(g)-want[i]) > 1e-5*want[i] {
			return false
		}
	}
	return true
}

// solveFactor recovers llama3's factor from the first frequency that it
// scales: a fully scaled one holds it, a smoothed one f = 1/((1−s)/factor
// + s) gives factor = (1−s)/(1/f − s). 0 when no frequency is scaled.
func solveFactor(got []float32, theta float64, headDim int, low, high, orig float64) float64 {
	lowWave, highWave := orig/low, orig/high
	for i, g := range got {
		wave := 2 * math.Pi * math.Pow(theta, float64(2*i)/float64(headDim))
		switch {
		case wave > lowWave:
			return float64(g)
		case wave >= highWave:
			smooth := (orig/wave - low) / (high - low)
			if d := 1/float64(g) - smooth; d > 0 && smooth < 1 {
				return (1 - smooth) / d
			}
		}
	}
	return 0
}
