package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/analyze"
	"github.com/longrecipe/longrecipe/eval/folder"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/steps"
	"github.com/longrecipe/longrecipe/tokenizer"
)

func init() {
	register(&command{
		name:    "analyze",
		summary: "impactful-token analysis: which tokens gain most from long context",
		run:     runAnalyze,
	})
}

const analyzeUsage = "analyze --base DIR [--extended DIR | --mode context --short-context C] [--data FILE] [--samples N] [--max-len L] [--tokenizer FILE] [--buckets auto|0,1024,...] [--top 0.2] --output DIR"

func runAnalyze(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "analyze", analyzeUsage,
		"Scores every token of N sample documents under a base and an extended model (--mode models)\n"+
			"or under one model with a short and with the full context (--mode context), keeps the top\n"+
			"fraction of tokens by Δ of the gold token's probability in each position bucket, and counts\n"+
			"their kinds (numerals, punctuation, whitespace, pronouns, auxiliaries, conjunctions,\n"+
			"adpositions, other). Writes DIR/report.json, DIR/kinds.png (kind shares of the top set per\n"+
			"position bucket), DIR/kinds_ratio.png and DIR/impactful.json for \"prepare --impactful\".")
	base := fs.String("base", "", "model folder: the base model (models mode) or the model (context mode)")
	ext := fs.String("extended", "", "model folder of the extended model (models mode)")
	dataPath := fs.String("data", "", "documents: .jsonl (\"text\", tokenized with BOS, or \"input_ids\", used as they are), .parquet, text file or folder (default: the embedded corpus's held-out split)")
	samples := fs.Int("samples", 50, "number of documents to analyse (the first N)")
	maxLen := fs.Int("max-len", 0, "truncate documents to this many tokens (0: the model's max_position_embeddings)")
	tokPath := fs.String("tokenizer", "", "tokenizer.json (default: BASE/tokenizer.json)")
	mode := fs.String("mode", "models", "models: base vs extended model; context: one model, short vs full context")
	short := fs.Int("short-context", 0, "context mode: tokens of short context (default max-len/8)")
	stride := fs.Int("stride", 0, "context mode: targets per short window (default short-context/4); contexts span [C, C+stride)")
	buckets := fs.String("buckets", "auto", "position buckets: lower bounds \"0,1024,2048\" or auto (log-spaced up to max-len)")
	top := fs.Float64("top", 0.2, "fraction of tokens per bucket in the top set")
	score := fs.String("score", "prob", "rank tokens by Δ of prob or logprob")
	minCount := fs.Int("min-count", 5, "impactful ids: minimum occurrences")
	minRatio := fs.Float64("min-ratio", 2, "impactful ids: minimum top-set rate as a multiple of --top")
	output := fs.String("output", "", "output folder")
	force := fs.Bool("force", false, "replace an existing non-empty output folder")
	prec := precisionFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case *output == "":
		return usageErrorf("--output is required")
	case *base == "":
		return usageErrorf("--base is required")
	case *mode == "models" && *ext == "":
		return usageErrorf("--mode models needs --extended")
	case *mode == "context" && *ext != "":
		return usageErrorf("--mode context uses one model (--base); drop --extended")
	case *mode != "models" && *mode != "context":
		return usageErrorf("--mode %q is neither models nor context", *mode)
	case *samples < 1:
		return usageErrorf("--samples %d must be at least 1", *samples)
	case *maxLen < 0 || *short < 0 || *stride < 0:
		return usageErrorf("--max-len, --short-context and --stride must not be negative")
	}
	if *tokPath == "" {
		*tokPath = filepath.Join(*base, "tokenizer.json")
		if _, err := os.Stat(*tokPath); err != nil {
			return usageErrorf("no --tokenizer given and %s is missing", *tokPath)
		}
	}
	if err := checkWrite("analyze", *output, *force, *base, *ext, *tokPath, *dataPath); err != nil {
		return err
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		return err
	}
	mBase, err := loadModel(ctx, *base, *prec)
	if err != nil {
		return err
	}
	scorerModel := mBase
	var mExt *model.Model
	if *mode == "models" {
		if mExt, err = loadModel(ctx, *ext, *prec); err != nil {
			return err
		}
		if mExt.Cfg.VocabSize != mBase.Cfg.VocabSize {
			return fmt.Errorf("analyze: base model has %d token ids, extended model %d", mBase.Cfg.VocabSize, mExt.Cfg.VocabSize)
		}
		scorerModel = mExt
	}
	if tok.VocabSize() > mBase.Cfg.VocabSize {
		return fmt.Errorf("analyze: tokenizer %s has %d ids, more than the model's vocab_size %d", *tokPath, tok.VocabSize(), mBase.Cfg.VocabSize)
	}
	if *maxLen == 0 {
		*maxLen = scorerModel.Cfg.MaxPositionEmbeddings
		if *maxLen <= 0 {
			return usageErrorf("the model has no max_position_embeddings; give --max-len")
		}
	}
	bk, err := analyze.ParseBuckets(*buckets, *maxLen)
	if err != nil {
		return usageErrorf("--buckets: %v", err)
	}
	docs, source, err := analyzeDocs(*dataPath, tok, *samples, *maxLen)
	if err != nil {
		return err
	}
	meta := map[string]string{"mode": *mode, "base": *base, "data": source, "tokenizer": *tokPath,
		"max_len": fmt.Sprint(*maxLen), "samples": fmt.Sprint(len(docs)), "precision": mBase.Precision().String()}
	j := analyze.Job{Base: mBase, Vocab: tok, Docs: docs, Meta: meta, Progress: env.Stderr,
		Options: analyze.Options{Buckets: bk, Top: *top, Score: *score, MinCount: *minCount, MinRatio: *minRatio}}
	if *mode == "models" {
		meta["extended"] = *ext
		j.Extended = mExt
	} else {
		if *short == 0 {
			*short = max(*maxLen/8, 1)
		}
		if *stride == 0 {
			*stride = max(*short/4, 1)
		}
		meta["short_context"], meta["stride"] = fmt.Sprint(*short), fmt.Sprint(*stride)
		j.Short, j.Stride = *short, *stride
	}
	r, err := analyze.Run(ctx, j)
	if err != nil {
		return err
	}
	what := "extended " + *ext + " vs base " + *base
	if *mode == "context" {
		what = fmt.Sprintf("%s, full context vs last %d–%d tokens", *base, *short, *short+*stride-1)
	}
	src := fmt.Sprintf("analyze: %s; %d documents of %s (≤ %d tokens); top %g%% by Δ%s; %s",
		what, len(docs), source, *maxLen, 100*r.Top, r.Score, r.ImpactfulRule)
	if err := analyze.WriteOutputs(*output, r, tok.Hash(), src); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "analysed %d tokens of %d documents; kinds by over-representation in the top set: %s\n",
		r.Tokens, r.Documents, strings.Join(r.KindsByRatio, ", "))
	fmt.Fprintf(env.Stdout, "wrote %s (%d impactful ids), %s, %s, %s\n",
		filepath.Join(*output, analyze.ImpactfulJSON), len(r.Impactful), analyze.ReportFile, analyze.KindsPNG, analyze.RatioPNG)
	return nil
}

// analyzeDocs reads the documents to analyse (steps.AnalysisDocs), by
// default from the embedded corpus's held-out split, and names them.
func analyzeDocs(path string, tok *tokenizer.Tokenizer, n, maxLen int) ([][]int32, string, error) {
	var texts []string
	source := path
	if path == "" {
		var err error
		if texts, err = folder.HeldOutDocuments(); err != nil {
			return nil, "", err
		}
		source = "the embedded corpus's held-out split"
	}
	docs, err := steps.AnalysisDocs(path, texts, tok, n, maxLen)
	return docs, source, err
}
