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
	Seconds    float64 `json:"seconds"`
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
