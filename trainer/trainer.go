package trainer

import (
	"context"
	"fmt"
	"io"

	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/torchlaunch"
	"github.com/longrecipe/longrecipe/train"
)

// Backends are the values of Settings.Backend.
const (
	BackendGo    = "go"
	BackendTorch = "torch"
)

// Trainer is what a training stage needs from a backend: train the rows of
// Data, starting from the model folder From, into the folder Output, and
// report what happened. An Output holding an interrupted run of the same
// job resumes it; the caller decides when a folder is stale.
type Trainer interface {
	Train(ctx context.Context, j Job) (*train.Result, error)
}

// Job is one training run, the same for every backend.
type Job struct {
	train.Hyper
	// From is the starting model folder, Data the rows (a shard folder or
	// a JSONL file), Output the run folder: checkpoints, metrics.jsonl and
	// the final model folder.
	From, Data, Output string
	CheckpointEvery    int
	// Threads bounds the Go engine's worker goroutines (0: all CPUs; the
	// torch backend ignores it).
	Threads int
	// Checkpointing recomputes activations in the backward pass. false
	// turns it off on both backends; true keeps the torch launch
	// settings' choice (on by default).
	Checkpointing bool
	// SaveDType is the final model's dtype ("" = the input's torch_dtype).
	SaveDType string
	// Force resumes a checkpoint made with other settings.
	Force         bool
	Progress, Log io.Writer
}

// Settings choose the backend and how it runs. The zero value is the Go
// engine with "auto" precision.
type Settings struct {
	// Backend is BackendGo ("" too) or BackendTorch.
	Backend string
	// Precision is the matrix multiplies' arithmetic: "bf16", "fp32", or
	// "auto"/"" (see the package doc).
	Precision string
	// Launch is where a torch run goes (zero fields take the launcher's
	// defaults); it must be zero for the Go backend.
	Launch torchlaunch.Launch
}

// New checks s and returns its trainer: the one switch between backends.
func New(s Settings) (Trainer, error) {
	p, err := model.ParsePrecision(s.Precision)
	if err != nil {
		return nil, err
	}
	switch s.Backend {
	case BackendGo, "":
		return Go{Precision: p}, nil
	case BackendTorch:
		l := s.Launch
		if s.Precision == "bf16" || s.Precision == "fp32" {
			l.Precision = s.Precision
		}
		if err := CheckLaunch(l); err != nil {
			return nil, err
		}
		return Torch{Launch: l.WithDefaults()}, nil
	}
	return nil, fmt.Errorf("backend %q: want %q or %q", s.Backend, BackendGo, BackendTorch)
}

// Input is the precision a stage records among its inputs: the Go
// engine's resolved value ("bf16" or "fp32"); for the torch backend the
// explicit value, or "" when the launch settings decide (they are not a
// stage input: changing where a stage runs resumes it).
func (s Settings) Input() (string, error) {
	if s.Backend == BackendTorch {
		if s.Precision == "auto" || s.Precision == "" {
			return "", nil
		}
		_, err := model.ParsePrecision(s.Precision)
		return s.Precision, err
	}
	p, err := model.ParsePrecision(s.Precision)
	return p.String(), err
}

// CheckLaunch reports a launch setting outside its domain, naming its key.
func CheckLaunch(l torchlaunch.Launch) error {
	d := l.WithDefaults()
	if d.NNodes > 1 && (d.MasterAddr == "127.0.0.1" || d.MasterAddr == "localhost") {
		return fmt.Errorf("master_addr: required when nnodes > 1 (the rank-0 host)")
	}
	return l.Validate()
}

// Go trains with the embedded CPU engine (package train).
type Go struct {
	Precision model.Precision
}

// Train implements Trainer.
func (g Go) Train(ctx context.Context, j Job) (*train.Result, error) {
	return train.RunFolder(ctx, train.FolderJob{
		Hyper: j.Hyper, From: j.From, Data: j.Data, Output: j.Output, CheckpointEvery: j.CheckpointEvery,
		Threads: j.Threads, Checkpointing: j.Checkpointing, Precision: g.Precision, SaveDType: j.SaveDType,
		Force: j.Force, Progress: j.Progress, Log: j.Log,
	})
}

// Torch trains with PyTorch through the torch launcher (package
// torchlaunch): same hyperparameters, same output folder layout and
// metrics as Go.
type Torch struct {
	Launch torchlaunch.Launch
}

// Train implements Trainer.
func (t Torch) Train(ctx context.Context, j Job) (*train.Result, error) {
	l := t.Launch
	if !j.Checkpointing {
		f := false
		l.ActivationCheckpointing = &f
	}
	return torchlaunch.Train(ctx, torchlaunch.Job{
		Hyper: j.Hyper, From: j.From, Data: j.Data, Output: j.Output, CheckpointEvery: j.CheckpointEvery,
		SaveDType: j.SaveDType, Force: j.Force, Launch: l, Progress: j.Progress, Log: j.Log,
	})
}
