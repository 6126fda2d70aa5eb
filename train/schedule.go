package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of every optimizer step. The formulas
// are those of Hugging Face transformers: get_constant_schedule_with_warmup,
// get_cosine_with_min_lr_schedule_with_warmup (one half cosine) and
// get_linear_schedule_with_warmup, with a floor MinLR for the decaying
// kinds. Step s is the number of optimizer steps already taken, so the
// first update uses At(0); with Warmup > 0 that rate is 0, as in
// transformers.
type Schedule struct {
	Kind   string  // "constant", "cosine" or "linear"
	LR     float64 // peak learning rate
	Warmup int     // steps of linear warm-up from 0 to LR
	MinLR  float64 // floor reached at step Total (cosine, linear); 0 allowed
	Total  int     // total number of optimizer steps
}

// Validate reports an inconsistent schedule.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "constant", "cosine", "linear":
	default:
		return fmt.Errorf("schedule: unknown kind %q (want constant, cosine or linear)", s.Kind)
	}
	switch {
	case !(s.LR >= 0) || math.IsInf(s.LR, 0):
		return fmt.Errorf("schedule: learning rate %v must be >= 0 and finite", s.LR)
	case s.Warmup < 0:
		return fmt.Errorf("schedule: warm-up %d steps is negative", s.Warmup)
	case s.Total <= 0:
		return fmt.Errorf("schedule: total steps %d must be positive", s.Total)
	case !(s.MinLR >= 0) || s.MinLR > s.LR:
		return fmt.Errorf("schedule: min LR %v must be in [0, LR=%v]", s.MinLR, s.LR)
	case s.Kind == "constant" && s.MinLR != 0:
		return fmt.Errorf("schedule: min LR %v is meaningless with the constant schedule", s.MinLR)
	}
	return nil
}

// At returns the learning rate for step s (0-based).
func (s Schedule) At(step int) float64 {
	if step < s.Warmup {
		return s.LR * float64(step) / float64(max(1, s.Warmup))
	}
	var f float64
	switch s.Kind {
	case "constant":
		return s.LR
	case "cosine":
		progress := float64(step-s.Warmup) / float64(max(1, s.Total-s.Warmup))
		f = math.Max(0, 0.5*(1+math.Cos(math.Pi*progress)))
		if progress >= 1 {
			f = 0
		}
	case "linear":
		f = math.Max(0, float64(s.Total-step)/float64(max(1, s.Total-s.Warmup)))
	default:
		return math.NaN()
	}
	return s.MinLR + (s.LR-s.MinLR)*f
}
