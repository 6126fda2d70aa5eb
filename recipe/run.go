package recipe

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/eval/folder"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/merge"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/stage"
	"github.com/longrecipe/longrecipe/tokenizer"
	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

// Options control Run.
type Options struct {
	// FromStage reruns that stage and every later one even if complete.
	FromStage string
	// Trainer, when set, trains both training stages whatever their
	// backend setting (tests and embedders pass their own).
	Trainer trainer.Trainer
	// Log receives one line per stage event; Progress receives progress
	// bars. Either may be nil.
	Log, Progress io.Writer
}

// Summary is what Run produced: each stage's manifest, by name.
type Summary struct {
	Stages map[string]*StageFile
	// Dirs maps stage names to their folders.
	Dirs map[string]string
	// Final is the model folder to use: the merged model, or the last
	// trained one when merging is disabled.
	Final string
}

// StageDir returns the folder of a stage inside the run folder.
func (r *Recipe) StageDir(name string) string {
	return filepath.Join(r.Output, fmt.Sprintf("%d-%s", stageIndex(name)+1, name))
}

// Run runs the recipe's stages in order through the shared stage runner
// (package stage): a finished stage whose inputs are unchanged is skipped,
// an interrupted one resumes, and one whose inputs changed (its settings
// or an upstream stage) starts over, saying which inputs changed.
func Run(ctx context.Context, r *Recipe, opt Options) (*Summary, error) {
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if err := checkFromStage(opt.FromStage); err != nil {
		return nil, err
	}
	e, err := newRunEnv(r, opt)
	if err != nil {
		return nil, err
	}
	runner := &stage.Runner{Log: opt.Log, Prefix: "stage "}
	if err := checkInputs(e.stages()); err != nil {
		return nil, err
	}
	done := map[string]*StageFile{}
	for _, s := range e.stages() {
		if s.disabled {
			fmt.Fprintf(opt.Log, "stage %s: skipped (disabled in the recipe)\n", s.Name)
			continue
		}
		s.Force = forced(s.of(), opt.FromStage)
		rec, err := runner.Run(ctx, s.Stage, nil)
		if err != nil {
			return nil, err
		}
		done[s.Name] = rec
	}
	return &Summary{Stages: done, Dirs: e.dirs, Final: e.final()}, nil
}

// runEnv carries what the stage functions share.
type runEnv struct {
	r        *Recipe
	opt      Options
	tok      *tokenizer.Tokenizer
	base     *hf.Config
	threads  int
	prec     model.Precision // the Go engine's matrix-multiply arithmetic
	theta    float64         // the extended model's RoPE base
	ls       int             // the stage-1 training length
	dirs     map[string]string
	trainers map[string]trainer.Trainer // by stage
	precIn   map[string]string          // each training stage's precision input (trainer.Settings.Input)
}

