package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/experiment"
)

func init() {
	register(&command{
		name:    "experiment",
		summary: "miniature paper reproduction: FLT vs PoSE vs RandPos vs LongRecipe, ratio and stage ablations",
		run:     runExperiment,
	})
}

const experimentUsage = "experiment --base DIR --output DIR [--factor 8] [--tokens N] [--seed S] [--samples N] [--quick]"

const experimentSummary = `Reproduces the LongRecipe paper in miniature on one base model and the embedded corpus (training
split; held-out split for perplexity). With the window raised factor× (RoPE base by the dynamic-NTK
rule) and the same optimizer settings and number of training tokens, it trains FLT (full-length rows,
fewer steps), PoSE, RandPos and LongRecipe (30 % of Lt, digit sentences kept, others dropped with
probability 0.5); LongRecipe again at 10/20/40 %; and, for the 30 % model, stage 2 on replay rows
(LR decaying to zero) and stage 3 (merge with the original). Every model is evaluated on passkey and
niah_single at 1×, 2×, 4× … factor× the base window (depths 0, 0.5, 1; string-match accuracy and the
gold answer's log-likelihood), perplexity by position and short-window perplexity. Training FLOPs are
counted analytically.

Writes OUTPUT/results.json, results.md (command and seed on top), accuracy_vs_length.png,
answer_nll_vs_length.png, ppl_by_position.png, ratio_ablation.png and stage_ablation.png. Each step records step.json; a rerun
skips finished steps and resumes interrupted training.`

func runExperiment(ctx context.Context, env *Env, args []string) error {
	d := experiment.DefaultOptions()
	fs := newFlagSet(env, "experiment", experimentUsage, experimentSummary)
	var o experiment.Options
	fs.StringVar(&o.Base, "base", "", "base model folder (config.json, safetensors, tokenizer.json) (required)")
	fs.StringVar(&o.Output, "output", "", "experiment folder (required)")
	fs.IntVar(&o.Factor, "factor", d.Factor, "window extension factor: Lt = factor × the base window")
	fs.Int64Var(&o.Tokens, "tokens", 0, fmt.Sprintf("stage-1 training tokens of every run (default %d; --quick: 4·Lt)", d.Tokens))
	fs.Int64Var(&o.AnnealTokens, "anneal-tokens", 0, "stage-2 replay tokens of the stage ablation (default tokens/10)")
	fs.IntVar(&o.Batch, "batch", 0, fmt.Sprintf("rows per optimizer step, the same for every run; tokens match the budget within batch/2 rows (default %d)", d.Batch))
	fs.Float64Var(&o.LR, "lr", d.LR, "stage-1 learning rate (constant)")
	fs.Float64Var(&o.AnnealLR, "anneal-lr", d.AnnealLR, "stage-2 peak learning rate (linear decay to 0)")
	fs.Int64Var(&o.Seed, "seed", d.Seed, "seed of data preparation, training and evaluation prompts")
	fs.IntVar(&o.Samples, "samples", 0, fmt.Sprintf("samples per task × length × depth, and perplexity sequences (default %d; --quick: 1)", d.Samples))
	fs.BoolVar(&o.Quick, "quick", false, "tiny settings for a smoke test of the harness (the numbers mean nothing)")
	fs.IntVar(&o.MaxDocs, "max-docs", 0, "use only the first N training documents (0: all; --quick: 24)")
	fs.IntVar(&o.Threads, "threads", 0, "training threads (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case o.Base == "" || o.Output == "":
		return usageErrorf("--base and --output are required: %s", experimentUsage)
	case fs.NArg() > 0:
		return usageErrorf("unexpected arguments %q", fs.Args())
	case o.Factor < 2:
		return usageErrorf("--factor %d: want >= 2", o.Factor)
	case o.Tokens < 0 || o.AnnealTokens < 0 || o.Batch < 0 || o.Samples < 0 || o.MaxDocs < 0 || o.Threads < 0:
		return usageErrorf("--tokens, --anneal-tokens, --batch, --samples, --max-docs and --threads must be >= 0")
	case !(o.LR > 0) || !(o.AnnealLR > 0):
		return usageErrorf("--lr and --anneal-lr must be > 0")
	}
	o.Command = "longrecipe experiment " + shellJoin(args)
	o.Log, o.Progress = env.Stderr, env.Stderr
	res, err := experiment.Run(ctx, o)
	if err != nil {
		return err
	}
	for _, t := range res.Targets {
		met := "n/a"
		if t.Met != nil {
			met = map[bool]string{true: "met", false: "NOT met"}[*t.Met]
		}
		fmt.Fprintf(env.Stdout, "%-8s %s: %s\n", met, t.Claim, t.Measured)
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
