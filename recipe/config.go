// Package recipe runs the three-stage LongRecipe recipe from one TOML file:
// prepare → stage 1 context extension → replay data → stage 2 annealing →
// stage 3 merge with the original → evaluation. Each stage writes its own
// folder with a stage.json manifest; a rerun skips the stages whose outputs
// are complete and whose inputs have not changed, and an interrupted
// training stage resumes from its last checkpoint.
package recipe

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/trainer"
)

// Recipe is the parsed recipe file. Relative paths in it are relative to the
// file's folder.
type Recipe struct {
	// Name labels the run in reports.
	Name string `toml:"name"`
	// Output is the run folder; each stage writes a sub-folder of it.
	Output string `toml:"output"`
	// Seed drives data preparation and is recorded by training.
	Seed int64 `toml:"seed"`
	// Threads bounds the worker goroutines (0: all cores).
	Threads int `toml:"threads"`
	// Precision is the arithmetic of the matrix multiplies in training
	// and evaluation: "bf16" (bfloat16 operands, float32 accumulation),
	// "fp32", or "auto"/"" (on the Go engine bf16 where the CPU has
	// AVX512_BF16 or AMX, else fp32; on the torch backend its launch
	// settings decide). The resolved value is an input of the training
	// stages and of the evaluation (trainer.Settings.Input).
	Precision string `toml:"precision,omitempty"`

	Base   Base   `toml:"base"`
	Data   Data   `toml:"data"`
	Extend Extend `toml:"extend"`
	Anneal Anneal `toml:"anneal"`
	Merge  Merge  `toml:"merge"`
	Eval   Eval   `toml:"eval"`

	dir string // folder of the recipe file
}

// Base names the model to extend.
type Base struct {
	// Model is a Hugging Face model folder (config.json + safetensors).
	Model string `toml:"model"`
	// Tokenizer is a tokenizer.json; default Model/tokenizer.json.
	Tokenizer string `toml:"tokenizer"`
}

// Data names the corpora.
type Data struct {
	// Corpus is the long-document corpus for stage 1 (JSONL with a text or
	// input_ids field, Parquet, text files or a folder).
	Corpus string `toml:"corpus"`
	// TextField is the JSONL/Parquet text field ("text").
	TextField string `toml:"text_field"`
	// Replay is the stage-2 prompt/response JSONL ("" skips stage 2).
	Replay string `toml:"replay"`
	// PromptField and ResponseField name the replay fields
	// ("prompt"/"response").
	PromptField   string `toml:"prompt_field"`
	ResponseField string `toml:"response_field"`
	// MaskPrompt excludes prompt tokens from the stage-2 loss.
	MaskPrompt bool `toml:"mask_prompt"`
}

// Train holds the optimisation settings shared by both training stages,
// and the trainer that runs them.
type Train struct {
	Steps           int     `toml:"steps" json:"steps"`
	LR              float64 `toml:"lr" json:"lr"`
	Batch           int     `toml:"batch" json:"batch"`
	GradAccum       int     `toml:"grad_accum" json:"grad_accum"`
	Schedule        string  `toml:"schedule" json:"schedule"`
	Warmup          int     `toml:"warmup" json:"warmup"`
	MinLR           float64 `toml:"min_lr" json:"min_lr"`
	WeightDecay     float64 `toml:"weight_decay" json:"weight_decay"`
	GradClip        float64 `toml:"grad_clip" json:"grad_clip"`
	CheckpointEvery int     `toml:"checkpoint_every" json:"checkpoint_every"`
	// Backend is the trainer: "go" (the embedded CPU engine, the default)
	// or "torch" (PyTorch launched with torchrun; see Launch).
	Backend string `toml:"backend" json:"backend"`
	// Launch says where a torch stage runs ([extend.launch],
	// [anneal.launch]: the torch launcher's keys, see
	// trainer.LaunchTable). It is not part of the stage's inputs: changing
	// it resumes an interrupted stage rather than restarting it.
	Launch trainer.LaunchTable `toml:"launch,omitempty" json:"-"`
}

// Backends are the values of Train.Backend.
const (
	BackendGo    = trainer.BackendGo
	BackendTorch = trainer.BackendTorch
)

