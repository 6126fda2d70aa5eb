package steps

import (
	"context"
	"io"
	"math"
	"path/filepath"

	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/merge"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

// Theta is the θ rule: the RoPE base a model extended from base's window
// to lt tokens starts with. set 0 applies hf.DefaultRopeTheta (the
// dynamic-NTK base at lt, the paper's Table 4), a negative set keeps the
// base's θ, any other value is used as it is.
func Theta(base *hf.Config, lt int, set float64) float64 {
	switch {
	case set == 0:
		return hf.DefaultRopeTheta(base.RopeTheta, base.HeadDim, base.MaxPositionEmbeddings, lt)
	case set < 0:
		return base.RopeTheta
	}
	return set
}

// Start writes the model training starts from: the base model folder Base
// with RoPE base Theta and window (max_position_embeddings) Window, any
// rope_scaling of the base kept, in float32, with its tokenizer files. It
// is its own folder because a trainer's output may not hold its input.
type Start struct {
	Base   string
	Theta  float64
	Window int
}

// Run writes the start model into dir (a stage.Stage Run).
func (s Start) Run(_ context.Context, dir string) (any, error) {
	m, err := model.Load(s.Base)
	if err != nil {
		return nil, err
	}
	m.Cfg.SetRope(s.Theta, m.Cfg.RopeScaling, s.Window)
	if err := m.Save(dir, "float32"); err != nil {
		return nil, err
	}
	if _, err := hf.CopyTokenizerFiles(s.Base, dir); err != nil {
		return nil, err
	}
	return map[string]any{"rope_theta": s.Theta, "max_position_embeddings": s.Window}, nil
}

// Rows runs the data job j (stage-1 rows or replay packing) into binary
// shards and returns its counts; a job that yields no rows is an error
// (data.RunJob's, naming the input and why its documents were skipped).
func Rows(ctx context.Context, j data.Job) (shards.Counts, error) {
	j.Format = shards.Binary
	m, err := data.RunJob(ctx, j)
	if err != nil {
		return shards.Counts{}, err
	}
	return m.Counts, nil
}

// Trained summarises a training run (the outputs of a training stage).
type Trained struct {
	Steps     int     `json:"steps"`
	Tokens    int64   `json:"tokens"`
	LastLoss  float64 `json:"last_loss"`
	Seconds   float64 `json:"seconds"`
	Resumed   int     `json:"resumed_from_step"`
	SaveDType string  `json:"save_dtype"`
}

// Train runs j with tr and summarises it. The last loss is the last line
// of the run's metrics (the last step's, across resumes), so a run that
// found its folder finished reports it too.
func Train(ctx context.Context, tr trainer.Trainer, j trainer.Job) (*Trained, *train.Result, error) {
	res, err := tr.Train(ctx, j)
	if err != nil {
		return nil, nil, err
	}
	last := res.LastLoss
	ms, err := train.ReadMetrics(filepath.Join(j.Output, "metrics.jsonl"))
	if err != nil && math.IsNaN(last) {
		return nil, nil, err
	}
	if len(ms) > 0 {
		last = ms[len(ms)-1].Loss
	}
	return &Trained{Steps: res.Steps, Tokens: res.Tokens, LastLoss: last, Seconds: res.Elapsed.Seconds(), Resumed: res.ResumedFrom, SaveDType: j.SaveDType}, res, nil
}

// SaveDType is the dtype a trained model is saved in: the base's
// torch_dtype, float32 when it has none.
func SaveDType(base *hf.Config) string {
	if base.TorchDtype == "" {
		return "float32"
	}
	return base.TorchDtype
}

// Merge averages the model folders Models with Weights into a model
// folder (stage 3: the trained model with the original weights).
type Merge struct {
	Models   []string
	Weights  []float64
	Progress io.Writer
}

// Run writes the merged model into dir (a stage.Stage Run).
func (m Merge) Run(ctx context.Context, dir string) (any, error) {
	return merge.Merge(ctx, m.Models, dir, merge.Options{Weights: m.Weights, Overwrite: true, Progress: m.Progress})
}
