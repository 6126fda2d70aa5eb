// Package quickstart runs the whole recipe on the embedded defaults: the
// tiny base model pretrained at a 256-token window, the public-domain
// corpus and replay data made from it. It extends the window 8× with
// LongRecipe at 30 % training length, evaluates before and after, and
// returns a before/after table.
package quickstart

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
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
	return Options{Output: "quickstart-run", Factor: 8, Ratio: 0.3, ExtendSteps: 60, AnnealSteps: 10, Samples: 5, Seed: 2027}
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
	base := o.Base
	if base == "" {
		base = filepath.Join(o.Output, "base")
		if err := writeShipped(base); err != nil {
			return nil, err
		}
	}
	cfg, err := hf.LoadConfig(filepath.Join(base, "config.json"))
	if err != nil {
		return nil, err
	}
	window := cfg.MaxPositionEmbeddings
	lt := window * o.Factor

	docs, err := assets.Corpus()
	if err != nil {
		return nil, err
	}
	trainDocs, heldOut, err := assets.Split(docs, assets.DefaultHeldOutPercent)
	if err != nil {
		return nil, err
	}
	corpus := filepath.Join(o.Output, "corpus-train.jsonl")
	held := filepath.Join(o.Output, "corpus-heldout.jsonl")
	replay := filepath.Join(o.Output, "replay.jsonl")
	if err := writeJSONL(corpus, len(trainDocs), func(i int) any { return map[string]string{"text": trainDocs[i].Text} }); err != nil {
		return nil, err
	}
	if err := writeJSONL(held, len(heldOut), func(i int) any { return map[string]string{"text": heldOut[i].Text} }); err != nil {
		return nil, err
	}
	words := make([][]string, len(trainDocs))
	for i, d := range trainDocs {
		words[i] = strings.Fields(d.Text)
	}
	recs := tinybase.ReplayRecords(rand.New(rand.NewPCG(uint64(o.Seed), 0x5e)), words, 400, window*2/3)
	if err := writeJSONL(replay, len(recs), func(i int) any { return recs[i] }); err != nil {
		return nil, err
	}

	var lengths []string
	for l := window / 2; l <= lt; l *= 2 {
		lengths = append(lengths, fmt.Sprint(l))
	}
	text := fmt.Sprintf(`# Written by "longrecipe quickstart"; rerun with: longrecipe run %[1]s
name = "quickstart"
output = "run"
seed = %[2]d
threads = %[3]d

[base]
model = %[4]q

[data]
corpus = "corpus-train.jsonl"
replay = "replay.jsonl"
mask_prompt = true

[extend]                 # stage 1: %[5]d -> %[6]d tokens
method = "longrecipe"
target_length = %[6]d
ratio = %[7]g            # Ls = %[8]d real tokens per row
impactful = "digits"
drop_prob = 0.5
rope_theta = 0           # 0: raise the base with the documented dynamic-NTK rule
steps = %[9]d
lr = 3e-4                 # 1e-3 erased the base model's retrieval and gave worse perplexity (docs/quickstart)
batch = 4
grad_accum = 1
schedule = "constant"
checkpoint_every = 20

[anneal]                 # stage 2: replay at the short length, LR decaying to zero
steps = %[10]d
lr = 2e-4
batch = 4
schedule = "linear"
min_lr = 0

[merge]                  # stage 3: average with the original weights
weights = [0.5, 0.5]

[eval]
tasks = ["passkey", "niah_single", "ppl"]
lengths = [%[11]s]
depths = [0.0, 0.5, 1.0]
samples = %[12]d
ppl_corpus = "corpus-heldout.jsonl"
`, "recipe.toml", o.Seed, o.Threads, relOrAbs(o.Output, base), window, lt, o.Ratio, int(o.Ratio*float64(lt)+0.5),
		o.ExtendSteps, o.AnnealSteps, strings.Join(lengths, ", "), o.Samples)
	rpath := filepath.Join(o.Output, "recipe.toml")
	if err := atomicfile.WriteFile(rpath, []byte(text)); err != nil {
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
	rep := &Report{RecipeFile: rpath, Final: sum.Final, EvalDir: sum.Dirs["eval"]}
	var rs []*eval.Results
	for _, name := range []string{"base", "extend", "anneal", "merge"} {
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

// writeShipped copies the embedded tiny base model into dir, unless it is
// there already.
func writeShipped(dir string) error {
	fsys, err := tinybase.Shipped()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if old, err := os.ReadFile(dst); err == nil && string(old) == string(b) {
			return nil
		}
		return atomicfile.WriteFile(dst, b)
	})
}

// writeJSONL writes n records atomically, unless an identical file exists
// (so reruns keep the files' times and the recipe can skip stages).
func writeJSONL(path string, n int, rec func(i int) any) error {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		b, err := json.Marshal(rec(i))
		if err != nil {
			return err
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	if old, err := os.ReadFile(path); err == nil && string(old) == sb.String() {
		return nil
	}
	return atomicfile.WriteFile(path, []byte(sb.String()))
}
