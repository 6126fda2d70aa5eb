package cli

import (
	"context"
	"flag"
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
	f := newPrepareFlags(fs)
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	job, err := f.job()
	if err != nil {
		return err
	}
	job.Progress = env.Stderr
	impactfulFile := f.impactful
	if impactfulFile == "digits" {
		impactfulFile = ""
	}
	release, err := lockOutput(env, "prepare", f.output)
	if err != nil {
		return err
	}
	defer release()
	if err := checkWrite("prepare", f.output, f.force, f.input, f.tok, f.replayInput, impactfulFile); err != nil {
		return err
	}
	m, err := data.RunJob(ctx, job)
	if err != nil {
		return err
	}
	counts := m.Counts
	if counts.ReplayExhausted {
		fmt.Fprintf(env.Stderr, "prepare: WARNING the replay input ran out: %d replay rows, fewer than --replay-fraction %v asks for\n",
			counts.ReplayRows, f.replayFraction)
	}
	if counts.ReplayRowsDropped > 0 {
		fmt.Fprintf(env.Stderr, "prepare: dropped %d replay rows that are all prompt (prompts longer than the train length under --mask-prompt; the trainer has nothing to predict in them)\n",
			counts.ReplayRowsDropped)
	}
	fmt.Fprintf(env.Stderr, "prepare: %d documents read, %d rows, %d tokens, skipped %v -> %s\n",
		counts.DocumentsRead, counts.Rows, counts.Tokens, counts.DocumentsSkipped, f.output)
	return nil
}

// prepareFlags are prepare's flags.
type prepareFlags struct {
	tok, input, method, lt, ls, impactful, output, format, textField, idsField string
	promptField, responseField, separator, replayInput                         string
	ratio, dropProb, selectRatio, replayFraction                               float64
	seed                                                                       uint64
	threads                                                                    int
	shardMB                                                                    int64
	force, maskPrompt                                                          bool
}

// newPrepareFlags adds prepare's flags to fs.
func newPrepareFlags(fs *flag.FlagSet) *prepareFlags {
	f := &prepareFlags{}
	fs.StringVar(&f.tok, "tokenizer", "", "tokenizer.json (needed for text, for longrecipe's sentence ends, for --impactful digits and replay)")
	fs.StringVar(&f.input, "input", "", "corpus file or folder (required)")
	fs.StringVar(&f.method, "method", "longrecipe", "longrecipe, pose, randpos, full or replay")
	fs.StringVar(&f.lt, "target-length", "", "Lt, the context window to train for, e.g. 80k (required)")
	fs.StringVar(&f.ls, "train-length", "", "Ls, real tokens per row, e.g. 24k")
	fs.Float64Var(&f.ratio, "ratio", 0, "Ls as a fraction of Lt (instead of --train-length), e.g. 0.3")
	fs.StringVar(&f.impactful, "impactful", "", `impactful tokens: "digits" or a JSON file {"token_ids": [...]} written by analyze`)
	fs.Float64Var(&f.dropProb, "drop-prob", -1, "probability of dropping a sentence without impactful tokens (default 0.5 with --impactful, else 0)")
	fs.Float64Var(&f.selectRatio, "select-ratio", -1, "reference-compatible select_ratio r (p = (int(10r)-1)/10)")
	fs.Uint64Var(&f.seed, "seed", 2027, "random seed")
	fs.IntVar(&f.threads, "threads", 0, "worker threads (0 = all cores)")
	fs.StringVar(&f.output, "output", "", "output dataset folder (required)")
	fs.BoolVar(&f.force, "force", false, "replace an existing non-empty output folder")
	fs.StringVar(&f.format, "format", "shards", "data file format: shards (native), jsonl or parquet")
	fs.Int64Var(&f.shardMB, "shard-mb", 256, "start a new data file after about this many MiB")
	fs.StringVar(&f.textField, "text-field", "text", "JSONL/Parquet field holding text")
	fs.StringVar(&f.idsField, "ids-field", "input_ids", "JSONL/Parquet field holding token ids (pre-tokenized corpora)")
	fs.StringVar(&f.promptField, "prompt-field", "prompt", "replay: field holding the prompt (e.g. instruction)")
	fs.StringVar(&f.responseField, "response-field", "response", "replay: field holding the response (e.g. output)")
	fs.StringVar(&f.separator, "separator", "\n", "replay: text appended to the prompt")
	fs.BoolVar(&f.maskPrompt, "mask-prompt", false, "replay: no loss on prompt tokens (labels -100 in jsonl/parquet)")
	fs.StringVar(&f.replayInput, "replay-input", "", "replay JSONL to mix into a long-context method's rows")
	fs.Float64Var(&f.replayFraction, "replay-fraction", 0, "fraction of all rows that are replay rows, e.g. 0.05")
	return f
}

