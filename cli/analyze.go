package cli

import (
	"context"
	"flag"
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
	f := newAnalyzeFlags(fs)
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	tok, mBase, mExt, err := f.load(ctx)
	if err != nil {
		return err
	}
	bk, err := analyze.ParseBuckets(f.buckets, f.maxLen)
	if err != nil {
		return usageErrorf("--buckets: %v", err)
	}
	docs, source, err := analyzeDocs(f.data, tok, f.samples, f.maxLen)
	if err != nil {
		return err
	}
	j := f.job(mBase, mExt, tok, docs, source)
	j.Options.Buckets, j.Progress = bk, env.Stderr
	r, err := analyze.Run(ctx, j)
	if err != nil {
		return err
	}
	if err := analyze.WriteOutputs(f.output, r, tok.Hash(), f.source(r, len(docs), source)); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "analysed %d tokens of %d documents; kinds by over-representation in the top set: %s\n",
		r.Tokens, r.Documents, strings.Join(r.KindsByRatio, ", "))
	fmt.Fprintf(env.Stdout, "wrote %s (%d impactful ids), %s, %s, %s\n",
		filepath.Join(f.output, analyze.ImpactfulJSON), len(r.Impactful), analyze.ReportFile, analyze.KindsPNG, analyze.RatioPNG)
	return nil
}

// analyzeFlags are analyze's flags.
type analyzeFlags struct {
	base, ext, data, tok, mode, buckets, score, output, prec string
	samples, maxLen, short, stride, minCount                 int
	top, minRatio                                            float64
	force                                                    bool
}

// newAnalyzeFlags adds analyze's flags to fs.
func newAnalyzeFlags(fs *flag.FlagSet) *analyzeFlags {
	f := &analyzeFlags{}
	fs.StringVar(&f.base, "base", "", "model folder: the base model (models mode) or the model (context mode)")
	fs.StringVar(&f.ext, "extended", "", "model folder of the extended model (models mode)")
	fs.StringVar(&f.data, "data", "", "documents: .jsonl (\"text\", tokenized with BOS, or \"input_ids\", used as they are), .parquet, text file or folder (default: the embedded corpus's held-out split)")
	fs.IntVar(&f.samples, "samples", 50, "number of documents to analyse (the first N)")
	fs.IntVar(&f.maxLen, "max-len", 0, "truncate documents to this many tokens (0: the model's max_position_embeddings)")
	fs.StringVar(&f.tok, "tokenizer", "", "tokenizer.json (default: BASE/tokenizer.json)")
	fs.StringVar(&f.mode, "mode", "models", "models: base vs extended model; context: one model, short vs full context")
	fs.IntVar(&f.short, "short-context", 0, "context mode: tokens of short context (default max-len/8)")
	fs.IntVar(&f.stride, "stride", 0, "context mode: targets per short window (default short-context/4); contexts span [C, C+stride)")
	fs.StringVar(&f.buckets, "buckets", "auto", "position buckets: lower bounds \"0,1024,2048\" or auto (log-spaced up to max-len)")
	fs.Float64Var(&f.top, "top", 0.2, "fraction of tokens per bucket in the top set")
	fs.StringVar(&f.score, "score", "prob", "rank tokens by Δ of prob or logprob")
	fs.IntVar(&f.minCount, "min-count", 5, "impactful ids: minimum occurrences")
	fs.Float64Var(&f.minRatio, "min-ratio", 2, "impactful ids: minimum top-set rate as a multiple of --top")
	fs.StringVar(&f.output, "output", "", "output folder")
	fs.BoolVar(&f.force, "force", false, "replace an existing non-empty output folder")
	fs.StringVar(&f.prec, "precision", "auto", precisionUsage)
	return f
}