// newRunEnv reads the base model's config and tokenizer, resolves the
// derived settings and picks the trainers, so that a bad setting fails
// before any stage runs.
func newRunEnv(r *Recipe, opt Options) (*runEnv, error) {
	if err := os.MkdirAll(r.Output, 0o755); err != nil {
		return nil, fmt.Errorf("recipe: %w", err)
	}
	base, err := hf.LoadConfig(filepath.Join(r.Base.Model, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("recipe base.model: %w", err)
	}
	tok, err := tokenizer.Load(r.Base.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("recipe base.tokenizer: %w", err)
	}
	e := &runEnv{r: r, opt: opt, tok: tok, base: base, threads: r.Threads, theta: r.Extend.RopeTheta, ls: r.Extend.Ls(),
		dirs: map[string]string{}, trainers: map[string]trainer.Trainer{}, precIn: map[string]string{}}
	if e.threads == 0 {
		e.threads = runtime.GOMAXPROCS(0)
	}
	if e.prec, err = model.ParsePrecision(r.Precision); err != nil {
		return nil, fmt.Errorf("recipe precision: %w", err)
	}
	switch {
	case e.theta == 0:
		e.theta = hf.DefaultRopeTheta(base.RopeTheta, base.HeadDim, base.MaxPositionEmbeddings, r.Extend.TargetLength)
	case e.theta < 0:
		e.theta = base.RopeTheta
	}
	if r.Extend.Method == "full" {
		e.ls = r.Extend.TargetLength
	}
	for _, s := range Stages {
		e.dirs[s] = r.StageDir(s)
	}
	e.dirs["extend-start"] = e.dirs["extend"] + "-start"
	if err := e.pickTrainer("extend", r.Extend.Train); err != nil {
		return nil, err
	}
	if r.Data.Replay != "" {
		if err := e.pickTrainer("anneal", r.Anneal.Train); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// pickTrainer resolves a training stage's trainer settings: its trainer
// (opt.Trainer when set: tests and embedders pass their own) and the
// precision it records among its inputs.
func (e *runEnv) pickTrainer(name string, t Train) error {
	s, err := e.r.settings(t)
	if err != nil {
		return fmt.Errorf("recipe %s.launch.%w", name, err)
	}
	if e.precIn[name], err = s.Input(); err != nil {
		return fmt.Errorf("recipe %w", err)
	}
	e.trainers[name] = e.opt.Trainer
	if e.trainers[name] == nil {
		if e.trainers[name], err = trainer.New(s); err != nil {
			return fmt.Errorf("recipe %s.backend: %w", name, err)
		}
	}
	return nil
}

// trained is the folder of the last training stage.
func (e *runEnv) trained() string {
	if e.r.Data.Replay != "" {
		return e.dirs["anneal"]
	}
	return e.dirs["extend"]
}

// final is the model folder the recipe produces.
func (e *runEnv) final() string {
	if e.r.Merge.Skip {
		return e.trained()
	}
	return e.dirs["merge"]
}

// recipeStage is a stage the recipe may disable.
type recipeStage struct {
	stage.Stage
	disabled bool
	// part names the recipe stage (one of Stages) that this one is a
	// step of, for --from-stage ("": its own name).
	part string
}

func (s *recipeStage) of() string {
	if s.part != "" {
		return s.part
	}
	return s.Name
}

// checkInputs refuses, before any stage runs or any folder is cleared, a
// recipe one of whose inputs lies inside one of its stage folders (a base
// model continued from an earlier run's merge in the same output folder, a
// corpus kept in a stage folder).
func checkInputs(stages []recipeStage) error {
	var all []stage.Stage
	for _, s := range stages {
		if !s.disabled {
			all = append(all, s.Stage)
		}
	}
	if err := stage.CheckInputs(all...); err != nil {
		return fmt.Errorf("recipe: %w", err)
	}
	return nil
}

// inputs maps the named recipe settings that are files or folders read by
// a stage to their paths (skipping unset ones, "digits" and haystack
// names). The stage runner keys the stage by their contents.
func (e *runEnv) inputs(names ...string) map[string]string {
	r := e.r
	paths := map[string]string{
		"base.model": r.Base.Model, "base.tokenizer": r.Base.Tokenizer, "data.corpus": r.Data.Corpus, "data.replay": r.Data.Replay,
		"extend.impactful": r.Extend.Impactful, "eval.haystack": r.Eval.Haystack, "eval.ppl_corpus": r.Eval.PPLCorpus,
	}
	out := map[string]string{}
	for _, n := range names {
		p := paths[n]
		if p == "" || (n == "extend.impactful" && p == "digits") || (n == "eval.haystack" && eval.IsHaystackName(p)) {
			continue
		}
		out[n] = p
	}
	return out
}

// stages lists the recipe's stages with their inputs: the settings that
// determine each one's output, the stages it reads and the files and
// folders it reads (keyed by content, not path).
func (e *runEnv) stages() []recipeStage {
	r, dirs := e.r, e.dirs
	replay := r.Data.Replay != ""
	trained := "extend"
	if replay {
		trained = "anneal"
	}
	evalDeps := []string{"extend-start", "extend"}
	if replay {
		evalDeps = append(evalDeps, "anneal")
	}
	if !r.Merge.Skip {
		evalDeps = append(evalDeps, "merge")
	}
	return []recipeStage{
		{Stage: stage.Stage{Name: "prepare", Dir: dirs["prepare"], Run: e.prepare, Inputs: e.inputs("data.corpus", "base.tokenizer", "extend.impactful"),
			Settings: map[string]any{
				"text_field": r.Data.TextField, "method": r.Extend.Method, "lt": r.Extend.TargetLength, "ls": e.ls,
				"impactful": impactfulSetting(r.Extend.Impactful), "drop_prob": r.Extend.DropProb, "seed": r.Seed,
			}}},
		{part: "extend", Stage: stage.Stage{Name: "extend-start", Dir: dirs["extend-start"], Run: e.start, Inputs: e.inputs("base.model"), Settings: map[string]any{
			"rope_theta": e.theta, "max_position_embeddings": r.Extend.TargetLength,
		}}},
		{Stage: stage.Stage{Name: "extend", Dir: dirs["extend"], Deps: []string{"prepare", "extend-start"}, Resumable: true, Continue: lengthened(r.Extend.Train), Run: e.extend, Settings: map[string]any{
			"train": r.Extend.Train, "seed": r.Seed, "threads": e.threads, "precision": e.precIn["extend"],
		}}},
		{disabled: !replay, Stage: stage.Stage{Name: "replay", Dir: dirs["replay"], Run: e.replay, Inputs: e.inputs("data.replay", "base.tokenizer"), Settings: map[string]any{
			"prompt_field": r.Data.PromptField, "response_field": r.Data.ResponseField,
			"mask_prompt": r.Data.MaskPrompt, "ls": e.ls, "seed": r.Seed,
		}}},
		{disabled: !replay, Stage: stage.Stage{Name: "anneal", Dir: dirs["anneal"], Deps: []string{"extend", "replay"}, Resumable: true, Continue: lengthened(r.Anneal.Train), Run: e.anneal,
			Settings: map[string]any{"train": r.Anneal.Train, "seed": r.Seed, "threads": e.threads, "precision": e.precIn["anneal"]}}},
		{disabled: r.Merge.Skip, Stage: stage.Stage{Name: "merge", Dir: dirs["merge"], Deps: []string{trained}, Run: e.merge,
			Inputs: e.inputs("base.model"), Settings: map[string]any{"weights": r.Merge.Weights}}},
		{disabled: r.Eval.Skip, Stage: stage.Stage{Name: "eval", Dir: dirs["eval"], Deps: evalDeps, Run: e.evaluate,
			Inputs:   e.inputs("base.model", "base.tokenizer", "eval.haystack", "eval.ppl_corpus"),
			Settings: map[string]any{"eval": r.Eval, "seed": r.Seed, "precision": e.prec.String()}}},
	}
}

// impactfulSetting is the impactful setting as a stage setting: "digits"
// or none as written; a file is a declared input, keyed by its content.
func impactfulSetting(s string) string {
	if s == "" || s == "digits" {
		return s
	}
	return "file"
}

// prepare builds the stage-1 rows.
func (e *runEnv) prepare(ctx context.Context, dir string) (any, error) {
	r := e.r
	method, err := data.ParseMethod(r.Extend.Method)
	if err != nil {
		return nil, err
	}
	p := r.Extend.DropProb
	return e.dataset(ctx, data.Job{
		Input: r.Data.Corpus, Output: dir, Method: method, TargetLength: r.Extend.TargetLength, TrainLength: e.ls,
		Impactful: r.Extend.Impactful, DropProb: &p,
	})
}

// replay builds the stage-2 rows from prompt/response records.
func (e *runEnv) replay(ctx context.Context, dir string) (any, error) {
	r := e.r
	return e.dataset(ctx, data.Job{
		Input: r.Data.Replay, Output: dir, Method: data.Replay, TargetLength: e.ls, TrainLength: e.ls,
		Replay: &data.ReplayConfig{PromptField: r.Data.PromptField, ResponseField: r.Data.ResponseField, Separator: "\n", MaskPrompt: r.Data.MaskPrompt},
	})
}

// dataset completes j with the run's shared settings and runs it.
func (e *runEnv) dataset(ctx context.Context, j data.Job) (any, error) {
	j.Format, j.Seed, j.Threads, j.Tokenizer, j.Progress = shards.Binary, uint64(e.r.Seed), e.threads, e.tok, e.opt.Progress
	j.Corpus = data.CorpusOptions{TextField: e.r.Data.TextField, IDsField: "input_ids"}
	m, err := data.RunJob(ctx, j)
	if err != nil {
		return nil, err
	}
	if m.Counts.Rows == 0 {
		return nil, fmt.Errorf("%s gave no rows (documents read %d, skipped %v): use longer documents or a shorter train length", j.Input, m.Counts.DocumentsRead, m.Counts.DocumentsSkipped)
	}
	return m.Counts, nil
}

// start writes the base model with the new window's RoPE settings: the
// model stage 1 starts from (its own folder: a trainer's output may not
// contain its input).
func (e *runEnv) start(_ context.Context, dir string) (any, error) {
	m, err := model.Load(e.r.Base.Model)
	if err != nil {
		return nil, err
	}
	m.Cfg.SetRope(e.theta, m.Cfg.RopeScaling, e.r.Extend.TargetLength) // keep any rope_scaling of the base
	if err := m.Save(dir, "float32"); err != nil {
		return nil, err
	}
	if _, err := hf.CopyTokenizerFiles(e.r.Base.Model, dir); err != nil {
		return nil, err
	}
	return map[string]any{"rope_theta": e.theta, "max_position_embeddings": e.r.Extend.TargetLength}, nil
}

// extend trains the start model on the prepared rows.
func (e *runEnv) extend(ctx context.Context, dir string) (any, error) {
	return e.train(ctx, "extend", e.dirs["extend-start"], e.dirs["prepare"], dir, e.r.Extend.Train)
}

// anneal trains the extended model on the replay rows.
func (e *runEnv) anneal(ctx context.Context, dir string) (any, error) {
	return e.train(ctx, "anneal", e.dirs["extend"], e.dirs["replay"], dir, e.r.Anneal.Train)
}

// merge averages the last trained model with the original.
func (e *runEnv) merge(ctx context.Context, dir string) (any, error) {
	return merge.Merge(ctx, []string{e.trained(), e.r.Base.Model}, dir, merge.Options{Weights: e.r.Merge.Weights, Overwrite: true, Progress: e.opt.Progress})
}

// train runs one training stage with its trainer, from the model in from
// on the rows in dataDir, writing the trained model folder to out.
func (e *runEnv) train(ctx context.Context, stageName, from, dataDir, out string, t Train) (any, error) {
	dtype := e.base.TorchDtype
	if dtype == "" {
		dtype = "float32"
	}
	j := trainer.Job{
		Hyper: hyper(t, e.r.Seed), From: from, Data: dataDir, Output: out, CheckpointEvery: t.CheckpointEvery,
		Threads: e.threads, Checkpointing: true, SaveDType: dtype, Progress: e.opt.Progress, Log: e.opt.Log,
	}
	res, err := e.trainers[stageName].Train(ctx, j)
	if err != nil {
		return nil, err
	}
	return outputs(res, j)
}

// evaluate runs the suite on each model (opened by package eval/folder,
// as the eval command does) and writes a comparison. The start model
// (the base with the new window's RoPE settings, untrained) is evaluated
// too, as the control every trained model is compared with.
func (e *runEnv) evaluate(ctx context.Context, dir string) (any, error) {
	r := e.r
	models := [][2]string{{"base", r.Base.Model}, {eval.StartModel, e.dirs["extend-start"]}, {"extend", e.dirs["extend"]}}
	if r.Data.Replay != "" {
		models = append(models, [2]string{"anneal", e.dirs["anneal"]})
	}
	if !r.Merge.Skip {
		models = append(models, [2]string{"merge", e.dirs["merge"]})
	}
	lengths := r.Eval.Lengths
	if len(lengths) == 0 {
		for l := e.base.MaxPositionEmbeddings / 2; l <= r.Extend.TargetLength; l *= 2 {
			lengths = append(lengths, l)
		}
	}
	// Every model's short-context perplexity is measured at the base
	// model's window.
	fo := folder.Options{Tokenizer: r.Base.Tokenizer, Haystack: r.Eval.Haystack, PPLText: r.Eval.PPLCorpus, PPLWindow: r.Eval.PPLWindow, Precision: e.prec}
	if fo.PPLWindow == 0 {
		fo.PPLWindow = folder.OriginalWindow(e.base)
	}
	var dirs []string
	summary := map[string]map[string]float64{}
	for _, mm := range models {
		name, path := mm[0], mm[1]
		fo.Name = name
		s, err := folder.Open(path, fo)
		if err != nil {
			return nil, err
		}
		res, err := s.Run(ctx, eval.Options{Tasks: r.Eval.Tasks, Lengths: lengths, Depths: r.Eval.Depths, Samples: r.Eval.Samples,
			Seed: uint64(r.Seed), Progress: e.opt.Progress})
		if err != nil {
			return nil, fmt.Errorf("eval %s: %w", name, err)
		}
		out := filepath.Join(dir, name)
		if err := eval.WriteReport(out, res); err != nil {
			return nil, err
		}
		dirs = append(dirs, out)
		summary[name] = map[string]float64{}
		for _, t := range r.Eval.Tasks {
			for _, l := range lengths {
				if v, ok := res.Mean(t, l); ok {
					summary[name][fmt.Sprintf("%s@%d", t, l)] = v
				}
			}
		}
	}
	if err := eval.Compare(filepath.Join(dir, "compare"), dirs); err != nil {
		return nil, err
	}
	return summary, nil
}

// lengthened lets a training stage whose only changed setting is its
// number of steps continue in its folder instead of starting over: the Go
// trainer under a constant schedule (train.Lengthenable), when its newest
// checkpoint is not beyond the new count. Its result is then the one the
// longer (or shorter) run would have had from the start.
func lengthened(t Train) func(dir string, changed []string) bool {
	return func(dir string, changed []string) bool {
		if !slices.Equal(changed, []string{"train.steps"}) || t.Backend != BackendGo || !train.Lengthenable(t.Schedule) {
			return false
		}
		step, err := train.CheckpointStep(dir)
		return err == nil && step <= t.Steps
	}
}
