package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/merge"
)

func init() {
	register(&command{
		name:    "merge",
		summary: "average the parameters of models (LongRecipe stage 3)",
		run:     runMerge,
	})
}

const mergeUsage = "merge --models A B [C...] [--weights 0.5,0.5] [--dtype keep|f32|bf16|f16] [--max-shard-size 5GB] [--force] --output DIR"

// modelList collects --models: a comma-separated value and/or the
// positional arguments that follow it.
type modelList []string

// String implements flag.Value.
func (m *modelList) String() string { return strings.Join(*m, ",") }

// Set implements flag.Value: it appends comma-separated folders.
func (m *modelList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*m = append(*m, p)
		}
	}
	return nil
}

func runMerge(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "merge", mergeUsage,
		"Writes the parameter-wise weighted average of two or more checkpoints of one architecture\n"+
			"(tensor by tensor; only small chunks are in memory). Weights must be positive and are\n"+
			"normalised to sum to 1 (default: equal). config.json and the tokenizer files are taken\n"+
			"from the first model, so list the long-context model first. The output folder appears\n"+
			"only when complete.")
	var models modelList
	fs.Var(&models, "models", "model folders (space- or comma-separated; at least two)")
	weights := fs.String("weights", "", "comma-separated weights, one per model (default equal)")
	dtype := fs.String("dtype", "keep", "stored dtype of the averaged tensors: keep, f32, bf16 or f16")
	shard := fs.String("max-shard-size", "5GB", "largest output shard (e.g. 5GB, 500MB, 2GiB); 0 = one file")
	output := fs.String("output", "", "output model folder")
	force := fs.Bool("force", false, "replace an existing non-empty output folder")
	if err := parseModelArgs(fs, args, &models); err != nil {
		return err
	}
	if len(models) < 2 {
		return usageErrorf("--models needs at least two model folders (usage: longrecipe %s)", mergeUsage)
	}
	if *output == "" {
		return usageErrorf("--output is required")
	}
	opts, err := mergeOptions(*weights, *dtype, *shard, len(models))
	if err != nil {
		return err
	}
	opts.Overwrite, opts.Progress = *force, env.Stderr
	release, err := lockOutput(env, "merge", *output)
	if err != nil {
		return err
	}
	defer release()
	res, err := merge.Merge(ctx, models, *output, opts)
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(env.Stderr, "note: %s\n", n)
	}
	ws := make([]string, len(res.Weights))
	for i, w := range res.Weights {
		ws[i] = fmt.Sprintf("%g×%s", w, models[i])
	}
	fmt.Fprintf(env.Stdout, "merged %d tensors (%s) into %s: %s\n", res.Tensors, humanBytes(res.Bytes), *output, strings.Join(ws, " + "))
	return nil
}

// parseModelArgs parses args into fs in rounds: in "--models A B --output
// O" the positional arguments after --models belong to it.
func parseModelArgs(fs *flag.FlagSet, args []string, models *modelList) error {
	rest := args
	for {
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		rest = fs.Args()
		i := 0
		for i < len(rest) && !strings.HasPrefix(rest[i], "-") {
			*models = append(*models, rest[i])
			i++
		}
		if rest = rest[i:]; len(rest) == 0 {
			return nil
		}
	}
}

// mergeOptions reads --weights (for n models), --dtype and
// --max-shard-size.
func mergeOptions(weights, dtype, shard string, n int) (merge.Options, error) {
	var opts merge.Options
	if weights != "" {
		w, err := merge.ParseWeights(weights)
		if err != nil {
			return opts, usageErrorf("--weights: %v", err)
		}
		if _, err := merge.NormalizeWeights(w, n); err != nil {
			return opts, usageErrorf("--weights: %v", err)
		}
		opts.Weights = w
	}
	if dtype != "keep" {
		d, err := hf.ParseDType(dtype)
		if err != nil || (d != hf.F32 && d != hf.BF16 && d != hf.F16) {
			return opts, usageErrorf("--dtype %q: want keep, f32, bf16 or f16", dtype)
		}
		opts.DType = d
	}
	if shard != "0" {
		b, err := hf.ParseByteSize(shard)
		if err != nil {
			return opts, usageErrorf("--max-shard-size: %v", err)
		}
		opts.MaxShardBytes = b
	}
	return opts, nil
}
