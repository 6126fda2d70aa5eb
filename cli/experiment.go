package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/experiment"
	"github.com/longrecipe/longrecipe/tinybase"
)

func init() {
	register(&command{
		name:    "experiment",
		summary: "miniature paper reproduction: FLT vs PoSE vs RandPos vs LongRecipe, ratio and stage ablations",
		run:     runExperiment,
	})
}

const experimentUsage = "experiment --output DIR [--base DIR] [--factor 8] [--tokens N] [--seed S] [--seeds 3] [--samples N] [--precision auto|bf16|fp32] [--quick]"

const experimentSummary = `Reproduces the LongRecipe paper in miniature on one base model and the embedded corpus (training
split cut into chunks of at least Lt tokens, so no run repeats data, shuffled by seed; held-out split
for evaluation), for --seeds seeds (S, S+1, …). With the window raised factor× (RoPE base by the
dynamic-NTK rule) and the same optimizer settings, it trains LongRecipe (30 % of Lt, digit sentences
kept, others dropped with probability 0.5), PoSE and RandPos on the token budget, and FLT
(full-length rows) both at equal tokens and at equal sequences (as many rows as LongRecipe, the
paper's main comparison); the controls (LongRecipe without selection, with random drops at the same
kept fraction, with the impactful set of an analysis of the base against the FLT model); LongRecipe
at 10/20/40 % for LongRecipe 30 %'s steps; and the same replay annealing and merge for every one of
them. The start model (θ raised, no training) is evaluated beside them. Every model is evaluated in
the evaluation's held-out wording on passkey, niah_single, decoy_passkey and decoy_multikey at 1×,
2×, 4× … factor× the base window: greedy accuracy, the top-1 rate of the gold answer among 10
candidates by log-likelihood with the task's copy baseline, and the needle's gain in its
log-likelihood; perplexity by position on held-out documents and short-window perplexity. Training
FLOPs are counted analytically. The CPU budget is stated in docs/experiment.

Writes OUTPUT/results.md and results.json: the claim tables — final (merged) models, then stage-1
models — with the paper's figure, ours as mean ± 95 % t-interval over seeds, a paired bootstrap
interval over prompts and documents, and whether it holds; retrieval claims use only tasks whose copy
baseline is at most 30 %; and each model's numbers over seeds with its difference from the start
model. OUTPUT/seed-N/ holds each seed's tables, charts, runs and evaluation folders (items.jsonl,
ppl_docs.jsonl). Every step is a resumable stage; a rerun skips finished steps and resumes
interrupted training.`

func runExperiment(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "experiment", experimentUsage, experimentSummary)
	o := experimentFlags(fs)
	prec := precisionFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if o.Precision, err = parsePrecision(*prec); err != nil {
		return err
	}
	switch {
	case o.Output == "":
		return usageErrorf("--output is required: %s", experimentUsage)
	case fs.NArg() > 0:
		return usageErrorf("unexpected arguments %q", fs.Args())
	case o.Factor < 2:
		return usageErrorf("--factor %d: want >= 2", o.Factor)
	case o.Tokens < 0 || o.AnnealTokens < 0 || o.Batch < 0 || o.Samples < 0 || o.MaxDocs < 0 || o.Threads < 0 || o.Seeds < 0:
		return usageErrorf("--tokens, --anneal-tokens, --batch, --samples, --max-docs, --threads and --seeds must be >= 0")
	case !(o.LR > 0) || !(o.AnnealLR > 0):
		return usageErrorf("--lr and --anneal-lr must be > 0")
	}
	release, err := lockOutput(env, "experiment", o.Output)
	if err != nil {
		return err
	}
	defer release()
	if o.Base == "" {
		o.Base = filepath.Join(o.Output, "base")
		if err := tinybase.WriteShipped(o.Base); err != nil {
			return err
		}
	}
	o.Command = "longrecipe experiment " + shellJoin(args)
	o.Log, o.Progress = env.Stderr, env.Stderr
	res, err := experiment.Run(ctx, *o)
	if err != nil {
		return err
	}
	for _, t := range res.Targets {
		verdict := "n/a"
		if f := strings.Fields(t.Holds); len(f) > 0 {
			verdict = strings.Trim(f[0], "*")
		}
		fmt.Fprintf(env.Stdout, "%-10s %s: %s\n", verdict, t.Claim, t.Measured)
	}
	fmt.Fprintf(env.Stdout, "report: %s\n", filepath.Join(o.Output, experiment.ResultsMD))
	return nil
}

// shellJoin quotes args for a shell where needed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// experimentFlags declares the experiment's settings on fs.
func experimentFlags(fs *flag.FlagSet) *experiment.Options {
	d := experiment.DefaultOptions()
	o := &experiment.Options{}
	fs.StringVar(&o.Base, "base", "", "base model folder (config.json, safetensors, tokenizer.json); default: the shipped tiny base, written to OUTPUT/base")
	fs.StringVar(&o.Output, "output", "", "experiment folder (required)")
	fs.IntVar(&o.Factor, "factor", d.Factor, "window extension factor: Lt = factor × the base window")
	fs.Int64Var(&o.Tokens, "tokens", 0, fmt.Sprintf("stage-1 training tokens of every run (default %d; --quick: 4·Lt)", d.Tokens))
	fs.Int64Var(&o.AnnealTokens, "anneal-tokens", 0, "stage-2 replay tokens of the stage ablation (default tokens/10)")
	fs.IntVar(&o.Batch, "batch", 0, fmt.Sprintf("rows per optimizer step, the same for every run; tokens match the budget within batch/2 rows (default %d)", d.Batch))
	fs.Float64Var(&o.LR, "lr", d.LR, "stage-1 learning rate (constant)")
	fs.Float64Var(&o.AnnealLR, "anneal-lr", d.AnnealLR, "stage-2 peak learning rate (linear decay to 0)")
	fs.Int64Var(&o.Seed, "seed", d.Seed, "seed of data preparation, training and evaluation prompts (first seed)")
	fs.IntVar(&o.Seeds, "seeds", 0, fmt.Sprintf("number of seeds (default %d; --quick: 2)", d.Seeds))
	fs.IntVar(&o.Samples, "samples", 0, fmt.Sprintf("samples per task × length × depth, and perplexity sequences (default %d; --quick: 1)", d.Samples))
	fs.BoolVar(&o.Quick, "quick", false, "tiny settings for a smoke test of the harness (the numbers mean nothing)")
	fs.IntVar(&o.MaxDocs, "max-docs", 0, "use only the first N training documents (0: all; --quick: 24)")
	fs.IntVar(&o.Threads, "threads", 0, "training threads (0: all cores)")
	return o
}
