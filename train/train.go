package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/longrecipe/longrecipe/internal/progress"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
)

// Model is what the loop needs of a model. ForwardBackward adds the
// gradient of the summed next-token NLL of b to every parameter's G and
// returns that sum and the number of predicted tokens. It must be
// deterministic for resumed runs to be bit-identical.
type Model interface {
	Params() []*model.Param
	ForwardBackward(b *model.Batch) (lossSum float64, nTokens int, err error)
}

// Config is one training run.
type Config struct {
	Hyper
	Model Model   // trained in place
	Data  Dataset // rows, taken in order
	// Output is the run folder: metrics.jsonl, loss.png, lr.png,
	// checkpoints/ and, at the end, whatever SaveModel writes.
	Output string
	// CheckpointEvery writes a checkpoint every that many steps (0: only
	// at the end). A checkpoint is also written at the last step and when
	// ctx is cancelled.
	CheckpointEvery int
	// Force resumes from a checkpoint whose hyperparameters differ.
	Force bool
	// SaveModel, when not nil, is called with Output after the last step
	// to write the final model folder (the trained weights are in the
	// Model's parameters).
	SaveModel func(dir string) error
	// Progress receives the progress bar; nil draws none.
	Progress io.Writer
	// Log receives one-line notices (resume, checkpoints); nil discards.
	Log io.Writer
	// MaxRowTokens refuses a row longer than this many tokens when it is
	// read, before the model allocates anything for it (0: no limit).
	// RunFolder sets the model's max_position_embeddings: a row must fit
	// the window being trained (LongRecipe rows hold fewer tokens than the
	// target window their positions span; a plain row's positions are
	// 0..n-1). DataName names the data in that error.
	MaxRowTokens int
	DataName     string
}

// Result summarises a run.
type Result struct {
	// ResumedFrom is the step of the checkpoint this call resumed from
	// (0 for a fresh start).
	ResumedFrom int
	// Steps is the number of optimizer steps done in total.
	Steps int
	// LastLoss is the loss of the last step this call ran (NaN if none).
	LastLoss float64
	// Tokens is the number of input tokens trained on, across resumes.
	Tokens int64
	// Elapsed is the training wall time, across resumes.
	Elapsed time.Duration
}

// Metric is one line of metrics.jsonl, written after every step.
type Metric struct {
	Step       int     `json:"step"` // 1-based number of the step
	Loss       float64 `json:"loss"` // mean NLL over the predicted tokens
	LR         float64 `json:"lr"`   // learning rate used by the step
	GradNorm   float64 `json:"grad_norm"`
	Tokens     int     `json:"tokens"`       // input tokens of the step
	Predicted  int     `json:"predicted"`    // predicted (loss) tokens
	TokensPerS float64 `json:"tokens_per_s"` // input tokens per second of the step
	ElapsedS   float64 `json:"elapsed_s"`    // training time so far
}

func (c *Config) validate() error {
	switch {
	case c.Model == nil:
		return errors.New("train: no model")
	case c.Data == nil || c.Data.Len() == 0:
		return errors.New("train: no training rows")
	case c.Output == "":
		return errors.New("train: no output folder")
	case c.Steps <= 0:
		return fmt.Errorf("train: steps %d must be positive", c.Steps)
	case c.Batch <= 0:
		return fmt.Errorf("train: batch %d must be positive", c.Batch)
	case c.GradAccum <= 0:
		return fmt.Errorf("train: grad-accum %d must be positive", c.GradAccum)
	case c.MaxRowTokens < 0:
		return fmt.Errorf("train: max row tokens %d is negative", c.MaxRowTokens)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("train: checkpoint-every %d is negative", c.CheckpointEvery)
	case !(c.GradClip >= 0) || math.IsInf(c.GradClip, 0):
		return fmt.Errorf("train: grad-clip %v must be >= 0 and finite (0 disables clipping)", c.GradClip)
	}
	if err := c.ScheduleOf().Validate(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := c.AdamWConfig().Validate(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// Run trains cfg.Model for cfg.Steps optimizer steps. If cfg.Output holds
// a checkpoint it resumes from it (the same hyperparameters are required
// unless cfg.Force); a run that already reached cfg.Steps only writes the
// final outputs again. A NaN or infinite loss or gradient norm stops the
// run before the update, keeping the last checkpoint. Cancelling ctx
// abandons the step in progress (at a micro-step boundary), writes a
// checkpoint of the steps done and returns ctx's error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.MaxRowTokens > 0 && cfg.Data != nil {
		cfg.Data = rowLimit{Dataset: cfg.Data, max: cfg.MaxRowTokens, name: cfg.DataName}
	}
	r, err := resume(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.openMetrics(); err != nil {
		return nil, err
	}
	defer r.mf.Close()
	if err := r.loop(ctx); err != nil {
		return r.res, err
	}
	return r.finish()
}

// run is one call of Run: its settings, the optimizer, the training state
// (saved in checkpoints) and the open metrics file.
type run struct {
	cfg    Config
	params []*model.Param
	opt    *AdamW
	sched  Schedule
	st     *State
	res    *Result

	mpath      string
	mf         *os.File
	metricsLen int64 // bytes of mf that belong to steps done
	// lastCheckpoint is the step of the newest checkpoint on disk, −1
	// when none.
	lastCheckpoint int
}

func (r *run) logf(format string, a ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format+"\n", a...)
	}
}

