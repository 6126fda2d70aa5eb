package recipe

import (
	"github.com/longrecipe/longrecipe/steps"
	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

// TrainOutputs summarises a training stage.
type TrainOutputs = steps.Trained

// hyper returns the trainer hyperparameters of a stage's settings, with
// the paper's AdamW (β 0.9/0.999, eps 1e-8).
func hyper(t Train, seed int64) train.Hyper {
	h := train.Hyper{Steps: t.Steps, Batch: t.Batch, GradAccum: t.GradAccum, Schedule: t.Schedule, LR: t.LR, Warmup: t.Warmup, MinLR: t.MinLR, GradClip: t.GradClip, Seed: seed}
	h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: t.WeightDecay})
	return h
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
