package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/longrecipe/longrecipe/recipe"
)

func init() {
	register(&command{
		name:    "run",
		summary: "run a recipe file: prepare → extend → replay → anneal → merge → eval (resumable)",
		run:     runRecipe,
	})
}

const runUsage = "run RECIPE.toml [--from-stage prepare|extend|replay|anneal|merge|eval]"

func runRecipe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "run", runUsage,
		"Runs the three-stage LongRecipe recipe described by a TOML file (see docs/recipe.md): prepare the\n"+
			"stage-1 rows, extend the context window (RoPE base raised, LongRecipe training), prepare replay rows,\n"+
			"anneal with the learning rate decaying to zero, merge with the original weights, and evaluate base,\n"+
			"extended and merged models. Each stage writes OUTPUT/N-stage/ with a stage.json manifest. Rerunning\n"+
			"skips complete stages whose inputs have not changed; an interrupted stage resumes (training from its\n"+
			"last checkpoint) when its inputs are unchanged, and any stage whose inputs changed starts over, naming\n"+
			"the settings that changed. Training stages run on backend = \"go\" (default) or \"torch\" ([extend.launch]).")
	from := fs.String("from-stage", "", "rerun this stage and all later ones even if complete")
	// Accept the recipe before or after the flags.
	var path string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		path, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if path == "" {
		return usageErrorf("give the recipe file: %s", runUsage)
	}
	if err := checkFromStageFlag(*from); err != nil {
		return err
	}
	r, err := recipe.Load(path)
	if err != nil {
		return err
	}
	release, err := lockOutput(env, "run", r.Output)
	if err != nil {
		return err
	}
	defer release()
	sum, err := recipe.Run(ctx, r, recipe.Options{FromStage: *from, Log: env.Stderr, Progress: env.Stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "recipe %s finished: final model %s\n", r.Name, sum.Final)
	if ev, ok := sum.Dirs["eval"]; ok && !r.Eval.Skip {
		fmt.Fprintf(env.Stdout, "evaluation: %s/compare\n", ev)
	}
	return nil
}

// checkFromStageFlag refuses a --from-stage that names no recipe stage as a
// command-line mistake, listing the valid names.
func checkFromStageFlag(from string) error {
	if from != "" && !slices.Contains(recipe.Stages, from) {
		return usageErrorf("--from-stage %q: want one of %s", from, strings.Join(recipe.Stages, ", "))
	}
	return nil
}