// resume validates cfg, builds the optimizer and, when the output folder
// holds a checkpoint, checks that it was made with the same settings and
// data and loads its weights, moments and state.
func resume(cfg Config) (*run, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	out := cfg.Output
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	params := cfg.Model.Params()
	if len(params) == 0 {
		return nil, errors.New("train: the model has no parameters")
	}
	opt, err := NewAdamW(params, cfg.AdamWConfig())
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	sample, err := dataSample(cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	r := &run{cfg: cfg, params: params, opt: opt, sched: cfg.ScheduleOf(), lastCheckpoint: -1,
		st: &State{Format: stateFormat, DataRows: cfg.Data.Len(), DataSample: sample, Hyper: cfg.Hyper}}
	ckDir, old, err := latestCheckpoint(out)
	if err != nil {
		return nil, fmt.Errorf("train: %w (remove %s to start over)", err, filepath.Join(out, checkpointDir))
	}
	if old != nil {
		if err := checkResumable(cfg, ckDir, old, sample); err != nil {
			return nil, err
		}
		if err := loadCheckpoint(ckDir, params, opt); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		st := r.st
		opt.T = old.OptimizerSteps
		st.Step, st.Tokens, st.ElapsedS, st.MetricsBytes = old.Step, old.Tokens, old.ElapsedS, old.MetricsBytes
		r.lastCheckpoint = st.Step
		r.logf("train: resuming from %s (step %d of %d)", ckDir, old.Step, cfg.Steps)
	}
	r.res = &Result{ResumedFrom: r.st.Step, LastLoss: math.NaN()}
	return r, nil
}

// checkResumable refuses a checkpoint made with other settings or data
// (unless cfg.Force) or beyond cfg.Steps. Under a constant schedule the
// total number of steps is not one of those settings (see Lengthenable).
func checkResumable(cfg Config, ckDir string, old *State, sample string) error {
	made := old.Hyper
	if Lengthenable(made.Schedule) && Lengthenable(cfg.Schedule) {
		made.Steps = cfg.Steps
	}
	if d := diffHyper(&made, &cfg.Hyper); len(d) > 0 && !cfg.Force {
		return fmt.Errorf("train: %s was made with other settings (%s); use the same flags, --force to continue anyway, or another --output", ckDir, joinSemi(d))
	}
	if old.DataRows != cfg.Data.Len() && !cfg.Force {
		return fmt.Errorf("train: %s was made with %d data rows, the data now has %d; use --force to continue anyway", ckDir, old.DataRows, cfg.Data.Len())
	}
	if old.DataSample != sample && !cfg.Force {
		return fmt.Errorf("train: %s was made with other data (rows 0, n/2 or n-1 differ: fingerprint %s, now %s); use --force to continue anyway", ckDir, old.DataSample, sample)
	}
	if old.Step > cfg.Steps {
		return fmt.Errorf("train: %s is at step %d, beyond --steps %d", ckDir, old.Step, cfg.Steps)
	}
	return nil
}

// openMetrics opens metrics.jsonl for appending after the steps the
// checkpoint covers, dropping the lines of later steps (they are redone).
func (r *run) openMetrics() error {
	r.mpath = filepath.Join(r.cfg.Output, metricsFile)
	mf, err := os.OpenFile(r.mpath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	want := r.st.MetricsBytes
	if fi, err := mf.Stat(); err != nil {
		mf.Close()
		return fmt.Errorf("train: %w", err)
	} else if fi.Size() < want {
		mf.Close()
		return fmt.Errorf("train: %s has %d bytes, the checkpoint recorded %d", r.mpath, fi.Size(), want)
	}
	if err := mf.Truncate(want); err != nil {
		mf.Close()
		return fmt.Errorf("train: %s: %w", r.mpath, err)
	}
	if _, err := mf.Seek(want, io.SeekStart); err != nil {
		mf.Close()
		return fmt.Errorf("train: %s: %w", r.mpath, err)
	}
	r.mf, r.metricsLen = mf, want
	return nil
}

// checkpoint syncs the metrics and writes the weights, moments and state
// of the current step, then the curves.
func (r *run) checkpoint() error {
	st := r.st
	if err := r.mf.Sync(); err != nil {
		return fmt.Errorf("train: %s: %w", r.mpath, err)
	}
	st.MetricsBytes = r.metricsLen
	st.OptimizerSteps = r.opt.T
	st.NextRow = int64(st.Step) * int64(r.cfg.Batch) * int64(r.cfg.GradAccum)
	st.LR = r.sched.At(st.Step)
	if err := writeCheckpoint(r.cfg.Output, r.params, r.opt, st); err != nil {
		return fmt.Errorf("train: step %d: %w", st.Step, err)
	}
	if err := writeCurves(r.cfg.Output); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.lastCheckpoint = st.Step
	return nil
}

// loop runs the optimizer steps up to cfg.Steps, checkpointing every
// cfg.CheckpointEvery steps and at the end; on cancellation it writes a
// checkpoint of the last finished step and returns the context's error.
func (r *run) loop(ctx context.Context) error {
	cfg, st := &r.cfg, r.st
	var bar *progress.Bar
	if cfg.Progress != nil && st.Step < cfg.Steps {
		bar = progress.New(cfg.Progress, "train", int64(cfg.Steps-st.Step), "steps")
	}
	runStart := time.Now()
	elapsed0 := st.ElapsedS
	rows := make([]shards.Row, cfg.Batch)
	for st.Step < cfg.Steps {
		if err := ctx.Err(); err != nil {
			if r.lastCheckpoint != st.Step {
				if cerr := r.checkpoint(); cerr != nil {
					return errors.Join(err, cerr)
				}
			}
			return fmt.Errorf("train: interrupted at step %d (checkpoint written; rerun the same command to resume): %w", st.Step, err)
		}
		t0 := time.Now()
		m, done, err := r.step(ctx, rows)
		if err != nil {
			return err
		}
		if !done {
			continue // interrupted inside the step: checkpoint what is done
		}
		st.ElapsedS = elapsed0 + time.Since(runStart).Seconds()
		m.ElapsedS = st.ElapsedS
		if dt := time.Since(t0).Seconds(); dt > 0 {
			m.TokensPerS = float64(m.Tokens) / dt
		}
		if err := r.writeMetric(m); err != nil {
			return err
		}
		if bar != nil {
			bar.SetExtra(fmt.Sprintf("step %d/%d loss %.4f lr %.3g %.0f tok/s", st.Step, cfg.Steps, m.Loss, m.LR, m.TokensPerS))
			bar.Add(1)
		}
		if st.Step == cfg.Steps || (cfg.CheckpointEvery > 0 && st.Step%cfg.CheckpointEvery == 0) {
			if err := r.checkpoint(); err != nil {
				return err
			}
		}
	}
	if bar != nil {
		bar.Finish()
	}
	return nil
}

// step runs one optimizer step: GradAccum forward/backward passes over
// the step's rows, the mean over predicted tokens, clipping and the
// update. done is false when ctx was cancelled before the update, also
// in the middle of a forward/backward pass (model.Options.Stop): the
// weights are then unchanged.
func (r *run) step(ctx context.Context, rows []shards.Row) (m Metric, done bool, err error) {
	cfg, st := &r.cfg, r.st
	zeroGrads(r.params)
	var lossSum float64
	var nPred, nTok int
	for k := 0; k < cfg.GradAccum; k++ {
		if ctx.Err() != nil {
			return m, false, nil
		}
		ls, np, tok, err := r.microStep(k, rows)
		if errors.Is(err, model.ErrStopped) && ctx.Err() != nil {
			return m, false, nil // interrupted inside the pass
		}
		if err != nil {
			return m, false, err
		}
		lossSum += ls
		nPred += np
		nTok += tok
	}
	if nPred == 0 {
		return m, false, fmt.Errorf("train: step %d: no predicted tokens in its %d rows (all masked or one token long)", st.Step+1, cfg.Batch*cfg.GradAccum)
	}
	scaleGrads(r.params, float32(1/float64(nPred)))
	loss := lossSum / float64(nPred)
	norm := ClipGradNorm(r.params, cfg.GradClip)
	if bad(loss) || bad(norm) {
		where := "no checkpoint was written yet"
		if r.lastCheckpoint >= 0 {
			where = fmt.Sprintf("the last good checkpoint is step %d in %s", r.lastCheckpoint, filepath.Join(cfg.Output, checkpointDir))
		}
		r.mf.Sync()
		return m, false, fmt.Errorf("train: step %d: loss %v, gradient norm %v: stopped before updating the weights; %s", st.Step+1, loss, norm, where)
	}
	lr := r.sched.At(st.Step)
	if err := r.opt.Step(r.params, lr); err != nil {
		return m, false, fmt.Errorf("train: step %d: %w", st.Step+1, err)
	}
	st.Step++
	st.Tokens += int64(nTok)
	r.res.LastLoss = loss
	return Metric{Step: st.Step, Loss: loss, LR: lr, GradNorm: norm, Tokens: nTok, Predicted: nPred}, true, nil
}

// microStep reads the rows of micro-step k of the current step into rows
// and runs the model's forward/backward pass over them.
func (r *run) microStep(k int, rows []shards.Row) (lossSum float64, nPred, nTok int, err error) {
	cfg, st := &r.cfg, r.st
	first := int64(st.Step)*int64(cfg.Batch*cfg.GradAccum) + int64(k*cfg.Batch)
	n := int64(cfg.Data.Len())
	for j := range rows {
		idx := int((first + int64(j)) % n)
		row, err := cfg.Data.Row(idx)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("train: step %d: data row %d: %w", st.Step+1, idx, err)
		}
		rows[j] = row
	}
	b, tok, err := makeBatch(rows)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("train: step %d: data rows from %d: %w", st.Step+1, first%n, err)
	}
	ls, np, err := cfg.Model.ForwardBackward(b)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("train: step %d, micro-step %d: %w", st.Step+1, k+1, err)
	}
	return ls, np, tok, nil
}