// check validates the flags, defaults the tokenizer to BASE's and checks
// the output folder.
func (f *analyzeFlags) check() error {
	switch {
	case f.output == "":
		return usageErrorf("--output is required")
	case f.base == "":
		return usageErrorf("--base is required")
	case f.mode == "models" && f.ext == "":
		return usageErrorf("--mode models needs --extended")
	case f.mode == "context" && f.ext != "":
		return usageErrorf("--mode context uses one model (--base); drop --extended")
	case f.mode != "models" && f.mode != "context":
		return usageErrorf("--mode %q is neither models nor context", f.mode)
	case f.samples < 1:
		return usageErrorf("--samples %d must be at least 1", f.samples)
	case f.maxLen < 0 || f.short < 0 || f.stride < 0:
		return usageErrorf("--max-len, --short-context and --stride must not be negative")
	}
	if f.tok == "" {
		f.tok = filepath.Join(f.base, "tokenizer.json")
		if _, err := os.Stat(f.tok); err != nil {
			return usageErrorf("no --tokenizer given and %s is missing", f.tok)
		}
	}
	return checkWrite("analyze", f.output, f.force, f.base, f.ext, f.tok, f.data)
}

// load loads the tokenizer and the models (ext nil in context mode),
// checks that their vocabularies agree and defaults --max-len to the
// scoring model's window.
func (f *analyzeFlags) load(ctx context.Context) (tok *tokenizer.Tokenizer, base, ext *model.Model, err error) {
	if tok, err = tokenizer.Load(f.tok); err != nil {
		return nil, nil, nil, err
	}
	if base, err = loadModel(ctx, f.base, f.prec); err != nil {
		return nil, nil, nil, err
	}
	scorer := base
	if f.mode == "models" {
		if ext, err = loadModel(ctx, f.ext, f.prec); err != nil {
			return nil, nil, nil, err
		}
		if ext.Cfg.VocabSize != base.Cfg.VocabSize {
			return nil, nil, nil, fmt.Errorf("analyze: base model has %d token ids, extended model %d", base.Cfg.VocabSize, ext.Cfg.VocabSize)
		}
		scorer = ext
	}
	if tok.VocabSize() > base.Cfg.VocabSize {
		return nil, nil, nil, fmt.Errorf("analyze: tokenizer %s has %d ids, more than the model's vocab_size %d", f.tok, tok.VocabSize(), base.Cfg.VocabSize)
	}
	if f.maxLen == 0 {
		if f.maxLen = scorer.Cfg.MaxPositionEmbeddings; f.maxLen <= 0 {
			return nil, nil, nil, usageErrorf("the model has no max_position_embeddings; give --max-len")
		}
	}
	return tok, base, ext, nil
}

// job is the analysis of the flags (context mode's short window and
// stride defaulted), with the settings recorded in its report.
func (f *analyzeFlags) job(base, ext *model.Model, tok *tokenizer.Tokenizer, docs [][]int32, source string) analyze.Job {
	meta := map[string]string{"mode": f.mode, "base": f.base, "data": source, "tokenizer": f.tok,
		"max_len": fmt.Sprint(f.maxLen), "samples": fmt.Sprint(len(docs)), "precision": base.Precision().String()}
	j := analyze.Job{Base: base, Vocab: tok, Docs: docs, Meta: meta,
		Options: analyze.Options{Top: f.top, Score: f.score, MinCount: f.minCount, MinRatio: f.minRatio}}
	if f.mode == "models" {
		meta["extended"] = f.ext
		j.Extended = ext
		return j
	}
	if f.short == 0 {
		f.short = max(f.maxLen/8, 1)
	}
	if f.stride == 0 {
		f.stride = max(f.short/4, 1)
	}
	meta["short_context"], meta["stride"] = fmt.Sprint(f.short), fmt.Sprint(f.stride)
	j.Short, j.Stride = f.short, f.stride
	return j
}

// source describes the analysis in impactful.json.
func (f *analyzeFlags) source(r *analyze.Report, docs int, data string) string {
	what := "extended " + f.ext + " vs base " + f.base
	if f.mode == "context" {
		what = fmt.Sprintf("%s, full context vs last %d–%d tokens", f.base, f.short, f.short+f.stride-1)
	}
	return fmt.Sprintf("analyze: %s; %d documents of %s (≤ %d tokens); top %g%% by Δ%s; %s",
		what, docs, data, f.maxLen, 100*r.Top, r.Score, r.ImpactfulRule)
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
