package experiment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/longrecipe/longrecipe/analyze"
	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/eval/folder"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/inputs"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/stage"
	"github.com/longrecipe/longrecipe/steps"
	"github.com/longrecipe/longrecipe/tokenizer"
	"github.com/longrecipe/longrecipe/train"
	"github.com/longrecipe/longrecipe/trainer"
)

// Options configure Run. Zero values take the defaults of DefaultOptions
// (or of the quick settings when Quick is set).
type Options struct {
	// Base is the model folder to extend (config.json, safetensors,
	// tokenizer.json).
	Base string
	// Output is the experiment folder.
	Output string
	// Factor is Lt / the base window (8).
	Factor int
	// Tokens is the stage-1 training budget of every run, in input tokens.
	Tokens int64
	// AnnealTokens is the stage-2 (replay) budget of the stage ablation
	// (default Tokens/10).
	AnnealTokens int64
	// Batch is the number of rows per optimizer step, the same for every
	// run (FLT's rows are longer, so it does fewer steps). The steps are
	// rounded to the nearest whole number, so each run's tokens are within
	// Batch/2 rows of Tokens: within one row for the default of 2.
	Batch int
	// LR is the stage-1 learning rate (constant), AnnealLR the stage-2
	// peak (decaying linearly to zero).
	LR, AnnealLR float64
	// Seed drives data preparation, training and the evaluation prompts
	// of the first seed; seed i (from 0) uses Seed + i.
	Seed int64
	// Seeds is the number of seeds (default 3; quick 2).
	Seeds int
	// Samples per evaluation cell (task × length × depth), and perplexity
	// sequences.
	Samples int
	// Quick uses tiny settings for a smoke test of the plumbing.
	Quick bool
	// MaxDocs keeps only the first MaxDocs documents of each corpus split
	// (0: all).
	MaxDocs int
	// Threads for training (0: all cores).
	Threads int
	// Precision is the arithmetic of every training's and evaluation's
	// matrix multiplies (model.FP32, the zero value, or model.BF16).
	Precision model.Precision
	// Command is the command line, recorded at the top of results.md.
	Command string
	// Log receives one line per step; Progress receives progress bars.
	Log, Progress io.Writer
}

// DefaultOptions are the settings of the committed experiment.
func DefaultOptions() Options {
	return Options{Factor: 8, Tokens: 150_000, Batch: 2, LR: 3e-4, AnnealLR: 2e-4, Seed: 2027, Seeds: 3, Samples: 5}
}

// quickDefaults fill what Quick leaves unset: a couple of steps per run,
// one sample per cell, a few documents.
func (o *Options) fill() error {
	d := DefaultOptions()
	if o.Factor == 0 {
		o.Factor = d.Factor
	}
	if o.Batch == 0 {
		o.Batch = d.Batch
	}
	if o.LR == 0 {
		o.LR = d.LR
	}
	if o.AnnealLR == 0 {
		o.AnnealLR = d.AnnealLR
	}
	if o.Samples == 0 {
		o.Samples = d.Samples
		if o.Quick {
			o.Samples = 1
		}
	}
	if o.Quick && o.MaxDocs == 0 {
		o.MaxDocs = 24
	}
	if o.Seeds == 0 {
		o.Seeds = d.Seeds
		if o.Quick {
			o.Seeds = 2
		}
	}
	if o.Threads == 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	switch {
	case o.Base == "":
		return fmt.Errorf("experiment: no base model folder")
	case o.Output == "":
		return fmt.Errorf("experiment: no output folder")
	case o.Factor < 2:
		return fmt.Errorf("experiment: factor %d: want >= 2", o.Factor)
	case o.Tokens < 0 || o.AnnealTokens < 0:
		return fmt.Errorf("experiment: token budgets must be >= 0")
	case o.Batch < 0 || o.Samples < 0 || o.MaxDocs < 0 || o.Threads < 0 || o.Seeds < 0:
		return fmt.Errorf("experiment: batch, samples, max-docs, threads and seeds must be >= 0")
	case !(o.LR > 0) || !(o.AnnealLR > 0):
		return fmt.Errorf("experiment: learning rates must be > 0")
	}
	return nil
}

// selection is how a run's rows choose sentences.
type selection string