// writeMetric appends one line to metrics.jsonl.
func (r *run) writeMetric(m Metric) error {
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("train: step %d: metrics: %w", m.Step, err)
	}
	line = append(line, '\n')
	if _, err := r.mf.Write(line); err != nil {
		return fmt.Errorf("train: %s: %w", r.mpath, err)
	}
	r.metricsLen += int64(len(line))
	return nil
}

// finish writes a final checkpoint if the last step has none (only when
// an earlier run had finished without one), saves the model and the
// curves, and fills in the result.
func (r *run) finish() (*Result, error) {
	st, res, out := r.st, r.res, r.cfg.Output
	if r.lastCheckpoint != st.Step {
		if err := r.checkpoint(); err != nil {
			return res, err
		}
	}
	if r.cfg.SaveModel != nil {
		if err := r.cfg.SaveModel(out); err != nil {
			return res, fmt.Errorf("train: saving the final model to %s: %w", out, err)
		}
	}
	if err := writeCurves(out); err != nil {
		return res, fmt.Errorf("train: %w", err)
	}
	res.Steps, res.Tokens = st.Step, st.Tokens
	res.Elapsed = time.Duration(st.ElapsedS * float64(time.Second))
	r.logf("train: %d steps done, %d tokens, %s of training; model in %s", st.Step, st.Tokens, res.Elapsed.Round(time.Millisecond), out)
	return res, nil
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

func zeroGrads(params []*model.Param) {
	for _, p := range params {
		clear(p.G)
	}
}

func joinSemi(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

// Lengthenable reports whether a run under schedule kind may change its
// total number of steps and continue from its checkpoints: the constant
// schedule's learning rate at a step does not depend on the total (cosine
// and linear decay toward it), and the row order never does, so a run
// resumed with more steps takes the very steps a longer run would have.
func Lengthenable(schedule string) bool { return schedule == "constant" }

// CheckpointStep returns the step of the newest complete checkpoint under
// out (as written by Run), or -1 when there is none.
func CheckpointStep(out string) (int, error) {
	_, st, err := latestCheckpoint(out)
	if err != nil || st == nil {
		return -1, err
	}
	return st.Step, nil
}
