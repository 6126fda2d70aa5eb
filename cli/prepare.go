package cli

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/positions"
	"github.com/longrecipe/longrecipe/shards"
	"github.com/longrecipe/longrecipe/tokenizer"
)

func init() {
	register(&command{
		name:    "prepare",
		summary: "build training rows (LongRecipe, PoSE, RandPos, full, replay) from a corpus",
		run:     runPrepare,
	})
}

const prepareUsage = "prepare [--tokenizer F] --input SRC --method longrecipe|pose|randpos|full|replay " +
	"--target-length Lt (--train-length Ls | --ratio 0.3) [--impactful FILE|digits] [--drop-prob p | --select-ratio r] " +
	"[--seed S] [--threads N] --output DIR [--format shards|jsonl|parquet] [--force]"

// parseLength parses a token count: an integer, or one with a k (×1024) or
// m (×1048576) suffix, so 80k = 81920 and 128k = 131072.
func parseLength(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1024, strings.TrimSuffix(t, "k")
	case strings.HasSuffix(t, "m"):
		mult, t = 1024*1024, strings.TrimSuffix(t, "m")
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v*int64(mult) > math.MaxInt32 {
		return 0, fmt.Errorf("length %q: want a positive integer, optionally with k (×1024) or m (×1048576)", s)
	}
	return int(v) * mult, nil
}

