package plan

import "fmt"

// Time is the expected duration of the stage.
type Time struct {
	TokensPerStep int64   `json:"tokens_per_step"`
	TotalTokens   int64   `json:"total_tokens"`
	FlopsPerToken float64 `json:"model_flops_per_token"`
	// TokensPerSec is the throughput of the whole job; Source says whether
	// it was measured or follows from the assumed MFU.
	TokensPerSec float64 `json:"tokens_per_s"`
	Source       string  `json:"throughput_source"`
	// MFU is the assumed one, or the one the measured throughput implies.
	MFU        float64 `json:"mfu"`
	PeakTFLOPS float64 `json:"peak_tflops_per_gpu"`
	// RingBytesPerRow is what one GPU sends in the ring attention of one
	// row (context parallel > 1); RingSeconds is all rows' transfers at
	// LinkGBps, included in Seconds when the throughput is assumed.
	RingBytesPerRow int64   `json:"ring_bytes_per_row,omitempty"`
	RingSeconds     float64 `json:"ring_seconds,omitempty"`
	LinkGBps        float64 `json:"link_gbps,omitempty"`
	Seconds         float64 `json:"seconds"`
}

// flopsPerToken is the model FLOPs of training on one token of an ls-token
// row (package doc).
func flopsPerToken(m Model, ls int) float64 {
	c := m.Config
	attn := 6 * float64(c.NumHiddenLayers) * float64(c.NumAttentionHeads*c.HeadDim) * float64(ls)
	return 6*float64(matmulParams(m)) + attn
}

func timing(in Input, ls int) Time {
	t := Time{
		TokensPerStep: int64(in.GlobalBatch) * int64(ls),
		FlopsPerToken: flopsPerToken(in.Model, ls),
		PeakTFLOPS:    in.PeakTFLOPS,
	}
	t.TotalTokens = int64(in.Steps) * t.TokensPerStep
	peak := float64(in.GPUs) * in.PeakTFLOPS * 1e12
	if in.TokensPerSec > 0 {
		t.TokensPerSec = in.TokensPerSec
		t.MFU = in.TokensPerSec * t.FlopsPerToken / peak
		t.Source = "measured"
		if in.MeasuredFrom != "" {
			t.Source += " (" + in.MeasuredFrom + ")"
		}
	} else {
		t.MFU = in.MFU
		t.TokensPerSec = peak * in.MFU / t.FlopsPerToken
		t.Source = fmt.Sprintf("assumed: MFU %.2f of %g TFLOPS bf16 per GPU", in.MFU, in.PeakTFLOPS)
	}
	t.Seconds = float64(t.TotalTokens) / t.TokensPerSec
	return t
}

// addRing adds the context-parallel ring's transfers to an assumed time
// (package doc); a measured throughput includes them already.
func addRing(t *Time, in Input, p *Plan) {
	if p.CP <= 1 || in.TokensPerSec > 0 {
		return
	}
	c := in.Model.Config
	e := int64(2)
	if in.Precision == "fp32" {
		e = 4
	}
	cp := int64(p.CP)
	T := int64(cpTokens(p.TrainLength, p.CP))
	kv := int64(c.NumKeyValueHeads) * int64(c.HeadDim)
	t.RingBytesPerRow = int64(c.NumHiddenLayers) * T * kv * (4*(cp-1)*e + (cp-1)*(2*e+8) + 8)
	t.LinkGBps = in.LinkGBps
	t.RingSeconds = float64(in.Steps) * float64(p.RowsPerGPU) * float64(t.RingBytesPerRow) / (in.LinkGBps * 1e9)
	t.Seconds += t.RingSeconds
}
