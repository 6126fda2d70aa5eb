package quickstart

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/inputs"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/recipe"
	"github.com/longrecipe/longrecipe/tinybase"
)

// Options control Run.
type Options struct {
	// Output is the work folder (base model, corpora, recipe.toml, run/).
	Output string
	// Base is a model folder to extend instead of the embedded tiny base.
	Base string
	// Factor is the window extension factor (8).
	Factor int
	// Ratio is Ls/Lt (0.3).
	Ratio float64
	// Steps of stage 1 and stage 2.
	ExtendSteps, AnnealSteps int
	// Samples per evaluation cell.
	Samples int
	Seed    int64
	Threads int
	// FromStage reruns from a recipe stage.
	FromStage     string
	Log, Progress io.Writer
}

// DefaultOptions is the README's quickstart. 60 stage-1 steps of 4 rows
// are about one pass over the 214 corpus documents (one row each); 150
// steps (2.8 passes) overfit and gave worse perplexity at every position.
func DefaultOptions() Options {
	return Options{Output: "quickstart-run", Factor: 8, Ratio: positions.DefaultRatio, ExtendSteps: 60, AnnealSteps: 10, Samples: 5, Seed: 2027}
}

// Report is what the quickstart prints.
type Report struct {
	RecipeFile string
	Final      string
	Markdown   string
	EvalDir    string
}

// Run materialises the inputs, writes recipe.toml and runs it.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := os.MkdirAll(o.Output, 0o755); err != nil {
		return nil, fmt.Errorf("quickstart: %w", err)
	}
	base, window, err := baseModel(o)
	if err != nil {
		return nil, err
	}
	if _, err := inputs.Write(inputs.Options{Dir: o.Output, Train: "corpus-train.jsonl", HeldOut: "corpus-heldout.jsonl", Replay: "replay.jsonl",
		Seed: o.Seed, ReplayWords: window * 2 / 3}); err != nil {
		return nil, err
	}
	rpath, err := writeRecipe(o, base, window)
	if err != nil {
		return nil, err
	}
	r, err := recipe.Load(rpath)
	if err != nil {
		return nil, err
	}
	sum, err := recipe.Run(ctx, r, recipe.Options{FromStage: o.FromStage, Log: o.Log, Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	return report(rpath, sum)
}

// baseModel returns the model folder to extend (the shipped tiny base,
// written into the work folder, unless Options.Base) and its window.
func baseModel(o Options) (string, int, error) {
	base := o.Base
	if base == "" {
		base = filepath.Join(o.Output, "base")
		if err := tinybase.WriteShipped(base); err != nil {
			return "", 0, err
		}
	}
	cfg, err := hf.LoadConfig(filepath.Join(base, "config.json"))
	if err != nil {
		return "", 0, err
	}
	return base, cfg.MaxPositionEmbeddings, nil
}

// Recipe returns the quickstart's recipe for a base model of the given
// window, with paths relative to the work folder.
func Recipe(o Options, base string, window int) *recipe.Recipe {
	lt := window * o.Factor
	r := recipe.Default()
	r.Name, r.Output, r.Seed, r.Threads = "quickstart", "run", o.Seed, o.Threads
	r.Base.Model = relOrAbs(o.Output, base)
	r.Data.Corpus, r.Data.Replay, r.Data.MaskPrompt = "corpus-train.jsonl", "replay.jsonl", true
	// Stage 1: LongRecipe from window to lt tokens, the RoPE base raised by
	// the documented dynamic-NTK rule (rope_theta 0). LR 3e-4: 1e-3 erased
	// the base model's retrieval and gave worse perplexity
	// (docs/quickstart).
	e := &r.Extend
	e.Method, e.TargetLength, e.Ratio, e.Impactful, e.DropProb, e.RopeTheta = "longrecipe", lt, o.Ratio, "digits", 0.5, 0
	e.Steps, e.LR, e.Batch, e.GradAccum, e.Schedule, e.CheckpointEvery = o.ExtendSteps, 3e-4, 4, 1, "constant", 20
	// Stage 2: replay at the short length, the LR decaying to zero.
	a := &r.Anneal
	a.Steps, a.LR, a.Batch, a.Schedule, a.MinLR = o.AnnealSteps, 2e-4, 4, "linear", 0
	// Stage 3: average with the original weights.
	r.Merge.Weights = []float64{0.5, 0.5}
	// The decoy tasks rank answers found in the prompt (copy baseline ≤
	// 25 %); passkey and niah_single show whether a model reaches the
	// needle at all (copy baseline 100 %). They need the base's window.
	r.Eval.Tasks = []string{eval.Passkey, eval.NIAHSingle, eval.DecoyPasskey, eval.DecoyMultiKey, eval.PerplexityTask}
	r.Eval.Lengths = nil
	for l := window; l <= lt; l *= 2 {
		r.Eval.Lengths = append(r.Eval.Lengths, l)
	}
	r.Eval.Depths, r.Eval.Samples, r.Eval.PPLCorpus = []float64{0, 0.5, 1}, o.Samples, "corpus-heldout.jsonl"
	return r
}

// writeRecipe writes Output/recipe.toml and returns its path.
func writeRecipe(o Options, base string, window int) (string, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by \"longrecipe quickstart\"; rerun with: longrecipe run recipe.toml\n"+
		"# Stage 1 extends the window from %d to %d tokens; docs/recipe.md describes every key.\n\n", window, window*o.Factor)
	if err := Recipe(o, base, window).Encode(&b); err != nil {
		return "", err
	}
	p := filepath.Join(o.Output, "recipe.toml")
	if old, err := paths.ReadRegular(p); err == nil && bytes.Equal(old, b.Bytes()) {
		return p, nil
	}
	return p, atomicfile.WriteFile(p, b.Bytes())
}

// report reads the evaluation of the five models into the before/after
// table.
func report(rpath string, sum *recipe.Summary) (*Report, error) {
	rep := &Report{RecipeFile: rpath, Final: sum.Final, EvalDir: sum.Dirs["eval"]}
	var rs []*eval.Results
	for _, name := range []string{"base", eval.StartModel, "extend", "anneal", "merge"} {
		res, err := eval.LoadResults(filepath.Join(rep.EvalDir, name))
		if err != nil {
			return nil, err
		}
		rs = append(rs, res)
	}
	rep.Markdown = eval.CompareMarkdown(rs)
	return rep, nil
}

// relOrAbs returns target relative to dir when possible (recipe paths are
// relative to the recipe file).
func relOrAbs(dir, target string) string {
	ad, err1 := filepath.Abs(dir)
	at, err2 := filepath.Abs(target)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(ad, at); err == nil {
			return rel
		}
	}
	return target
}
