package train

import (
	"math"
	"testing"
)

func TestScheduleAt(t *testing.T) {
	for _, tc := range []struct {
		s    Schedule
		step int
		want float64
	}{
		// transformers formulas evaluated by hand.
		{Schedule{Kind: "constant", LR: 5e-5, Total: 100}, 0, 5e-5},
		{Schedule{Kind: "constant", LR: 5e-5, Total: 100}, 99, 5e-5},
		{Schedule{Kind: "constant", LR: 1, Warmup: 4, Total: 100}, 0, 0},
		{Schedule{Kind: "constant", LR: 1, Warmup: 4, Total: 100}, 1, 0.25},
		{Schedule{Kind: "constant", LR: 1, Warmup: 4, Total: 100}, 4, 1},
		{Schedule{Kind: "cosine", LR: 1, Warmup: 10, Total: 110}, 5, 0.5},
		{Schedule{Kind: "cosine", LR: 1, Warmup: 10, Total: 110}, 10, 1},
		{Schedule{Kind: "cosine", LR: 1, Warmup: 10, Total: 110}, 35, 0.5 * (1 + math.Cos(math.Pi/4))},
		{Schedule{Kind: "cosine", LR: 1, Warmup: 10, Total: 110}, 60, 0.5},
		{Schedule{Kind: "cosine", LR: 1, Warmup: 10, Total: 110}, 110, 0},
		{Schedule{Kind: "cosine", LR: 1, Warmup: 10, Total: 110}, 200, 0},
		{Schedule{Kind: "cosine", LR: 1, Warmup: 10, Total: 110, MinLR: 0.1}, 60, 0.55},
		{Schedule{Kind: "cosine", LR: 1, Warmup: 10, Total: 110, MinLR: 0.1}, 110, 0.1},
		{Schedule{Kind: "cosine", LR: 2, Total: 100}, 0, 2},
		{Schedule{Kind: "linear", LR: 1, Warmup: 10, Total: 110}, 60, 0.5},
		{Schedule{Kind: "linear", LR: 1, Warmup: 10, Total: 110}, 85, 0.25},
		{Schedule{Kind: "linear", LR: 1, Warmup: 10, Total: 110}, 110, 0},
		{Schedule{Kind: "linear", LR: 1, Warmup: 10, Total: 110, MinLR: 0.2}, 60, 0.6},
		{Schedule{Kind: "linear", LR: 1, Warmup: 10, Total: 110, MinLR: 0.2}, 110, 0.2},
	} {
		if got := tc.s.At(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v.At(%d) = %v, want %v", tc.s, tc.step, got, tc.want)
		}
	}
}

// TestScheduleMatchesFixture compares with the learning rates that
// scripts/train/gen_adamw.py computed with transformers' cosine-with-min-lr
// formula.
func TestScheduleMatchesFixture(t *testing.T) {
	f := loadTorchFixture(t)
	c := f.Cosine
	s := Schedule{Kind: "cosine", LR: c.LR, Warmup: c.Warmup, Total: c.Total, MinLR: c.MinLR}
	want := f.Cases[0].LRs
	for step := range want {
		if got := s.At(step); math.Abs(got-want[step]) > 1e-15 {
			t.Errorf("At(%d) = %v, fixture %v", step, got, want[step])
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, tc := range []struct {
		s  Schedule
		ok bool
	}{
		{Schedule{Kind: "constant", LR: 1, Total: 1}, true},
		{Schedule{Kind: "cosine", LR: 1, MinLR: 1, Total: 1}, true},
		{Schedule{Kind: "step", LR: 1, Total: 1}, false},
		{Schedule{Kind: "cosine", LR: 1, Total: 0}, false},
		{Schedule{Kind: "cosine", LR: 1, MinLR: 2, Total: 5}, false},
		{Schedule{Kind: "constant", LR: 1, MinLR: 0.5, Total: 5}, false},
		{Schedule{Kind: "linear", LR: math.NaN(), Total: 5}, false},
		{Schedule{Kind: "linear", LR: 1, Warmup: -1, Total: 5}, false},
	} {
		if err := tc.s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.s, err, tc.ok)
		}
	}
}
