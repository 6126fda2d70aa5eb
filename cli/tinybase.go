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
		"Pretrains the tiny Llama that the quickstart extends, in four phases:\n"+
			"  1. pretraining: the embedded State of the Union corpus (training split) cut into windows of --window\n"+
			"     tokens, with --synthetic of the rows being retrieval documents (a pass key or key-value needles\n"+
			"     inside the window, asked for at the end);\n"+
			"  2. retrieval (--retrieval-steps): half corpus, half synthetic rows (copy documents, pass keys, needles);\n"+
			"  3. copy (--copy-steps): short rows of random corpus tokens, each segment written twice, the loss on the\n"+
			"     second copies only, from which the model forms induction (look back and copy) heads;\n"+
			"  4. consolidation (--final-steps): corpus rows with --final-synthetic of synthetic rows (random-token\n"+
			"     copies, copy documents, pass keys, needles), to bring the prose back and stretch the copy distance.\n"+
			"Rerunning resumes. The model folder is the last phase's (OUTPUT/train-final with the defaults);\n"+
			"build.json records the settings and the final loss.")
	out := fs.String("output", "", "build folder (required)")
	fs.IntVar(&d.Window, "window", d.Window, "pretraining window (max_position_embeddings)")
	fs.IntVar(&d.Hidden, "hidden", d.Hidden, "hidden size")
	fs.IntVar(&d.Layers, "layers", d.Layers, "layers")
	fs.IntVar(&d.Heads, "heads", d.Heads, "attention heads")
	fs.IntVar(&d.KVHeads, "kv-heads", d.KVHeads, "key/value heads")
	fs.IntVar(&d.Intermediate, "intermediate", d.Intermediate, "MLP size")
	fs.IntVar(&d.Steps, "steps", d.Steps, "phase-1 optimizer steps")
	fs.IntVar(&d.Batch, "batch", d.Batch, "rows per step")
	fs.Float64Var(&d.LR, "lr", d.LR, "peak learning rate (cosine schedule)")
	fs.Float64Var(&d.MinLR, "min-lr", d.MinLR, "final learning rate")
	fs.IntVar(&d.Warmup, "warmup", d.Warmup, "warm-up steps")
	fs.Float64Var(&d.SyntheticFraction, "synthetic", d.SyntheticFraction, "fraction of rows that are synthetic retrieval documents")
	fs.IntVar(&d.RetrievalSteps, "retrieval-steps", d.RetrievalSteps, "phase-2 steps on half corpus, half copy/passkey/key-value rows (0: none)")
	fs.Float64Var(&d.RetrievalLR, "retrieval-lr", d.RetrievalLR, "phase-2 peak learning rate (cosine to --min-lr)")
	fs.IntVar(&d.CopySteps, "copy-steps", d.CopySteps, "phase-3 steps on random-token copy rows (0: none)")
	fs.Float64Var(&d.CopyLR, "copy-lr", d.CopyLR, "phase-3 learning rate (constant after warm-up)")
	fs.IntVar(&d.FinalSteps, "final-steps", d.FinalSteps, "phase-4 steps on half corpus, half synthetic rows (0: none)")
	fs.Float64Var(&d.FinalLR, "final-lr", d.FinalLR, "phase-4 peak learning rate (cosine to --min-lr)")
	fs.Float64Var(&d.FinalSynthetic, "final-synthetic", d.FinalSynthetic, "fraction of phase-4 rows that are synthetic")
	fs.StringVar(&d.Phase2Model, "phase2-model", "", "start phase 3 from this model folder instead of running phases 1 and 2")
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
	release, err := lockOutput(env, "tinybase", *out)
	if err != nil {
		return err
	}
	defer release()
	info, err := tinybase.Build(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "tiny base: %d params, %d steps, last loss %.3f, %d rows (%d tokens) -> %s\n",
		info.Params, info.Steps, info.LastLoss, info.Rows, info.Tokens, info.ModelDir)
	return nil
}
