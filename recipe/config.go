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
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/torchlaunch"
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
	// Precision is the arithmetic of the Go engine's matrix multiplies in
	// training and evaluation: "bf16" (bfloat16 operands, float32
	// accumulation), "fp32", or "auto"/"" (bf16 where the CPU has
	// AVX512_BF16 or AMX, else fp32). The resolved value is an input of
	// the Go training stages and of the evaluation. The torch backend's
	// precision is its launch table's.
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
	// [anneal.launch]). It is not part of the stage's inputs: changing it
	// resumes an interrupted stage rather than restarting it.
	Launch Launch `toml:"launch,omitempty" json:"-"`
}

// Backends are the values of Train.Backend.
const (
	BackendGo    = "go"
	BackendTorch = "torch"
)

// Launch is the process layout of a torch training stage; its keys are
// those of the torch launcher's JSON settings (package torchlaunch), which
// Config may name as a file: the table's keys override the file's. Zero
// values take the launcher's defaults (torchrun, one process on one node,
// FSDP).
type Launch struct {
	// Config is a launcher settings file (JSON, as written by `longrecipe
	// plan`), relative to the recipe file.
	Config string `toml:"config,omitempty" json:"config,omitempty"`
	// Launcher is "torchrun" or "accelerate".
	Launcher     string `toml:"launcher,omitempty" json:"launcher,omitempty"`
	NProcPerNode int    `toml:"nproc_per_node,omitempty" json:"nproc_per_node,omitempty"`
	NNodes       int    `toml:"nnodes,omitempty" json:"nnodes,omitempty"`
	NodeRank     int    `toml:"node_rank,omitempty" json:"node_rank,omitempty"`
	MasterAddr   string `toml:"master_addr,omitempty" json:"master_addr,omitempty"`
	MasterPort   int    `toml:"master_port,omitempty" json:"master_port,omitempty"`
	// Sharding is "fsdp", "ddp" or "none"; Precision "auto", "bf16" or
	// "fp32".
	Sharding  string `toml:"sharding,omitempty" json:"sharding,omitempty"`
	Precision string `toml:"precision,omitempty" json:"precision,omitempty"`
	// AttnImplementation is "auto", "flash_attention_2", "sdpa" or
	// "eager"; CPUOffload offloads parameters, gradients and optimizer
	// state to the CPU; Python is the interpreter ("": the cached venv).
	AttnImplementation string `toml:"attn_implementation,omitempty" json:"attn_implementation,omitempty"`
	CPUOffload         bool   `toml:"cpu_offload,omitempty" json:"cpu_offload,omitempty"`
	Python             string `toml:"python,omitempty" json:"python,omitempty"`
	// ContextParallel is how many ranks share one row (torchlaunch.Launch).
	ContextParallel int `toml:"context_parallel,omitempty" json:"context_parallel,omitempty"`
}

// Torch returns the launcher settings: the Config file's, overridden by
// the table's non-zero keys, with the launcher's defaults.
func (l *Launch) Torch() (torchlaunch.Launch, error) {
	var t torchlaunch.Launch
	if l.Config != "" {
		var err error
		if t, err = torchlaunch.LoadLaunch(l.Config); err != nil {
			return t, err
		}
	}
	setS := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setI := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	setS(&t.Launcher, l.Launcher)
	setI(&t.NprocPerNode, l.NProcPerNode)
	setI(&t.NNodes, l.NNodes)
	setI(&t.NodeRank, l.NodeRank)
	setS(&t.MasterAddr, l.MasterAddr)
	setI(&t.MasterPort, l.MasterPort)
	setS(&t.Sharding, l.Sharding)
	setS(&t.Precision, l.Precision)
	setS(&t.AttnImplementation, l.AttnImplementation)
	setS(&t.Python, l.Python)
	setI(&t.ContextParallel, l.ContextParallel)
	t.CPUOffload = t.CPUOffload || l.CPUOffload
	return t.WithDefaults(), nil
}

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

// Eval is the final evaluation of base, extended and merged models.
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
	b, err := os.ReadFile(path)
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
	for _, p := range []*string{&r.Extend.Launch.Config, &r.Anneal.Launch.Config} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
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
			Ratio:     0.3,
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
		for _, l := range r.Eval.Lengths {
			if l <= 0 {
				return fmt.Errorf("eval.lengths: %d must be > 0", l)
			}
		}
	}
	return nil
}

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
	}
	return nil
}

// validateBackend checks the trainer choice and its launch table.
func (t *Train) validateBackend(stage string) error {
	switch t.Backend {
	case BackendGo:
		if t.Launch != (Launch{}) {
			return fmt.Errorf("%s.launch: only for backend = %q (%s.backend is %q)", stage, BackendTorch, stage, t.Backend)
		}
		return nil
	case BackendTorch:
		return t.Launch.validate(stage + ".launch")
	}
	return fmt.Errorf("%s.backend %q: want %q or %q", stage, t.Backend, BackendGo, BackendTorch)
}

func (l *Launch) validate(table string) error {
	t, err := l.Torch()
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	if t.NNodes > 1 && (t.MasterAddr == "127.0.0.1" || t.MasterAddr == "localhost") {
		return fmt.Errorf("%s.master_addr: required when nnodes > 1 (the rank-0 host)", table)
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%s.%w", table, err)
	}
	return nil
}

// Ls returns the training length: TrainLength, or Ratio·TargetLength.
func (e *Extend) Ls() int {
	if e.TrainLength > 0 {
		return e.TrainLength
	}
	ls := int(e.Ratio*float64(e.TargetLength) + 0.5)
	return max(ls, 1)
}

// validPrecision reports whether s is a precision the recipe accepts.
func validPrecision(s string) bool {
	_, err := model.ParsePrecision(s)
	return err == nil
}
