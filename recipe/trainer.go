package recipe

import (
	"math"
	"path/filepath"

	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

// TrainOutputs summarises a training stage.
type TrainOutputs struct {
	Steps     int     `json:"steps"`
	Tokens    int64   `json:"tokens"`
	LastLoss  float64 `json:"last_loss"`
	Seconds   float64 `json:"seconds"`
	Resumed   int     `json:"resumed_from_step"`
	SaveDType string  `json:"save_dtype"`
}

// hyper returns the trainer hyperparameters of a stage's settings, with
// the paper's AdamW (β 0.9/0.999, eps 1e-8).
func hyper(t Train, seed int64) train.Hyper {
	h := train.Hyper{Steps: t.Steps, Batch: t.Batch, GradAccum: t.GradAccum, Schedule: t.Schedule, LR: t.LR, Warmup: t.Warmup, MinLR: t.MinLR, GradClip: t.GradClip, Seed: seed}
	h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: t.WeightDecay})
	return h
}

// outputs summarises a trainer result. A run that found its folder
// finished reports no loss: the last line of its metrics gives it.
func outputs(res *train.Result, j trainer.Job) (*TrainOutputs, error) {
	last := res.LastLoss
	if math.IsNaN(last) {
		ms, err := train.ReadMetrics(filepath.Join(j.Output, "metrics.jsonl"))
		if err != nil {
			return nil, err
		}
		if len(ms) > 0 {
			last = ms[len(ms)-1].Loss
		}
	}
	return &TrainOutputs{Steps: res.Steps, Tokens: res.Tokens, LastLoss: last, Seconds: res.Elapsed.Seconds(), Resumed: res.ResumedFrom, SaveDType: j.SaveDType}, nil
}

// settings are the trainer settings of a training stage: its backend and
// launch table, the recipe's precision.
func (r *Recipe) settings(t Train) (trainer.Settings, error) {
	s := trainer.Settings{Backend: t.Backend, Precision: r.Precision}
	if t.Backend == BackendTorch {
		var err error
		if s.Launch, err = t.Launch.Launch(); err != nil {
			return s, err
		}
	}
	return s, nil
}
