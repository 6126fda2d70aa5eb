package cli

import (
	"context"
	"fmt"

	"github.com/longrecipe/longrecipe/tinybase"
)

func init() {
	register(&command{
		name:    "tinybase",
		summary: "rebuild the shipped tiny base model (pretraining on the embedded corpus + retrieval rows)",
		run:     runTinybase,
	})
}

func runTinybase(ctx context.Context, env *Env, args []string) error {
	d := tinybase.DefaultOptions()
	fs := newFlagSet(env, "tinybase", "tinybase --output DIR [--steps N] [flags]",
		"Pretrains the tiny Llama that the quickstart extends: the embedded State of the Union corpus (training\n"+
			"split) cut into windows of --window tokens, with --synthetic of the rows being retrieval documents\n"+
			"(a pass key or key-value needles inside the window, asked for at the end); then a second phase\n"+
			"on half corpus, half synthetic rows (copy documents, pass keys, key-value needles) that teaches the\n"+
			"model to look back and copy. Rerunning resumes. The model folder is OUTPUT/train-retrieval (OUTPUT/train\n"+
			"with --retrieval-steps 0); build.json records the settings and the final loss.")
	out := fs.String("output", "", "build folder (required)")
	fs.IntVar(&d.Window, "window", d.Window, "pretraining window (max_position_embeddings)")
	fs.IntVar(&d.Hidden, "hidden", d.Hidden, "hidden size")
	fs.IntVar(&d.Layers, "layers", d.Layers, "layers")
	fs.IntVar(&d.Heads, "heads", d.Heads, "attention heads")
	fs.IntVar(&d.KVHeads, "kv-heads", d.KVHeads, "key/value heads")
	fs.IntVar(&d.Intermediate, "intermediate", d.Intermediate, "MLP size")
	fs.IntVar(&d.Steps, "steps", d.Steps, "optimizer steps")
	fs.IntVar(&d.Batch, "batch", d.Batch, "rows per step")
	fs.Float64Var(&d.LR, "lr", d.LR, "peak learning rate (cosine schedule)")
	fs.Float64Var(&d.MinLR, "min-lr", d.MinLR, "final learning rate")
	fs.IntVar(&d.Warmup, "warmup", d.Warmup, "warm-up steps")
	fs.Float64Var(&d.SyntheticFraction, "synthetic", d.SyntheticFraction, "fraction of rows that are synthetic retrieval documents")
	fs.IntVar(&d.RetrievalSteps, "retrieval-steps", d.RetrievalSteps, "phase-2 steps on half corpus, half copy/passkey/key-value rows (0: none)")
	fs.Float64Var(&d.RetrievalLR, "retrieval-lr", d.RetrievalLR, "phase-2 peak learning rate (cosine to --min-lr)")
	fs.Int64Var(&d.Seed, "seed", d.Seed, "seed (data mix and initialisation)")
	fs.IntVar(&d.Threads, "threads", 0, "threads (0: all cores)")
	fs.StringVar(&d.SaveDType, "save-dtype", d.SaveDType, "dtype of the final weights")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("--output is required")
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	d.Output, d.Progress, d.Log = *out, env.Stderr, env.Stderr
	info, err := tinybase.Build(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "tiny base: %d params, %d steps, last loss %.3f, %d rows (%d tokens) -> %s\n",
		info.Params, info.Steps, info.LastLoss, info.Rows, info.Tokens, info.ModelDir)
	return nil
}