// Extend is stage 1, context extension.
type Extend struct {
	Train
	// Method is longrecipe, pose, randpos or full.
	Method string `toml:"method"`
	// TargetLength is Lt, the new window (also the new
	// max_position_embeddings).
	TargetLength int `toml:"target_length"`
	// TrainLength is Ls; 0 means Ratio·Lt.
	TrainLength int     `toml:"train_length"`
	Ratio       float64 `toml:"ratio"`
	// Impactful is "digits" or an analyze impactful-token file.
	Impactful string `toml:"impactful"`
	// DropProb is the probability of dropping a sentence with no impactful
	// token.
	DropProb float64 `toml:"drop_prob"`
	// RopeTheta is the RoPE base written before training; 0 applies
	// hf.DefaultRopeTheta for the window change, -1 keeps the base's.
	RopeTheta float64 `toml:"rope_theta"`
}

// Anneal is stage 2, annealing on replay data (LR decaying to MinLR).
type Anneal struct {
	Train
}

// Merge is stage 3.
type Merge struct {
	// Skip disables the merge stage.
	Skip bool `toml:"skip"`
	// Weights for (trained, original); default 0.5, 0.5.
	Weights []float64 `toml:"weights"`
}

// Eval is the final evaluation of the base, start (θ raised, untrained),
// extended, annealed and merged models.
type Eval struct {
	Skip    bool      `toml:"skip"`
	Tasks   []string  `toml:"tasks"`
	Lengths []int     `toml:"lengths"`
	Depths  []float64 `toml:"depths"`
	Samples int       `toml:"samples"`
	// PPLWindow is the short-context perplexity window (0: the base
	// model's original window, at most the largest length; -1: none).
	PPLWindow int `toml:"ppl_window"`
	// Haystack is a haystack name, the same as the eval command's
	// --haystack: "heldout" (or "": the held-out split of the shipped
	// corpus), "noise" (or "repeat"), or a text/JSONL file.
	Haystack string `toml:"haystack"`
	// PPLCorpus is the text perplexity is measured on, held out from
	// training ("": the haystack's file, else the held-out split of the
	// shipped corpus).
	PPLCorpus string `toml:"ppl_corpus"`
}

// Load reads and validates a recipe file.
func Load(path string) (*Recipe, error) {
	b, err := paths.ReadRegular(path)
	if err != nil {
		return nil, fmt.Errorf("recipe: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: %w", path, err)
	}
	return Parse(b, path, filepath.Dir(abs))
}

// Parse parses recipe text; name labels errors and dir anchors relative
// paths.
func Parse(b []byte, name, dir string) (*Recipe, error) {
	r := defaults()
	meta, err := toml.NewDecoder(bytes.NewReader(b)).Decode(r)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: %w", name, err)
	}
	if und := meta.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("recipe %s: unknown key(s) %s", name, strings.Join(keys, ", "))
	}
	r.dir = dir
	for _, p := range []*string{&r.Output, &r.Base.Model, &r.Base.Tokenizer, &r.Data.Corpus, &r.Data.Replay, &r.Eval.PPLCorpus} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if !eval.IsHaystackName(r.Eval.Haystack) && !filepath.IsAbs(r.Eval.Haystack) {
		r.Eval.Haystack = filepath.Join(dir, r.Eval.Haystack)
	}
	r.Extend.Launch.Anchor(dir)
	r.Anneal.Launch.Anchor(dir)
	if r.Extend.Impactful != "" && r.Extend.Impactful != "digits" && !filepath.IsAbs(r.Extend.Impactful) {
		r.Extend.Impactful = filepath.Join(dir, r.Extend.Impactful)
	}
	if r.Base.Tokenizer == "" && r.Base.Model != "" {
		r.Base.Tokenizer = filepath.Join(r.Base.Model, "tokenizer.json")
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("recipe %s: %w", name, err)
	}
	return r, nil
}

// Default returns the recipe a file starts from: every setting a recipe
// file may leave out at its default, the required ones empty.
func Default() *Recipe { return defaults() }

// Encode writes r as a recipe file, paths as they are in r (relative
// paths are relative to the file's folder when it is read back).
func (r *Recipe) Encode(w io.Writer) error {
	if err := toml.NewEncoder(w).Encode(r); err != nil {
		return fmt.Errorf("recipe %s: encode: %w", r.Name, err)
	}
	return nil
}