const (
	selNone     selection = ""         // keep every sentence
	selDigits   selection = "digits"   // keep digit sentences, drop others with p = 0.5
	selRandom   selection = "random"   // drop every sentence with p = 1 − the digit selection's kept fraction
	selAnalysis selection = "analysis" // keep sentences with an analysis-derived impactful token, drop others with p = 0.5
)

// runSpec describes one stage-1 training run.
type runSpec struct {
	Name   RunName
	Label  string
	Method data.Method
	// Ratio is Ls/Lt (1 for FLT).
	Ratio  float64
	Select selection
	// EqualSequences trains as many steps (rows, the batch being the
	// same) as LongRecipe30 instead of the token budget.
	EqualSequences bool
	// Stages adds replay annealing and merging.
	Stages bool
}

// runs lists the stage-1 runs in the order they are trained: LongRecipe
// 30 % first (FLT at equal sequences takes its step count), FLT at equal
// tokens before the analysis control (the analysis compares it with the
// base).
var runs = []runSpec{
	{Name: LongRecipe30, Label: "LongRecipe 30%", Method: data.LongRecipe, Ratio: positions.DefaultRatio, Select: selDigits, Stages: true},
	{Name: FLT, Label: "FLT (equal tokens)", Method: data.Full, Ratio: 1, Stages: true},
	{Name: FLTSequences, Label: "FLT (equal sequences)", Method: data.Full, Ratio: 1, EqualSequences: true, Stages: true},
	{Name: PoSE, Label: "PoSE", Method: data.PoSE, Ratio: positions.DefaultRatio, Stages: true},
	{Name: RandPos, Label: "RandPos", Method: data.RandPos, Ratio: positions.DefaultRatio, Stages: true},
	{Name: LongRecipe30NoSelect, Label: "LongRecipe 30% without selection", Method: data.LongRecipe, Ratio: positions.DefaultRatio, Stages: true},
	{Name: LongRecipe30Random, Label: "LongRecipe 30% random drops", Method: data.LongRecipe, Ratio: positions.DefaultRatio, Select: selRandom, Stages: true},
	{Name: LongRecipe30Analysis, Label: "LongRecipe 30% analysis set", Method: data.LongRecipe, Ratio: positions.DefaultRatio, Select: selAnalysis, Stages: true},
	// The ratio ablation trains LongRecipe 30 %'s steps at every ratio
	// (equal steps, so the constant LR has acted as long on each), then
	// replay and merge like the methods.
	{Name: LongRecipe10, Label: "LongRecipe 10%", Method: data.LongRecipe, Ratio: 0.1, Select: selDigits, EqualSequences: true, Stages: true},
	{Name: LongRecipe20, Label: "LongRecipe 20%", Method: data.LongRecipe, Ratio: 0.2, Select: selDigits, EqualSequences: true, Stages: true},
	{Name: LongRecipe40, Label: "LongRecipe 40%", Method: data.LongRecipe, Ratio: 0.4, Select: selDigits, EqualSequences: true, Stages: true},
}

// The evaluation.
var (
	// passkey and niah_single show whether a model reaches the needle
	// (their copy baseline is ~100 %); the decoy tasks, whose copy
	// baseline is ≤ 25 %, whether it retrieves the right answer: only
	// tasks with a copy baseline ≤ eval.MaxClaimCopy enter the claims.
	evalTasks  = []string{eval.Passkey, eval.NIAHSingle, eval.DecoyPasskey, eval.DecoyMultiKey}
	evalDepths = []float64{0, 0.5, 1}
)

// runner carries what the steps share.
type runner struct {
	o        Options
	tok      *tokenizer.Tokenizer
	base     *hf.Config
	window   int // base window
	lt       int // target window
	theta    float64
	inputs   map[string]string // name -> file
	hashes   map[string]string // name -> content hash
	heldOut  []string
	haystack *eval.Haystack
	res      *Results
	stages   *stage.Runner
	// keptFraction is the fraction of training tokens the digit
	// selection keeps (expected), randomDrop = 1 − keptFraction.
	keptFraction float64
	// seqSteps is LongRecipe30's step count (FLT at equal sequences);
	// analysisFile the impactful-token file of the analysis stage.
	seqSteps     int
	analysisFile string
}

// do runs one step of the experiment through the shared stage runner.
func (x *runner) do(ctx context.Context, s stage.Stage, out any) error {
	_, err := x.stages.Run(ctx, s, out)
	return err
}

