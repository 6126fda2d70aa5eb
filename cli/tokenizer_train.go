package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/tokenizer/bpetrain"
)

func init() {
	register(&command{
		name:    "tokenizer",
		summary: "tokenizer tools: \"tokenizer train\" learns a byte-level BPE tokenizer.json",
		run:     runTokenizer,
	})
}

const tokenizerTrainUsage = "tokenizer train [--input FILE[,FILE...]] [--vocab 4096] [--special LIST] [--bos TOKEN] --output tokenizer.json"

func runTokenizer(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(env.Stderr, "Usage: longrecipe %s\n\nSubcommands: train (run \"longrecipe tokenizer train --help\").\n", tokenizerTrainUsage)
		if len(args) == 0 {
			return usageErrorf("missing subcommand (train)")
		}
		return errHelp
	}
	if args[0] != "train" {
		return usageErrorf("unknown subcommand %q (want train)", args[0])
	}
	return runTokenizerTrain(ctx, env, args[1:])
}

func runTokenizerTrain(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "tokenizer train", tokenizerTrainUsage,
		"Trains a byte-level BPE tokenizer (GPT-2 pre-tokenization, GPT-2 byte alphabet) and writes a\n"+
			"Hugging Face tokenizer.json. Inputs: .jsonl/.json/.ndjson files (one {\"text\": ...} a line) or\n"+
			"plain text files (one document each), each optionally gzipped (.gz). Without --input it trains\n"+
			"on the embedded State of the Union corpus, training split (the 10% held-out documents of\n"+
			"assets.Split are left out).")
	input := fs.String("input", "", "comma-separated training files (default: the embedded corpus, training split)")
	vocab := fs.Int("vocab", 4096, "total vocabulary size: 256 bytes + merges + special tokens")
	special := fs.String("special", "<|bos|>,<|eos|>,<|pad|>", "comma-separated special tokens, given the last ids (\"\" for none)")
	bos := fs.String("bos", "<|bos|>", "special token prepended when encoding, one of --special (\"\" for none)")
	output := fs.String("output", "", "tokenizer.json to write")
	force := fs.Bool("force", false, "replace an existing output file")
	workers := fs.Int("workers", 0, "goroutines counting words (0 = all CPUs)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if *output == "" {
		return usageErrorf("--output is required")
	}
	if *vocab > bpetrain.MaxVocabSize {
		return usageErrorf("--vocab %d: want at most %d", *vocab, bpetrain.MaxVocabSize)
	}
	var inputs []string
	if *input != "" {
		inputs = strings.Split(*input, ",")
	}
	if err := checkWrite("tokenizer train", *output, *force, inputs...); err != nil {
		return err
	}
	var specials []string
	if *special != "" {
		specials = strings.Split(*special, ",")
	}
	texts, err := trainingTexts(inputs)
	if err != nil {
		return err
	}
	words, err := bpetrain.CountWords(ctx, texts, specials, *workers)
	if err != nil {
		return err
	}
	m, err := bpetrain.Train(ctx, words, bpetrain.Options{VocabSize: *vocab, Specials: specials, BOS: *bos, Progress: env.Stderr})
	if err != nil {
		return err
	}
	if err := m.WriteFile(*output); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %d tokens (%d merges, %d special) from %d texts, %d distinct pre-tokens\n",
		*output, m.Size(), len(m.Merges), len(m.Specials), len(texts), len(words))
	return nil
}

// trainingTexts reads the texts of files, or without files the embedded
// corpus's training split.
func trainingTexts(files []string) ([]string, error) {
	var texts []string
	if len(files) == 0 {
		docs, err := assets.Corpus()
		if err != nil {
			return nil, err
		}
		train, _, err := assets.Split(docs, assets.DefaultHeldOutPercent)
		if err != nil {
			return nil, err
		}
		for _, d := range train {
			texts = append(texts, d.Text)
		}
		return texts, nil
	}
	for _, p := range files {
		t, err := bpetrain.ReadTexts(p)
		if err != nil {
			return nil, err
		}
		texts = append(texts, t...)
	}
	return texts, nil
}
