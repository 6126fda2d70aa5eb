package cli

import (
	"context"
	"fmt"

	"github.com/longrecipe/longrecipe/quickstart"
)

func init() {
	register(&command{
		name:    "quickstart",
		summary: "extend the embedded tiny model 8× with LongRecipe and show before/after evaluations",
		run:     runQuickstart,
	})
}

func runQuickstart(ctx context.Context, env *Env, args []string) error {
	o := quickstart.DefaultOptions()
	fs := newFlagSet(env, "quickstart", "quickstart [--output DIR] [flags]",
		"Runs the whole recipe on the embedded defaults: the tiny base model (window 256), the public-domain\n"+
			"State of the Union corpus and replay data made from it. Writes OUTPUT/recipe.toml (rerun it with\n"+
			"\"longrecipe run\"), extends the window 8× with LongRecipe at 30 % training length, anneals on replay\n"+
			"data, merges with the original and prints passkey / needle accuracy and perplexity before and after.\n"+
			"Rerunning skips the finished stages.")
	fs.StringVar(&o.Output, "output", o.Output, "work folder")
	fs.StringVar(&o.Base, "base", "", "extend this model folder instead of the embedded one")
	fs.IntVar(&o.Factor, "factor", o.Factor, "window extension factor")
	fs.Float64Var(&o.Ratio, "ratio", o.Ratio, "training length as a fraction of the target window")
	fs.IntVar(&o.ExtendSteps, "extend-steps", o.ExtendSteps, "stage-1 optimizer steps")
	fs.IntVar(&o.AnnealSteps, "anneal-steps", o.AnnealSteps, "stage-2 optimizer steps")
	fs.IntVar(&o.Samples, "samples", o.Samples, "samples per task, length and depth")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed")
	fs.IntVar(&o.Threads, "threads", 0, "threads (0: all cores)")
	fs.StringVar(&o.FromStage, "from-stage", "", "rerun from this recipe stage")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if err := checkFromStageFlag(o.FromStage); err != nil {
		return err
	}
	o.Log, o.Progress = env.Stderr, env.Stderr
	release, err := lockOutput(env, "quickstart", o.Output)
	if err != nil {
		return err
	}
	defer release()
	rep, err := quickstart.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\n%s\nRecipe: %s\nFinal model: %s\nReports (JSON, Markdown, PNG): %s\n", rep.Markdown, rep.RecipeFile, rep.Final, rep.EvalDir)
	return nil
}