// The stage names of a run's steps, which later steps name as deps.
func stageName(run RunName, step string) string { return string(run) + ": " + step }

const startStage = "start model"

// Run runs (or resumes) the whole experiment, seed by seed, and writes
// the claim table after each seed. It returns the summary over seeds,
// also written to Output/results.json.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	var per []*Results
	var sum *Summary
	for i := 0; i < o.Seeds; i++ {
		so := o
		so.Seed = o.Seed + int64(i)
		so.Output = filepath.Join(o.Output, fmt.Sprintf("seed-%d", so.Seed))
		r, err := runSeed(ctx, so)
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", so.Seed, err)
		}
		per = append(per, r)
		sum = summarize(o, per)
		if err := sum.write(o.Output); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// runSeed runs (or resumes) the experiment of one seed into o.Output and
// writes its report there.
func runSeed(ctx context.Context, o Options) (*Results, error) {
	base, err := hf.LoadConfig(filepath.Join(o.Base, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("experiment: base model: %w", err)
	}
	tok, err := tokenizer.Load(filepath.Join(o.Base, "tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("experiment: base model: %w", err)
	}
	x := &runner{o: o, tok: tok, base: base, window: base.MaxPositionEmbeddings,
		stages: &stage.Runner{Log: o.Log, Prefix: fmt.Sprintf("experiment seed %d: ", o.Seed)}}
	if x.window <= 0 {
		return nil, fmt.Errorf("experiment: %s: max_position_embeddings %d: want > 0", o.Base, x.window)
	}
	x.lt = x.window * o.Factor
	if x.o.Tokens == 0 {
		x.o.Tokens = DefaultOptions().Tokens
		if o.Quick {
			x.o.Tokens = int64(4 * x.lt)
		}
	}
	if x.o.AnnealTokens == 0 {
		x.o.AnnealTokens = max(x.o.Tokens/10, 1)
	}
	x.theta = steps.Theta(base, x.lt, 0)
	if err := os.MkdirAll(o.Output, 0o755); err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	if err := x.writeInputs(); err != nil {
		return nil, err
	}
	x.res = x.newResults()

	baseID := map[string]any{"model": absPath(o.Base), "files": x.hashes["base"]}
	x.res.addModel(Base, "Base (no extension)", runSpec{Name: Base}, "base", 0, nil)
	if err := x.evaluate(ctx, Base, o.Base, "", baseID); err != nil {
		return nil, err
	}
	startDir := filepath.Join(o.Output, "start")
	if err := x.do(ctx, stage.Stage{Name: startStage, Dir: startDir,
		Settings: map[string]any{"base": baseID, "rope_theta": x.theta, "max_position_embeddings": x.lt},
		Run:      steps.Start{Base: o.Base, Theta: x.theta, Window: x.lt}.Run}, nil); err != nil {
		return nil, err
	}
	x.res.addModel(Start, "Start model (θ raised, untrained)", runSpec{Name: Start}, "start", 0, nil)
	if err := x.evaluate(ctx, Start, startDir, startStage, nil); err != nil {
		return nil, err
	}
	for _, s := range runs {
		if s.Select == selAnalysis {
			if err := x.analysis(ctx); err != nil {
				return nil, err
			}
		}
		if err := x.run(ctx, s, baseID); err != nil {
			return nil, err
		}
	}
	x.res.finish()
	if err := x.res.write(o.Output); err != nil {
		return nil, err
	}
	return x.res, x.res.charts(o.Output)
}

// quickHeldOut returns the held-out texts the evaluation uses. Under the
// quick settings the few held-out documents kept may each be shorter than
// Lt (the first addresses of the corpus are short), while perplexity needs
// one of at least Lt tokens: consecutive documents are joined until each
// has 3/2·Lt words (a word is at least one token), then cut to that length
// for a cheap perplexity.
func quickHeldOut(texts []string, lt int, quick bool) []string {
	if !quick {
		return slices.Clone(texts)
	}
	n := lt * 3 / 2
	out := inputs.Join(texts, n)
	for i, t := range out {
		if ws := strings.Fields(t); len(ws) > n {
			out[i] = strings.Join(ws[:n], " ")
		}
	}
	return out
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// writeInputs writes the corpus splits and the replay records as JSONL
// under Output/inputs and hashes them (and the base model's files).
func (x *runner) writeInputs() error {
	o := inputs.Options{Dir: filepath.Join(x.o.Output, "inputs"), Seed: x.o.Seed, ReplayWords: x.window * 2 / 3, MaxDocs: x.o.MaxDocs}
	if x.o.Quick && x.o.MaxDocs > 0 {
		o.MaxHeldOut = 2
	}
	var chunks []string
	o.TrainText = func(docs []string) []string {
		// Every run reads the chunks in file order: shuffling them by
		// seed varies every method's data order (FLT's too) across seeds.
		chunks = chunkDocs(x.tok, docs, x.lt)
		rand.New(rand.NewPCG(uint64(x.o.Seed), 0xda7a)).Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
		return chunks
	}
	f, err := inputs.Write(o)
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	x.keptFraction = digitKeptFraction(x.tok, chunks)
	x.inputs = map[string]string{"train": f.Train, "heldout": f.HeldOut, "replay": f.Replay}
	x.hashes = map[string]string{}
	for k, v := range f.SHA256 {
		x.hashes[k] = v
	}
	x.heldOut = quickHeldOut(f.HeldOutTexts, x.lt, x.o.Quick)
	if x.haystack, err = eval.TextHaystack("held-out split", x.heldOut); err != nil {
		return fmt.Errorf("experiment: held-out haystack: %w", err)
	}
	// The base model's identity: its config, weights and tokenizer.
	h := sha256.New()
	entries, err := os.ReadDir(x.o.Base)
	if err != nil {
		return fmt.Errorf("experiment: base model: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".safetensors")) || n == stage.FileName || n == stage.PendingFileName {
			continue
		}
		b, err := paths.ReadRegular(filepath.Join(x.o.Base, n))
		if err != nil {
			return fmt.Errorf("experiment: base model: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	x.hashes["base"] = hex.EncodeToString(h.Sum(nil))
	return nil
}

// chunkDocs cuts each document into as many pieces as it holds of
// 9/8·lt tokens (at least one), of equal word counts, each at least lt+1
// tokens with BOS, so that every method makes a row of every piece and
// no run repeats data; documents shorter than that stay whole.
func chunkDocs(tok *tokenizer.Tokenizer, docs []string, lt int) []string {
	var out []string
	for _, d := range docs {
		n := len(tok.Encode(d, false))
		ws := strings.Fields(d)
		for k := n / (lt + lt/8); k >= 1; k-- {
			parts := make([]string, k)
			ok := true
			for i := range parts {
				parts[i] = strings.Join(ws[i*len(ws)/k:(i+1)*len(ws)/k], " ")
				ok = ok && (k == 1 || len(tok.Encode(parts[i], true)) > lt)
			}
			if ok || k == 1 {
				if k == 1 {
					parts[0] = d
				}
				out = append(out, parts...)
				break
			}
		}
		if n < lt+lt/8 {
			out = append(out, d)
		}
	}
	return out
}

// digitKeptFraction is the expected fraction of tokens the digit
// selection keeps: sentences with a digit token always, the others with
// probability 1 − 0.5.
func digitKeptFraction(tok *tokenizer.Tokenizer, docs []string) float64 {
	ends, digits := data.SentenceEnds(tok), data.DigitTokens(tok)
	var kept, total float64
	for _, d := range docs {
		n, digit := 0, false
		flush := func() {
			total += float64(n)
			if digit {
				kept += float64(n)
			} else {
				kept += 0.5 * float64(n)
			}
			n, digit = 0, false
		}
		for _, id := range tok.Encode(d, true) {
			n++
			digit = digit || digits.Has(id)
			if ends.Has(id) {
				flush()
			}
		}
		flush()
	}
	if total == 0 {
		return 1
	}
	return kept / total
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// prepared is the prepare step's output.
type prepared struct {
	Counts  shards.Counts `json:"counts"`
	MeanLen float64       `json:"mean_row_length"`
}

// trained is a training step's output.
type trained struct {
	Steps int   `json:"steps"`
	Rows  int64 `json:"rows"`
	// DataRows is the size of the prepared dataset; the loop wraps around
	// it, so Rows/DataRows is the number of epochs.
	DataRows int64   `json:"data_rows"`
	Tokens   int64   `json:"tokens"`
	FLOPs    float64 `json:"flops"`
	// FullFLOPs is what the same number of rows would cost at Lt tokens
	// each (FLT on as many sequences; analytic, not trained).
	FullFLOPs float64  `json:"full_length_flops"`
	Seconds   float64  `json:"seconds"`
	LastLoss  *float64 `json:"last_loss"`
	RowLength float64  `json:"mean_row_length"`
}

// run trains and evaluates one stage-1 run (and, with Stages, its replay
// annealing and merge).
func (x *runner) run(ctx context.Context, s runSpec, baseID any) error {
	dir := filepath.Join(x.o.Output, "runs", string(s.Name))
	ls := x.lt
	if s.Method != data.Full {
		ls = positions.TrainLength(s.Ratio, x.lt)
	}
	prep, err := x.prepare(ctx, s, ls, filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	tr, err := x.trainRun(ctx, s, prep, dir)
	if err != nil {
		return err
	}
	if s.Name == LongRecipe30 {
		x.seqSteps = tr.Steps
	}
	x.res.addModel(s.Name, s.Label, s, "stage 1", ls, tr)
	if err := x.evaluate(ctx, s.Name, filepath.Join(dir, "model"), stageName(s.Name, "train"), nil); err != nil {
		return err
	}
	if !s.Stages {
		return nil
	}
	return x.laterStages(ctx, s, ls, dir, tr, baseID)
}

// prepare builds a run's stage-1 rows into dataDir.
func (x *runner) prepare(ctx context.Context, s runSpec, ls int, dataDir string) (*prepared, error) {
	j := data.Job{Input: x.inputs["train"], Method: s.Method, TargetLength: x.lt, TrainLength: ls}
	settings := map[string]any{
		"corpus": x.hashes["train"], "tokenizer": x.tok.Hash(), "method": s.Method, "lt": x.lt, "ls": ls,
		"select": s.Select, "seed": x.o.Seed,
	}
	var deps []string
	switch s.Select {
	case selDigits:
		j.Impactful = "digits" // drop probability 0.5, the default with impactful tokens
	case selRandom:
		p := 1 - x.keptFraction
		j.DropProb = &p
		settings["drop_prob"] = p
	case selAnalysis:
		j.Impactful = x.analysisFile
		deps = append(deps, analysisStage)
	}
	var prep prepared
	err := x.do(ctx, stage.Stage{Name: stageName(s.Name, "prepare"), Dir: dataDir, Settings: settings, Deps: deps,
		Run: func(ctx context.Context, out string) (any, error) {
			j.Output = out
			return x.dataset(ctx, j)
		}}, &prep)
	return &prep, err
}

// trainRun trains a run's stage 1 from the start model into dir/model,
// on the token budget or, at equal sequences, for LongRecipe30's steps.
func (x *runner) trainRun(ctx context.Context, s runSpec, prep *prepared, dir string) (*trained, error) {
	var tr trained
	steps := stepsFor(x.o.Tokens, x.o.Batch, prep.MeanLen)
	deps := []string{startStage, stageName(s.Name, "prepare")}
	if s.EqualSequences {
		if x.seqSteps == 0 {
			return nil, fmt.Errorf("experiment: %s needs %s's step count: train it first", s.Name, LongRecipe30)
		}
		steps = x.seqSteps
		deps = append(deps, stageName(LongRecipe30, "train"))
	}
	hyper := x.hyper(steps, "constant", x.o.LR)
	dataDir := filepath.Join(dir, "data")
	err := x.do(ctx, stage.Stage{Name: stageName(s.Name, "train"), Dir: filepath.Join(dir, "model"),
		Deps:     deps,
		Settings: map[string]any{"hyper": hyper, "threads": x.o.Threads, "precision": x.o.Precision.String(), "budget": x.o.Tokens, "equal_sequences": s.EqualSequences}, Resumable: true,
		Run: func(ctx context.Context, out string) (any, error) {
			return x.train(ctx, filepath.Join(x.o.Output, "start"), dataDir, out, hyper)
		}}, &tr)
	return &tr, err
}

// analysisStage is the impactful-token analysis of the base model and
// the equal-tokens FLT model.
const analysisStage = "analysis"

// analysisDocs is how many training chunks the analysis scores (at most
// Lt tokens each).
const analysisDocs = 24

// analysis runs the impactful-token analysis (method §1) of the base
// model against the FLT model after stage 1 on training chunks, and
// records its impactful-token file for the analysis control.
func (x *runner) analysis(ctx context.Context) error {
	dir := filepath.Join(x.o.Output, "analysis")
	fltModel := filepath.Join(x.o.Output, "runs", string(FLT), "model")
	n := analysisDocs
	if x.o.Quick {
		n = 4
	}
	err := x.do(ctx, stage.Stage{Name: analysisStage, Dir: dir, Deps: []string{stageName(FLT, "train")},
		Settings: map[string]any{"base": x.hashes["base"], "corpus": x.hashes["train"], "docs": n, "max_len": x.lt},
		Run: func(ctx context.Context, out string) (any, error) {
			return x.analyze(ctx, fltModel, n, out)
		}}, nil)
	x.analysisFile = filepath.Join(dir, analyze.ImpactfulJSON)
	return err
}

// analyze scores the first n training chunks (≤ Lt tokens) under the base
// and the extended model and writes the analysis outputs into out.
func (x *runner) analyze(ctx context.Context, extDir string, n int, out string) (any, error) {
	// The analysis compares per-token losses at fp32, whatever the runs'
	// precision, so that its ranking does not move with the CPU.
	base, err := model.LoadPrecision(x.o.Base, model.FP32)
	if err != nil {
		return nil, err
	}
	ext, err := model.LoadPrecision(extDir, model.FP32)
	if err != nil {
		return nil, err
	}
	docs, err := steps.AnalysisDocs(x.inputs["train"], nil, x.tok, n, x.lt)
	if err != nil {
		return nil, err
	}
	r, err := analyze.Run(ctx, analyze.Job{Base: base, Extended: ext, Vocab: x.tok, Docs: docs,
		Options: analyze.Options{Buckets: analyze.AutoBuckets(x.lt)}, Progress: x.o.Progress})
	if err != nil {
		return nil, err
	}
	src := fmt.Sprintf("experiment: %s vs base %s on %d training chunks", extDir, x.o.Base, len(docs))
	if err := analyze.WriteOutputs(out, r, x.tok.Hash(), src); err != nil {
		return nil, err
	}
	return map[string]any{"impactful_ids": len(r.Impactful), "kinds_by_ratio": r.KindsByRatio, "tokens": r.Tokens}, nil
}

// replayStage builds the replay rows every run anneals on: the replay
// records packed into rows of LongRecipe 30 %'s length (plain positions).
const replayStage = "replay data"

// laterStages runs stage 2 after a run's stage 1 (annealing on the shared
// replay rows, LR decaying to 0) and stage 3 (the merge with the original
// weights); each model is evaluated.
func (x *runner) laterStages(ctx context.Context, s runSpec, ls int, dir string, tr *trained, baseID any) error {
	var rprep prepared
	replayDir := filepath.Join(x.o.Output, "replay-data")
	rls := positions.TrainLength(positions.DefaultRatio, x.lt)
	if err := x.do(ctx, stage.Stage{Name: replayStage, Dir: replayDir, Settings: map[string]any{
		"replay": x.hashes["replay"], "tokenizer": x.tok.Hash(), "ls": rls, "seed": x.o.Seed,
	}, Run: func(ctx context.Context, out string) (any, error) {
		return x.dataset(ctx, data.Job{Input: x.inputs["replay"], Output: out, Method: data.Replay, TargetLength: rls, TrainLength: rls,
			Replay: &data.ReplayConfig{PromptField: "prompt", ResponseField: "response", Separator: "\n", MaskPrompt: true}})
	}}, &rprep); err != nil {
		return err
	}
	var an trained
	annealDir := filepath.Join(dir, "anneal")
	ahyper := x.hyper(stepsFor(x.o.AnnealTokens, x.o.Batch, rprep.MeanLen), "linear", x.o.AnnealLR)
	if err := x.do(ctx, stage.Stage{Name: stageName(s.Name, "anneal"), Dir: annealDir,
		Deps:     []string{stageName(s.Name, "train"), replayStage},
		Settings: map[string]any{"hyper": ahyper, "threads": x.o.Threads, "precision": x.o.Precision.String(), "budget": x.o.AnnealTokens}, Resumable: true,
		Run: func(ctx context.Context, out string) (any, error) {
			return x.train(ctx, filepath.Join(dir, "model"), replayDir, out, ahyper)
		}}, &an); err != nil {
		return err
	}
	total := tr.plus(&an)
	x.res.addModel(s.Name.afterReplay(), s.Label+" after replay", s, "stage 2", ls, total)
	if err := x.evaluate(ctx, s.Name.afterReplay(), annealDir, stageName(s.Name, "anneal"), nil); err != nil {
		return err
	}
	mergeDir := filepath.Join(dir, "merge")
	if err := x.do(ctx, stage.Stage{Name: stageName(s.Name, "merge"), Dir: mergeDir, Deps: []string{stageName(s.Name, "anneal")},
		Settings: map[string]any{"original": baseID, "weights": []float64{0.5, 0.5}},
		Run: func(ctx context.Context, out string) (any, error) {
			return steps.Merge{Models: []string{annealDir, x.o.Base}, Weights: []float64{0.5, 0.5}, Progress: x.o.Progress}.Run(ctx, out)
		}}, nil); err != nil {
		return err
	}
	x.res.addModel(s.Name.afterMerge(), s.Label+" after merge", s, "stage 3", ls, total)
	return x.evaluate(ctx, s.Name.afterMerge(), mergeDir, stageName(s.Name, "merge"), nil)
}

// plus returns the training of a stage-1 model followed by stage 2.
func (t *trained) plus(an *trained) *trained {
	total := *t
	total.Steps += an.Steps
	total.Rows += an.Rows
	total.Tokens += an.Tokens
	total.FLOPs += an.FLOPs
	total.FullFLOPs += an.FullFLOPs
	total.DataRows = 0 // two datasets: no single epoch count
	total.Seconds += an.Seconds
	total.LastLoss = an.LastLoss
	return &total
}

// stepsFor returns the optimizer steps that train on budget tokens with
// batch rows of meanLen tokens each: the nearest whole number, at least 1.
func stepsFor(budget int64, batch int, meanLen float64) int {
	if !(meanLen > 0) {
		return 1
	}
	return max(int(math.Round(float64(budget)/(float64(batch)*meanLen))), 1)
}

// dataset completes j with the run's shared settings and prepares it.
func (x *runner) dataset(ctx context.Context, j data.Job) (*prepared, error) {
	j.Seed, j.Threads, j.Tokenizer, j.Progress = uint64(x.o.Seed), x.o.Threads, x.tok, x.o.Progress
	j.Corpus = data.CorpusOptions{TextField: "text"}
	c, err := steps.Rows(ctx, j)
	if err != nil {
		return nil, err
	}
	return &prepared{Counts: c, MeanLen: float64(c.Tokens) / float64(c.Rows)}, nil
}

// hyper returns the optimizer settings shared by every run: the paper's
// AdamW (β 0.9/0.999, eps 1e-8, weight decay 0.1), gradient clipping at 1.
func (x *runner) hyper(steps int, schedule string, lr float64) train.Hyper {
	h := train.Hyper{Steps: steps, Batch: x.o.Batch, GradAccum: 1, Schedule: schedule, LR: lr, GradClip: 1, Seed: x.o.Seed}
	h.SetAdamW(train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1})
	return h
}

// train runs one training step and counts the rows it trained on (the
// loop takes rows in order, wrapping around) for the token and FLOP
// accounting.
func (x *runner) train(ctx context.Context, from, dataDir, out string, h train.Hyper) (any, error) {
	_, res, err := steps.Train(ctx, trainer.Go{Precision: x.o.Precision}, trainer.Job{
		Hyper: h, From: from, Data: dataDir, Output: out, CheckpointEvery: max(h.Steps/4, 10),
		Threads: x.o.Threads, SaveDType: steps.SaveDType(x.base), Progress: x.o.Progress, Log: x.o.Log,
	})
	if err != nil {
		return nil, err
	}
	ds, err := shards.Open(dataDir)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	cfg, err := hf.LoadConfig(filepath.Join(from, "config.json"))
	if err != nil {
		return nil, err
	}
	t := &trained{Steps: res.Steps, Seconds: res.Elapsed.Seconds(), LastLoss: finite(res.LastLoss)}
	n := int64(ds.Len())
	t.DataRows = n
	t.Rows = int64(res.Steps) * int64(h.Batch) * int64(h.GradAccum)
	for i := int64(0); i < t.Rows; i++ {
		r, err := ds.Row(int(i % n))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dataDir, err)
		}
		t.Tokens += int64(len(r.InputIDs))
		t.FLOPs += RowFLOPs(cfg, len(r.InputIDs))
		t.FullFLOPs += RowFLOPs(cfg, cfg.MaxPositionEmbeddings)
	}
	if t.Tokens != res.Tokens {
		return nil, fmt.Errorf("%s: counted %d tokens in the rows trained on, training reports %d", out, t.Tokens, res.Tokens)
	}
	t.RowLength = float64(t.Tokens) / float64(t.Rows)
	return t, nil
}

// evaluate runs (or reuses) the evaluation of one model and adds it to the
// results; the report files are rewritten after each model, so a partial
// experiment already has a partial report.
// The model is the output of stage from, or (from == "") identified by
// modelID.
func (x *runner) evaluate(ctx context.Context, name RunName, modelDir, from string, modelID any) error {
	label := x.res.model(name).Label
	dir := filepath.Join(x.o.Output, "eval", string(name))
	lengths := x.lengths()
	opts := map[string]any{
		"model": modelID, "tasks": evalTasks, "lengths": lengths, "depths": x.depths(), "samples": x.o.Samples,
		"seed": x.o.Seed, "heldout": x.hashes["heldout"], "ppl_window": x.window, "ppl_short_tokens": x.shortTokens(), "answer_nll": 1,
		"precision": x.o.Precision.String(),
	}
	var deps []string
	if from != "" {
		deps = []string{from}
	}
	if err := x.do(ctx, stage.Stage{Name: stageName(name, "eval"), Dir: dir, Settings: opts, Deps: deps, Run: func(ctx context.Context, out string) (any, error) {
		fo := folder.Options{Tokenizer: filepath.Join(x.o.Base, "tokenizer.json"), PPLWindow: x.window, Name: label, Precision: x.o.Precision}
		res, err := folder.Evaluate(ctx, modelDir, fo, eval.Options{
			Tasks: append(append([]string{}, evalTasks...), eval.PerplexityTask), Lengths: lengths, Depths: x.depths(),
			Samples: x.o.Samples, Seed: uint64(x.o.Seed), Haystack: x.haystack,
			PPLDocs: x.heldOut, PPLSource: "held-out split", PPLShortTokens: x.shortTokens(), Progress: x.o.Progress, TokenizerName: "tokenizer.json",
		}, out)
		if err != nil {
			return nil, err
		}
		nll, err := answerNLL(res, x.tok)
		if err != nil {
			return nil, fmt.Errorf("answer likelihood: %w", err)
		}
		b, err := json.MarshalIndent(nll, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(filepath.Join(out, AnswerNLLFile), append(b, '\n')); err != nil {
			return nil, err
		}
		return map[string]any{"model": modelDir}, nil
	}}, nil); err != nil {
		return err
	}
	r, err := eval.LoadResults(dir)
	if err != nil {
		return err
	}
	b, err := paths.ReadRegular(filepath.Join(dir, AnswerNLLFile))
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	var nll []Accuracy
	if err := json.Unmarshal(b, &nll); err != nil {
		return fmt.Errorf("experiment: %s: %w", filepath.Join(dir, AnswerNLLFile), err)
	}
	x.res.addEval(name, r, nll)
	x.res.finish()
	return x.res.write(x.o.Output)
}

// shortTokens is the short-context perplexity's token count (0: eval's
// default, at least 20k; quick: 1000).
func (x *runner) shortTokens() int {
	if x.o.Quick {
		return 1000
	}
	return 0
}

// depths are the evaluation's needle depths (quick: the middle only).
func (x *runner) depths() []float64 {
	if x.o.Quick {
		return []float64{0.5}
	}
	return evalDepths
}

// lengths are the evaluation lengths: the base window times 1, 2, 4, …
// up to and including Lt (quick: Lt only).
func (x *runner) lengths() []int {
	if x.o.Quick {
		return []int{x.lt}
	}
	var ls []int
	for l := x.window; l < x.lt; l *= 2 {
		ls = append(ls, l)
	}
	return append(ls, x.lt)
}
