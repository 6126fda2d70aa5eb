package recipe

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/merge"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/tokenizer"
	"github.com/longrecipe/longrecipe/train"
)

// Options control Run.
type Options struct {
	// FromStage reruns that stage and every later one even if complete.
	FromStage string
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

// Run runs the recipe's stages in order, skipping the complete ones.
func Run(ctx context.Context, r *Recipe, opt Options) (*Summary, error) {
	if opt.Log == nil {
		opt.Log = io.Discard
	}
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
	threads := r.Threads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	theta := r.Extend.RopeTheta
	switch {
	case theta == 0:
		theta = hf.DefaultRopeTheta(base.RopeTheta, base.HeadDim, base.MaxPositionEmbeddings, r.Extend.TargetLength)
	case theta < 0:
		theta = base.RopeTheta
	}
	ls := r.Extend.Ls()
	if r.Extend.Method == "full" {
		ls = r.Extend.TargetLength
	}
	dirs := map[string]string{}
	for _, s := range Stages {
		dirs[s] = r.StageDir(s)
	}
	trained := dirs["extend"]
	if r.Data.Replay != "" {
		trained = dirs["anneal"]
	}
	final := trained
	if !r.Merge.Skip {
		final = dirs["merge"]
	}
	env := &runEnv{r: r, tok: tok, base: base, threads: threads, progress: opt.Progress, log: opt.Log}

	prepareSettings := map[string]any{
		"corpus": r.Data.Corpus, "text_field": r.Data.TextField, "tokenizer": tok.Hash(),
		"method": r.Extend.Method, "lt": r.Extend.TargetLength, "ls": ls,
		"impactful": r.Extend.Impactful, "drop_prob": r.Extend.DropProb, "seed": r.Seed,
	}
	extendSettings := map[string]any{"base": r.Base.Model, "rope_theta": theta, "max_position_embeddings": r.Extend.TargetLength, "train": r.Extend.Train, "seed": r.Seed, "threads": threads}
	replaySettings := map[string]any{"replay": r.Data.Replay, "prompt_field": r.Data.PromptField, "response_field": r.Data.ResponseField, "mask_prompt": r.Data.MaskPrompt, "ls": ls, "tokenizer": tok.Hash(), "seed": r.Seed}
	annealSettings := map[string]any{"train": r.Anneal.Train, "seed": r.Seed, "threads": threads}
	mergeSettings := map[string]any{"weights": r.Merge.Weights, "original": r.Base.Model}
	evalSettings := map[string]any{"eval": r.Eval, "seed": r.Seed}

	annealDeps := []string{"extend", "replay"}
	mergeDeps := []string{"extend"}
	if r.Data.Replay != "" {
		mergeDeps = []string{"anneal"}
	}
	evalDeps := []string{"extend"}
	if r.Data.Replay != "" {
		evalDeps = append(evalDeps, "anneal")
	}
	if !r.Merge.Skip {
		evalDeps = append(evalDeps, "merge")
	}

	stages := []*stage{
		{name: "prepare", dir: dirs["prepare"], settings: prepareSettings,
			run: func(ctx context.Context, dir string) (any, error) { return env.prepare(ctx, dir, ls) }},
		{name: "extend", dir: dirs["extend"], deps: []string{"prepare"}, settings: extendSettings, resumable: true,
			run: func(ctx context.Context, dir string) (any, error) {
				return env.extend(ctx, dir, dirs["prepare"], theta)
			}},
		{name: "replay", dir: dirs["replay"], settings: replaySettings, skip: r.Data.Replay == "",
			run: func(ctx context.Context, dir string) (any, error) { return env.replay(ctx, dir, ls) }},
		{name: "anneal", dir: dirs["anneal"], deps: annealDeps, settings: annealSettings, resumable: true, skip: r.Data.Replay == "",
			run: func(ctx context.Context, dir string) (any, error) {
				return env.train(ctx, dirs["extend"], dirs["replay"], dir, r.Anneal.Train)
			}},
		{name: "merge", dir: dirs["merge"], deps: mergeDeps, settings: mergeSettings, skip: r.Merge.Skip,
			run: func(ctx context.Context, dir string) (any, error) {
				res, err := merge.Merge(ctx, []string{trained, r.Base.Model}, dir, merge.Options{Weights: r.Merge.Weights, Overwrite: true, Progress: opt.Progress})
				if err != nil {
					return nil, err
				}
				return res, nil
			}},
		{name: "eval", dir: dirs["eval"], deps: evalDeps, settings: evalSettings, skip: r.Eval.Skip,
			run: func(ctx context.Context, dir string) (any, error) {
				models := [][2]string{{"base", r.Base.Model}, {"extend", dirs["extend"]}}
				if r.Data.Replay != "" {
					models = append(models, [2]string{"anneal", dirs["anneal"]})
				}
				if !r.Merge.Skip {
					models = append(models, [2]string{"merge", dirs["merge"]})
				}
				return env.evaluate(ctx, dir, models)
			}},
	}
	done, err := runStages(ctx, stages, opt.FromStage, opt.Log)
	if err != nil {
		return nil, err
	}
	return &Summary{Stages: done, Dirs: dirs, Final: final}, nil
}

// runEnv carries what the stage functions share.
type runEnv struct {
	r        *Recipe
	tok      *tokenizer.Tokenizer
	base     *hf.Config
	threads  int
	progress io.Writer
	log      io.Writer
}

// prepare builds the stage-1 rows.
func (e *runEnv) prepare(ctx context.Context, dir string, ls int) (any, error) {
	r := e.r
	method, err := data.ParseMethod(r.Extend.Method)
	if err != nil {
		return nil, err
	}
	p := r.Extend.DropProb
	return e.dataset(ctx, data.Job{
		Input: r.Data.Corpus, Output: dir, Method: method, TargetLength: r.Extend.TargetLength, TrainLength: ls,
		Impactful: r.Extend.Impactful, DropProb: &p,
	})
}

// replay builds the stage-2 rows from prompt/response records.
func (e *runEnv) replay(ctx context.Context, dir string, ls int) (any, error) {
	r := e.r
	return e.dataset(ctx, data.Job{
		Input: r.Data.Replay, Output: dir, Method: data.Replay, TargetLength: ls, TrainLength: ls,
		Replay: &data.ReplayConfig{PromptField: r.Data.PromptField, ResponseField: r.Data.ResponseField, Separator: "\n", MaskPrompt: r.Data.MaskPrompt},
	})
}

// dataset completes j with the run's shared settings and runs it.
func (e *runEnv) dataset(ctx context.Context, j data.Job) (any, error) {
	j.Format, j.Seed, j.Threads, j.Tokenizer, j.Progress = shards.Binary, uint64(e.r.Seed), e.threads, e.tok, e.progress
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

// extend writes the base model with the new window's RoPE settings into
// dir/start, then trains it on the prepared rows.
func (e *runEnv) extend(ctx context.Context, dir, dataDir string, theta float64) (any, error) {
	start := filepath.Join(dir, "start")
	if _, err := os.Stat(filepath.Join(start, "config.json")); err != nil {
		m, err := model.Load(e.r.Base.Model)
		if err != nil {
			return nil, err
		}
		m.Cfg.SetRope(theta, m.Cfg.RopeScaling, e.r.Extend.TargetLength) // keep any rope_scaling of the base
		if err := m.Save(start, "float32"); err != nil {
			return nil, err
		}
		if _, err := hf.CopyTokenizerFiles(e.r.Base.Model, start); err != nil {
			return nil, err
		}
	}
	return e.train(ctx, start, dataDir, dir, e.r.Extend.Train)
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

// train runs one training stage from the model in from on the rows in
// dataDir, writing the trained model folder to out.
func (e *runEnv) train(ctx context.Context, from, dataDir, out string, t Train) (any, error) {
	dtype := e.base.TorchDtype
	if dtype == "" {
		dtype = "float32"
	}
	h := train.Hyper{Steps: t.Steps, Batch: t.Batch, GradAccum: t.GradAccum, Schedule: t.Schedule, LR: t.LR, Warmup: t.Warmup, MinLR: t.MinLR, GradClip: t.GradClip, Seed: e.r.Seed}
	h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: t.WeightDecay})
	res, err := train.RunFolder(ctx, train.FolderJob{
		Hyper: h, From: from, Data: dataDir, Output: out, CheckpointEvery: t.CheckpointEvery,
		Threads: e.threads, Checkpointing: true, SaveDType: dtype, Progress: e.progress, Log: e.log,
	})
	if err != nil {
		return nil, err
	}
	return &TrainOutputs{Steps: res.Steps, Tokens: res.Tokens, LastLoss: res.LastLoss, Seconds: res.Elapsed.Seconds(), Resumed: res.ResumedFrom, SaveDType: dtype}, nil
}

// evaluate runs the suite on each model and writes a comparison.
func (e *runEnv) evaluate(ctx context.Context, dir string, models [][2]string) (any, error) {
	r := e.r
	lengths := r.Eval.Lengths
	if len(lengths) == 0 {
		for l := e.base.MaxPositionEmbeddings / 2; l <= r.Extend.TargetLength; l *= 2 {
			lengths = append(lengths, l)
		}
	}
	hay := eval.NoiseHaystack()
	if r.Eval.Haystack != "" && r.Eval.Haystack != "noise" {
		var err error
		if hay, err = eval.LoadHaystack(r.Eval.Haystack); err != nil {
			return nil, err
		}
	}
	window := r.Eval.PPLWindow
	if window == 0 {
		window = e.base.MaxPositionEmbeddings
	}
	var pplDocs []string
	var pplSource string
	for _, t := range r.Eval.Tasks {
		if t == "ppl" {
			src := r.Eval.PPLCorpus
			if src == "" {
				src = r.Data.Corpus
			}
			docs, err := eval.Documents(src)
			if err != nil {
				return nil, err
			}
			pplDocs, pplSource = docs, src
		}
	}
	var dirs []string
	summary := map[string]map[string]float64{}
	for _, mm := range models {
		name, path := mm[0], mm[1]
		m, err := model.Load(path)
		if err != nil {
			return nil, err
		}
		eng := &eval.Engine{Model: m, Tok: e.tok}
		if id, ok := e.tok.EOS(); ok {
			eng.Stops = append(eng.Stops, id)
		}
		res, err := eval.Run(ctx, eng, e.tok, eval.Options{
			Tasks: r.Eval.Tasks, Lengths: lengths, Depths: r.Eval.Depths, Samples: r.Eval.Samples, Seed: uint64(r.Seed),
			Haystack: hay, PPLDocs: pplDocs, PPLSource: pplSource, PPLWindow: window, Progress: e.progress,
			ModelName: name, TokenizerName: r.Base.Tokenizer,
		})
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
