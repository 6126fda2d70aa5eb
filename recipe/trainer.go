package recipe

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/torchlaunch"
	"github.com/longrecipe/longrecipe/train"
)

// Trainer is what a training stage needs from a backend: train the rows in
// Data, starting from the model folder From, into the folder Output with
// these settings, and report what happened. An Output holding an
// interrupted run of the same job resumes it. The recipe decides when a
// folder is stale (package stage); a Trainer never sees changed settings
// in a partial folder.
type Trainer interface {
	Train(ctx context.Context, j TrainJob) (*TrainOutputs, error)
}

// TrainJob is one training stage.
type TrainJob struct {
	// From is the starting model folder, Data the prepared rows (a shard
	// folder), Output the stage folder: checkpoints, metrics.jsonl and the
	// final model folder.
	From, Data, Output string
	Train              Train
	Seed               int64
	// Threads bounds the worker goroutines of the Go trainer; Precision is
	// its matrix-multiply arithmetic (the torch backend ignores both).
	Threads   int
	Precision model.Precision
	// SaveDType is the final model's dtype.
	SaveDType     string
	Progress, Log io.Writer
}

// TrainOutputs summarises a training stage.
type TrainOutputs struct {
	Steps     int     `json:"steps"`
	Tokens    int64   `json:"tokens"`
	LastLoss  float64 `json:"last_loss"`
	Seconds   float64 `json:"seconds"`
	Resumed   int     `json:"resumed_from_step"`
	SaveDType string  `json:"save_dtype"`
}

// GoTrainer trains with the embedded CPU engine (package train).
type GoTrainer struct{}

// Hyper returns the trainer hyperparameters of a job: its Train settings
// with the paper's AdamW (β 0.9/0.999, eps 1e-8).
func (j *TrainJob) Hyper() train.Hyper {
	t := j.Train
	h := train.Hyper{Steps: t.Steps, Batch: t.Batch, GradAccum: t.GradAccum, Schedule: t.Schedule, LR: t.LR, Warmup: t.Warmup, MinLR: t.MinLR, GradClip: t.GradClip, Seed: j.Seed}
	h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: t.WeightDecay})
	return h
}

// Train implements Trainer.
func (GoTrainer) Train(ctx context.Context, j TrainJob) (*TrainOutputs, error) {
	res, err := train.RunFolder(ctx, train.FolderJob{
		Hyper: j.Hyper(), From: j.From, Data: j.Data, Output: j.Output, CheckpointEvery: j.Train.CheckpointEvery,
		Threads: j.Threads, Precision: j.Precision, Checkpointing: true, SaveDType: j.SaveDType, Progress: j.Progress, Log: j.Log,
	})
	if err != nil {
		return nil, err
	}
	return outputs(res, j)
}

// outputs summarises a trainer result. A run that found its folder
// finished reports no loss: the last line of its metrics gives it.
func outputs(res *train.Result, j TrainJob) (*TrainOutputs, error) {
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

// TorchTrainer trains with PyTorch through the torch launcher (package
// torchlaunch): same hyperparameters, same output folder layout and
// metrics as the Go trainer.
type TorchTrainer struct {
	Launch torchlaunch.Launch
}

// Train implements Trainer.
func (t TorchTrainer) Train(ctx context.Context, j TrainJob) (*TrainOutputs, error) {
	res, err := torchlaunch.Train(ctx, torchlaunch.Job{
		Hyper: j.Hyper(), From: j.From, Data: j.Data, Output: j.Output, CheckpointEvery: j.Train.CheckpointEvery,
		SaveDType: j.SaveDType, Launch: t.Launch, Progress: j.Progress, Log: j.Log,
	})
	if err != nil {
		return nil, err
	}
	return outputs(res, j)
}

// trainerFor returns the trainer of a stage's settings, or, when
// opt.Trainer is set, that one (tests and embedders pass their own).
func trainerFor(t Train, opt Options) (Trainer, error) {
	if opt.Trainer != nil {
		return opt.Trainer, nil
	}
	switch t.Backend {
	case BackendGo, "":
		return GoTrainer{}, nil
	case BackendTorch:
		l, err := t.Launch.Torch()
		if err != nil {
			return nil, err
		}
		return TorchTrainer{Launch: l}, nil
	}
	return nil, fmt.Errorf("backend %q: want %q or %q", t.Backend, BackendGo, BackendTorch)
}