// defaults are the paper's settings where they make sense on a CPU.
func defaults() *Recipe {
	return &Recipe{
		Name: "longrecipe",
		Seed: 2027,
		Data: Data{TextField: "text", PromptField: "prompt", ResponseField: "response", MaskPrompt: true},
		Extend: Extend{
			Train:     Train{LR: 5e-5, Batch: 1, GradAccum: 1, Schedule: "constant", WeightDecay: 0.1, GradClip: 1, CheckpointEvery: 10, Backend: BackendGo},
			Method:    "longrecipe",
			Ratio:     positions.DefaultRatio,
			Impactful: "digits",
			DropProb:  0.5,
		},
		Anneal: Anneal{Train: Train{LR: 5e-6, Batch: 1, GradAccum: 1, Schedule: "linear", MinLR: 0, WeightDecay: 0.1, GradClip: 1, CheckpointEvery: 10, Backend: BackendGo}},
		Merge:  Merge{Weights: []float64{0.5, 0.5}},
		Eval: Eval{
			Tasks:   []string{"passkey", "ppl"},
			Depths:  []float64{0, 0.25, 0.5, 0.75, 1},
			Samples: 4,
		},
	}
}

// Validate checks the recipe's values.
func (r *Recipe) Validate() error {
	if err := r.checkNumbers(); err != nil {
		return err
	}
	switch {
	case r.Output == "":
		return fmt.Errorf("output: required (the run folder)")
	case r.Base.Model == "":
		return fmt.Errorf("base.model: required (a Hugging Face model folder)")
	case r.Data.Corpus == "":
		return fmt.Errorf("data.corpus: required")
	case r.Extend.TargetLength <= 0:
		return fmt.Errorf("extend.target_length: required, > 0")
	case r.Extend.TrainLength < 0 || r.Extend.TrainLength > r.Extend.TargetLength:
		return fmt.Errorf("extend.train_length %d: want 0 (use ratio) or 1..target_length", r.Extend.TrainLength)
	case r.Extend.TrainLength == 0 && !(r.Extend.Ratio > 0 && r.Extend.Ratio <= 1):
		return fmt.Errorf("extend.ratio %v: want (0, 1]", r.Extend.Ratio)
	case !(r.Extend.DropProb >= 0 && r.Extend.DropProb <= 1):
		return fmt.Errorf("extend.drop_prob %v: want [0, 1]", r.Extend.DropProb)
	case r.Threads < 0:
		return fmt.Errorf("threads %d: want >= 0", r.Threads)
	case !validPrecision(r.Precision):
		return fmt.Errorf("precision %q: want auto, bf16 or fp32", r.Precision)
	}
	switch r.Extend.Method {
	case "longrecipe", "pose", "randpos", "full":
	default:
		return fmt.Errorf("extend.method %q: want longrecipe, pose, randpos or full", r.Extend.Method)
	}
	if err := r.Extend.Train.validate("extend"); err != nil {
		return err
	}
	if r.Data.Replay != "" {
		if err := r.Anneal.Train.validate("anneal"); err != nil {
			return err
		}
	}
	if !r.Merge.Skip {
		if len(r.Merge.Weights) != 2 {
			return fmt.Errorf("merge.weights: want two weights (trained, original), got %d", len(r.Merge.Weights))
		}
		for _, w := range r.Merge.Weights {
			if !(w > 0) {
				return fmt.Errorf("merge.weights: %v must be > 0", w)
			}
		}
	}
	if !r.Eval.Skip {
		if r.Eval.Samples <= 0 {
			return fmt.Errorf("eval.samples %d: want > 0", r.Eval.Samples)
		}
		for _, d := range r.Eval.Depths {
			if !(d >= 0 && d <= 1) {
				return fmt.Errorf("eval.depths: %v outside [0, 1]", d)
			}
		}
		if err := r.Eval.validate(); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the evaluation's lengths and tasks at load, so that a
// recipe that could not be evaluated (or would size its buffers by an
// absurd length) fails before any stage runs.
func (e *Eval) validate() error {
	for _, l := range e.Lengths {
		if l < eval.MinLength || l > eval.MaxLength {
			return fmt.Errorf("eval.lengths: %d: want %d..%d tokens", l, eval.MinLength, eval.MaxLength)
		}
	}
	seen := map[string]bool{}
	for _, t := range e.Tasks {
		if t != eval.PerplexityTask && !slices.Contains(eval.SyntheticTasks, t) {
			return fmt.Errorf("eval.tasks: unknown task %q (known: %s, %s)", t, strings.Join(eval.SyntheticTasks, ", "), eval.PerplexityTask)
		}
		if seen[t] {
			return fmt.Errorf("eval.tasks: %q listed twice", t)
		}
		seen[t] = true
	}
	return nil
}

// checkNumbers refuses a non-finite number (inf, nan) in any float setting
// and the out-of-range values the other checks do not cover, naming the
// key. It runs first, so that later comparisons see finite values.
func (r *Recipe) checkNumbers() error {
	type num struct {
		key string
		v   float64
	}
	nums := []num{{"extend.ratio", r.Extend.Ratio}, {"extend.drop_prob", r.Extend.DropProb}, {"extend.rope_theta", r.Extend.RopeTheta}}
	for _, t := range []struct {
		stage string
		t     *Train
	}{{"extend", &r.Extend.Train}, {"anneal", &r.Anneal.Train}} {
		nums = append(nums, num{t.stage + ".lr", t.t.LR}, num{t.stage + ".min_lr", t.t.MinLR},
			num{t.stage + ".weight_decay", t.t.WeightDecay}, num{t.stage + ".grad_clip", t.t.GradClip})
	}
	for i, w := range r.Merge.Weights {
		nums = append(nums, num{fmt.Sprintf("merge.weights[%d]", i), w})
	}
	for i, d := range r.Eval.Depths {
		nums = append(nums, num{fmt.Sprintf("eval.depths[%d]", i), d})
	}
	for _, n := range nums {
		if math.IsNaN(n.v) || math.IsInf(n.v, 0) {
			return fmt.Errorf("%s %v: want a finite number", n.key, n.v)
		}
	}
	switch rt := r.Extend.RopeTheta; {
	case rt != 0 && rt != -1 && !(rt > 1):
		return fmt.Errorf("extend.rope_theta %v: want 0 (default for the window), -1 (keep the base's) or > 1", rt)
	case r.Extend.TargetLength > MaxTargetLength:
		return fmt.Errorf("extend.target_length %d: want at most %d", r.Extend.TargetLength, MaxTargetLength)
	}
	return nil
}

// MaxTargetLength bounds extend.target_length (16M tokens, the longest
// evaluation length): training rows and position tables are sized by it.
const MaxTargetLength = eval.MaxLength

func (t *Train) validate(stage string) error {
	if err := t.validateBackend(stage); err != nil {
		return err
	}
	switch {
	case t.Steps <= 0:
		return fmt.Errorf("%s.steps %d: want > 0", stage, t.Steps)
	case !(t.LR > 0):
		return fmt.Errorf("%s.lr %v: want > 0", stage, t.LR)
	case t.Batch <= 0 || t.GradAccum <= 0:
		return fmt.Errorf("%s.batch and grad_accum: want > 0", stage)
	case t.Warmup < 0 || t.CheckpointEvery < 0:
		return fmt.Errorf("%s.warmup and checkpoint_every: want >= 0", stage)
	case !(t.MinLR >= 0 && t.MinLR <= t.LR):
		return fmt.Errorf("%s.min_lr %v: want [0, lr = %v]", stage, t.MinLR, t.LR)
	case !(t.WeightDecay >= 0):
		return fmt.Errorf("%s.weight_decay %v: want >= 0", stage, t.WeightDecay)
	case !(t.GradClip >= 0):
		return fmt.Errorf("%s.grad_clip %v: want >= 0 (0: no clipping)", stage, t.GradClip)
	}
	return nil
}

// validateBackend checks the trainer choice and its launch table.
func (t *Train) validateBackend(stage string) error {
	switch t.Backend {
	case BackendGo:
		if len(t.Launch) > 0 {
			return fmt.Errorf("%s.launch: only for backend = %q (%s.backend is %q)", stage, BackendTorch, stage, t.Backend)
		}
		return nil
	case BackendTorch:
		if _, err := t.Launch.Launch(); err != nil {
			return fmt.Errorf("%s.launch.%w", stage, err)
		}
		return nil
	}
	return fmt.Errorf("%s.backend %q: want %q or %q", stage, t.Backend, BackendGo, BackendTorch)
}

// Ls returns the training length: TrainLength, or Ratio·TargetLength.
func (e *Extend) Ls() int {
	if e.TrainLength > 0 {
		return e.TrainLength
	}
	return positions.TrainLength(e.Ratio, e.TargetLength)
}

// validPrecision reports whether s is a precision the recipe accepts.
func validPrecision(s string) bool {
	_, err := model.ParsePrecision(s)
	return err == nil
}