func runPrepare(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "prepare", prepareUsage,
		"Reads a corpus (JSONL with a text or input_ids field, Parquet as Hugging Face datasets store it,\n"+
			"a plain-text file or a folder of files, one document each), selects sentences, builds one row per\n"+
			"document with the method's position ids and writes a dataset folder: data files and manifest.json.\n"+
			"Lengths accept k (×1024) and m suffixes: 80k = 81920, 128k = 131072. Documents too short for the\n"+
			"method are skipped and counted in the manifest. The output depends on --seed, never on --threads.\n"+
			"Selection: sentences holding an impactful token are kept; the others are dropped with probability p.\n"+
			"--select-ratio r is the reference code's parameter: p = (int(10r)-1)/10, so r = 0.6 means p = 0.5.")
	tokPath := fs.String("tokenizer", "", "tokenizer.json (needed for text, for longrecipe's sentence ends, for --impactful digits and replay)")
	input := fs.String("input", "", "corpus file or folder (required)")
	methodS := fs.String("method", "longrecipe", "longrecipe, pose, randpos, full or replay")
	ltS := fs.String("target-length", "", "Lt, the context window to train for, e.g. 80k (required)")
	lsS := fs.String("train-length", "", "Ls, real tokens per row, e.g. 24k")
	ratio := fs.Float64("ratio", 0, "Ls as a fraction of Lt (instead of --train-length), e.g. 0.3")
	impactful := fs.String("impactful", "", `impactful tokens: "digits" or a JSON file {"token_ids": [...]} written by analyze`)
	dropProb := fs.Float64("drop-prob", -1, "probability of dropping a sentence without impactful tokens (default 0.5 with --impactful, else 0)")
	selectRatio := fs.Float64("select-ratio", -1, "reference-compatible select_ratio r (p = (int(10r)-1)/10)")
	seed := fs.Uint64("seed", 2027, "random seed")
	threads := fs.Int("threads", 0, "worker threads (0 = all cores)")
	output := fs.String("output", "", "output dataset folder (required)")
	force := fs.Bool("force", false, "replace an existing non-empty output folder")
	formatS := fs.String("format", "shards", "data file format: shards (native), jsonl or parquet")
	shardMB := fs.Int64("shard-mb", 256, "start a new data file after about this many MiB")
	textField := fs.String("text-field", "text", "JSONL/Parquet field holding text")
	idsField := fs.String("ids-field", "input_ids", "JSONL/Parquet field holding token ids (pre-tokenized corpora)")
	promptField := fs.String("prompt-field", "prompt", "replay: field holding the prompt (e.g. instruction)")
	responseField := fs.String("response-field", "response", "replay: field holding the response (e.g. output)")
	separator := fs.String("separator", "\n", "replay: text appended to the prompt")
	maskPrompt := fs.Bool("mask-prompt", false, "replay: no loss on prompt tokens (labels -100 in jsonl/parquet)")
	replayInput := fs.String("replay-input", "", "replay JSONL to mix into a long-context method's rows")
	replayFraction := fs.Float64("replay-fraction", 0, "fraction of all rows that are replay rows, e.g. 0.05")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if *input == "" || *output == "" || *ltS == "" {
		return usageErrorf("--input, --output and --target-length are required")
	}
	method, err := data.ParseMethod(*methodS)
	if err != nil {
		return usageErrorf("--method: %v", err)
	}
	format, err := shards.ParseFormat(*formatS)
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	lt, err := parseLength(*ltS)
	if err != nil {
		return usageErrorf("--target-length: %v", err)
	}
	var ls int
	switch {
	case *lsS != "" && *ratio != 0:
		return usageErrorf("give --train-length or --ratio, not both")
	case *lsS != "":
		if ls, err = parseLength(*lsS); err != nil {
			return usageErrorf("--train-length: %v", err)
		}
	case *ratio != 0:
		if !(*ratio > 0 && *ratio <= 1) {
			return usageErrorf("--ratio %v: want a fraction in (0, 1]", *ratio)
		}
		ls = positions.TrainLength(*ratio, lt)
	case method == data.Full:
		ls = lt
	default:
		return usageErrorf("give --train-length or --ratio")
	}
	if ls > lt || ls <= 0 {
		return usageErrorf("train length %d must be in [1, target length %d]", ls, lt)
	}
	if method == data.Full {
		ls = lt
	}
	if *dropProb >= 0 && *selectRatio >= 0 {
		return usageErrorf("give --drop-prob or --select-ratio, not both")
	}
	if *replayFraction != 0 && *replayInput == "" || *replayInput != "" && *replayFraction == 0 {
		return usageErrorf("--replay-input and --replay-fraction go together")
	}
	if *replayInput != "" && method == data.Replay {
		return usageErrorf("--replay-input mixes replay into another method; with --method replay give the replay file as --input")
	}

	job := data.Job{
		Input: *input, Output: *output, Format: format, MaxShardBytes: *shardMB << 20,
		Method: method, TargetLength: lt, TrainLength: ls, Seed: *seed, Threads: *threads,
		Impactful: *impactful, Corpus: data.CorpusOptions{TextField: *textField, IDsField: *idsField},
		Progress: env.Stderr,
	}
	switch {
	case *dropProb >= 0:
		if *dropProb > 1 {
			return usageErrorf("--drop-prob %v outside [0, 1]", *dropProb)
		}
		job.DropProb = dropProb
	case *selectRatio >= 0:
		p, err := data.DropProbFromSelectRatio(*selectRatio)
		if err != nil {
			return usageErrorf("--select-ratio: %v", err)
		}
		job.DropProb, job.SelectRatio = &p, selectRatio
	}
	if *impactful != "" && method == data.Replay {
		return usageErrorf("--impactful does not apply to --method replay")
	}
	needsTok := method == data.LongRecipe || method == data.Replay || *replayInput != "" || *impactful != "" || (job.DropProb != nil && *job.DropProb > 0)
	if needsTok && *tokPath == "" {
		return usageErrorf("--tokenizer is required here (sentence ends, digit tokens and replay text come from the vocabulary)")
	}
	if *tokPath != "" {
		tok, err := tokenizer.Load(*tokPath)
		if err != nil {
			return err
		}
		job.Tokenizer = tok
	}
	if method == data.Replay || *replayInput != "" {
		job.Replay = &data.ReplayConfig{Input: *replayInput, PromptField: *promptField, ResponseField: *responseField,
			Separator: *separator, MaskPrompt: *maskPrompt, Fraction: *replayFraction}
	}
	impactfulFile := *impactful
	if impactfulFile == "digits" {
		impactfulFile = ""
	}
	release, err := lockOutput(env, "prepare", *output)
	if err != nil {
		return err
	}
	defer release()
	if err := checkWrite("prepare", *output, *force, *input, *tokPath, *replayInput, impactfulFile); err != nil {
		return err
	}
	m, err := data.RunJob(ctx, job)
	if err != nil {
		return err
	}
	counts := m.Counts
	if counts.ReplayExhausted {
		fmt.Fprintf(env.Stderr, "prepare: WARNING the replay input ran out: %d replay rows, fewer than --replay-fraction %v asks for\n",
			counts.ReplayRows, *replayFraction)
	}
	fmt.Fprintf(env.Stderr, "prepare: %d documents read, %d rows, %d tokens, skipped %v -> %s\n",
		counts.DocumentsRead, counts.Rows, counts.Tokens, counts.DocumentsSkipped, *output)
	return nil
}