// job checks the flags and returns the data job they describe (its
// tokenizer loaded), naming the flag at fault.
func (f *prepareFlags) job() (data.Job, error) {
	var j data.Job
	if f.input == "" || f.output == "" || f.lt == "" {
		return j, usageErrorf("--input, --output and --target-length are required")
	}
	method, err := data.ParseMethod(f.method)
	if err != nil {
		return j, usageErrorf("--method: %v", err)
	}
	format, err := shards.ParseFormat(f.format)
	if err != nil {
		return j, usageErrorf("--format: %v", err)
	}
	lt, ls, err := f.lengths(method)
	if err != nil {
		return j, err
	}
	if err := f.checkMix(method); err != nil {
		return j, err
	}
	j = data.Job{
		Input: f.input, Output: f.output, Format: format, MaxShardBytes: f.shardMB << 20,
		Method: method, TargetLength: lt, TrainLength: ls, Seed: f.seed, Threads: f.threads,
		Impactful: f.impactful, Corpus: data.CorpusOptions{TextField: f.textField, IDsField: f.idsField},
	}
	if j.DropProb, j.SelectRatio, err = f.selection(); err != nil {
		return j, err
	}
	if f.impactful != "" && method == data.Replay {
		return j, usageErrorf("--impactful does not apply to --method replay")
	}
	needsTok := method == data.LongRecipe || method == data.Replay || f.replayInput != "" || f.impactful != "" || (j.DropProb != nil && *j.DropProb > 0)
	if needsTok && f.tok == "" {
		return j, usageErrorf("--tokenizer is required here (sentence ends, digit tokens and replay text come from the vocabulary)")
	}
	if f.tok != "" {
		if j.Tokenizer, err = tokenizer.Load(f.tok); err != nil {
			return j, err
		}
	}
	if method == data.Replay || f.replayInput != "" {
		j.Replay = &data.ReplayConfig{Input: f.replayInput, PromptField: f.promptField, ResponseField: f.responseField,
			Separator: f.separator, MaskPrompt: f.maskPrompt, Fraction: f.replayFraction}
	}
	return j, nil
}

// lengths are Lt and Ls: --target-length, and --train-length or
// --ratio (positions.TrainLength), Lt itself for the full method.
func (f *prepareFlags) lengths(method data.Method) (lt, ls int, err error) {
	if lt, err = parseLength(f.lt); err != nil {
		return 0, 0, usageErrorf("--target-length: %v", err)
	}
	switch {
	case f.ls != "" && f.ratio != 0:
		return 0, 0, usageErrorf("give --train-length or --ratio, not both")
	case f.ls != "":
		if ls, err = parseLength(f.ls); err != nil {
			return 0, 0, usageErrorf("--train-length: %v", err)
		}
	case f.ratio != 0:
		if !(f.ratio > 0 && f.ratio <= 1) {
			return 0, 0, usageErrorf("--ratio %v: want a fraction in (0, 1]", f.ratio)
		}
		ls = positions.TrainLength(f.ratio, lt)
	case method == data.Full:
		ls = lt
	default:
		return 0, 0, usageErrorf("give --train-length or --ratio")
	}
	if ls > lt || ls <= 0 {
		return 0, 0, usageErrorf("train length %d must be in [1, target length %d]", ls, lt)
	}
	if method == data.Full {
		ls = lt
	}
	return lt, ls, nil
}

// checkMix checks the flags that go together: one way to set the drop
// probability, and replay mixed into another method.
func (f *prepareFlags) checkMix(method data.Method) error {
	switch {
	case f.dropProb >= 0 && f.selectRatio >= 0:
		return usageErrorf("give --drop-prob or --select-ratio, not both")
	case f.replayFraction != 0 && f.replayInput == "" || f.replayInput != "" && f.replayFraction == 0:
		return usageErrorf("--replay-input and --replay-fraction go together")
	case f.replayInput != "" && method == data.Replay:
		return usageErrorf("--replay-input mixes replay into another method; with --method replay give the replay file as --input")
	}
	return nil
}

// selection is the drop probability of --drop-prob or --select-ratio
// (nil: the method's default) and the select ratio given.
func (f *prepareFlags) selection() (drop, selectRatio *float64, err error) {
	switch {
	case f.dropProb >= 0:
		if f.dropProb > 1 {
			return nil, nil, usageErrorf("--drop-prob %v outside [0, 1]", f.dropProb)
		}
		p := f.dropProb
		return &p, nil, nil
	case f.selectRatio >= 0:
		p, err := data.DropProbFromSelectRatio(f.selectRatio)
		if err != nil {
			return nil, nil, usageErrorf("--select-ratio: %v", err)
		}
		r := f.selectRatio
		return &p, &r, nil
	}
	return nil, nil, nil
}
