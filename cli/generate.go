package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/longrecipe/longrecipe/tokenizer"
)

func init() {
	register(&command{
		name:    "generate",
		summary: "greedy continuation of a prompt",
		run:     runGenerate,
	})
}

const generateUsage = "generate --model DIR [--tokenizer FILE] --prompt TEXT [--max-new-tokens N]"

func runGenerate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "generate", generateUsage,
		"Encodes --prompt (with the tokenizer's special tokens, e.g. BOS), continues it greedily with a\n"+
			"key/value cache until an end-of-sequence token or --max-new-tokens, and prints the decoded\n"+
			"continuation (special tokens skipped).")
	modelDir := fs.String("model", "", "model folder (config.json + safetensors)")
	tokPath := fs.String("tokenizer", "", "tokenizer.json (default: the model folder's)")
	prompt := fs.String("prompt", "", "prompt text")
	maxNew := fs.Int("max-new-tokens", 64, "most tokens to generate")
	prec := precisionFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if *modelDir == "" || *prompt == "" {
		return usageErrorf("--model and --prompt are required")
	}
	if *maxNew < 0 {
		return usageErrorf("--max-new-tokens %d is negative", *maxNew)
	}
	if *tokPath == "" {
		*tokPath = filepath.Join(*modelDir, "tokenizer.json")
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		return err
	}
	m, err := loadModel(ctx, *modelDir, *prec)
	if err != nil {
		return err
	}
	stops := map[int32]bool{}
	if id, ok := tok.EOS(); ok {
		stops[id] = true
	}
	for _, id := range m.Cfg.EOSTokenIDs {
		stops[int32(id)] = true
	}
	if m.Cfg.EOSTokenID >= 0 {
		stops[int32(m.Cfg.EOSTokenID)] = true
	}
	ids := tok.Encode(*prompt, true)
	if len(ids) == 0 {
		return fmt.Errorf("generate: the prompt encodes to no tokens")
	}
	out, err := m.Generate(ids, *maxNew, func(id int32) bool {
		return stops[id] || ctx.Err() != nil
	})
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, tok.Decode(out, true))
	return nil
}
