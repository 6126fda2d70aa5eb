package cli

import (
	"context"
	"fmt"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
)

func init() {
	register(&command{
		name:    "init",
		summary: "write a randomly initialised model (config.json + model.safetensors)",
		run:     runInit,
	})
}

const initUsage = "init --config config.json --output DIR [--seed N] [--dtype f32|bf16|f16] [--force]"

func runInit(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "init", initUsage,
		"Creates a Llama-family model with random weights (normal(0, initializer_range), norms 1,\n"+
			"biases 0, as transformers initialises one), deterministic from --seed, and writes it as a\n"+
			"Hugging Face folder: config.json and model.safetensors.")
	config := fs.String("config", "", "config.json describing the architecture (llama, mistral, qwen2)")
	output := fs.String("output", "", "folder to write")
	seed := fs.Int64("seed", 1, "random seed")
	dtype := fs.String("dtype", "f32", "stored dtype: f32, bf16 or f16")
	force := fs.Bool("force", false, "replace an existing non-empty output folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if *config == "" || *output == "" {
		return usageErrorf("--config and --output are required")
	}
	switch *dtype {
	case "f32", "bf16", "f16":
	default:
		return usageErrorf("--dtype %q: want f32, bf16 or f16", *dtype)
	}
	if err := checkWrite("init", *output, *force, *config); err != nil {
		return err
	}
	cfg, err := hf.LoadConfig(*config)
	if err != nil {
		return err
	}
	m, err := model.New(cfg, *seed)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	if err := m.Save(*output, *dtype); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %s model, %d parameters, %s\n", *output, cfg.ModelType, m.NumParams(), *dtype)
	return nil
}
