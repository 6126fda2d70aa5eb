package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/eval/folder"
	"github.com/longrecipe/longrecipe/tokenizer"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "long-context evaluation: passkey, RULER-style needles, vt, cwe, fwe, perplexity",
		run:     runEval,
	})
}

const evalUsage = "eval (--model DIR | --endpoint URL --endpoint-model NAME --tokenizer FILE) --lengths 1k,4k,... --output DIR [flags]\n" +
	"       longrecipe eval --compare DIR1 DIR2 ... --output DIR"

const evalSummary = `Generates synthetic long-context tasks from --seed, sized in tokens of the model's tokenizer
(each prompt within ±1 % of the requested length), answers them greedily with the engine (KV cache,
batched prefill) or an OpenAI-compatible server, scores them by string-match recall (RULER), and
writes results.json, results.md, items.jsonl (every prompt, its ranked candidates and their
log-likelihoods, the greedy answer), a heatmap per task (length × depth) and, for ppl,
ppl_by_position.png and ppl_docs.jsonl (the loss of every document) into --output.

Tasks: passkey (PoSE prompt), niah_single, niah_multikey, niah_multivalue, niah_multiquery (RULER
needles), vt (variable tracking), cwe (common words), fwe (frequent words), decoy_passkey,
decoy_multikey, decoy_multivalue, decoy_multiquery, decoy_vt (retrieval among answers that occur
in the prompt: decoy keys, other keys' values, other chains), ppl (perplexity of long sequences by
position, plus short-window perplexity; engine only). Ranked tasks report their copy baseline: the
top-1 of the no-model rule "pick a candidate found in the prompt" (~100 % for passkey and the
niah tasks, 20-25 % for the decoy tasks).

--compare DIR1 DIR2 ... reads earlier results directories and writes compare.md and
compare_accuracy.png (mean accuracy against length, one line per model) into --output.

The API key for --endpoint, if any, is read from the environment variable OPENAI_API_KEY.`

// evalFlags are the eval command's flags.
type evalFlags struct {
	modelDir, tokPath, tasks, lengths, depths, output, haystack, wording, pplText, name *string
	endpoint, endpointModel, compare                                                    *string
	precision                                                                           *string
	samples, pplWindow, pplSequences, maxNew, endpointRetries, parallel                 *int
	seed                                                                                *uint64
	force                                                                               *bool
	endpointTimeout                                                                     *time.Duration
	bk                                                                                  backendFlags
}

func runEval(ctx context.Context, env *Env, args []string) error {
	f, rest, err := parseEvalFlags(env, args)
	if err != nil {
		return err
	}
	if *f.compare != "" {
		dirs := append([]string{*f.compare}, rest...)
		release, err := f.claimOutput(env, dirs...)
		if err != nil {
			return err
		}
		defer release()
		return publishDir("eval", *f.output, func(dir string) error { return eval.Compare(dir, dirs) })
	}
	if len(rest) > 0 {
		return usageErrorf("unexpected arguments %q", rest)
	}
	opt, err := f.options()
	if err != nil {
		return err
	}
	release, err := f.claimOutput(env, *f.modelDir, *f.tokPath, textFile(*f.haystack), textFile(*f.pplText))
	if err != nil {
		return err
	}
	defer release()
	opt.Progress = env.Stderr
	var res *eval.Results
	if *f.endpoint != "" {
		res, err = f.runEndpoint(ctx, opt)
	} else {
		res, err = f.runFolder(ctx, opt)
	}
	if err != nil {
		return err
	}
	if err := publishDir("eval", *f.output, func(dir string) error { return eval.WriteReport(dir, res) }); err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, eval.Markdown(res))
	return nil
}

// claimOutput locks --output and applies the output rule to it (an
// earlier report is replaced only with --force; never a folder that is or
// holds one of the inputs), before any evaluation starts.
func (f *evalFlags) claimOutput(env *Env, inputs ...string) (func(), error) {
	release, err := lockOutput(env, "eval", *f.output)
	if err != nil {
		return nil, err
	}
	if err := checkWrite("eval", *f.output, *f.force, inputs...); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// textFile returns the file a --haystack or --ppl-text value names ("" for
// a built-in text).
func textFile(v string) string {
	if eval.IsHaystackName(v) {
		return ""
	}
	return v
}

// parseEvalFlags reads the flags and the arguments between them (the
// directories of --compare).
func parseEvalFlags(env *Env, args []string) (*evalFlags, []string, error) {
	fs := newFlagSet(env, "eval", evalUsage, evalSummary)
	f := &evalFlags{
		modelDir:        fs.String("model", "", "model folder (config.json + safetensors)"),
		tokPath:         fs.String("tokenizer", "", "tokenizer.json (default: the model folder's)"),
		precision:       precisionFlag(fs),
		tasks:           fs.String("tasks", "", "comma-separated tasks (default: all; without ppl with --endpoint)"),
		lengths:         fs.String("lengths", "", "comma-separated prompt lengths in tokens, e.g. 1k,2k,4k (k = 1024)"),
		depths:          fs.String("depths", "0,0.25,0.5,0.75,1", "comma-separated needle depths in [0, 1]"),
		samples:         fs.Int("samples", 4, "samples per task × length × depth"),
		pplSequences:    fs.Int("ppl-sequences", 0, "ppl: at most this many long sequences, one per document (0: every document of the perplexity text that is long enough)"),
		seed:            fs.Uint64("seed", 1, "random seed of the generated prompts"),
		output:          fs.String("output", "", "directory for the reports"),
		force:           fs.Bool("force", false, "replace the reports of an earlier evaluation in --output"),
		wording:         fs.String("wording", "heldout", "prompt wording: heldout (written for this project, in no training data) or ruler (PoSE's passkey and RULER's published text, to compare with published numbers)"),
		haystack:        fs.String("haystack", "", "needle filler: \"heldout\" (default: the held-out split of the shipped corpus), \"noise\" (PoSE's noise sentences; \"repeat\" is accepted), or a text or JSONL (\"text\") file; text shorter than a prompt is repeated"),
		pplText:         fs.String("ppl-text", "", "text for ppl: a text or JSONL file (default: the --haystack file, else the held-out split of the shipped corpus)"),
		pplWindow:       fs.Int("ppl-window", 0, "short-context perplexity window in tokens (default: the model's original window, at most the largest length; -1: none)"),
		maxNew:          fs.Int("max-new-tokens", 0, "generation budget per answer (default: each task's own)"),
		name:            fs.String("name", "", "model name in the reports (default: the model folder's or endpoint model's name)"),
		endpoint:        fs.String("endpoint", "", "OpenAI-compatible server, e.g. http://localhost:8000 (POST /v1/completions)"),
		endpointModel:   fs.String("endpoint-model", "", "model name sent to --endpoint"),
		endpointTimeout: fs.Duration("endpoint-timeout", 10*time.Minute, "time limit of one request to --endpoint"),
		endpointRetries: fs.Int("endpoint-retries", 3, "retries of a failed request (network errors, timeouts, HTTP 429 and 5xx)"),
		parallel:        fs.Int("parallel", 0, "prompts (and perplexity sequences) answered at once: the engine runs that many copies of the model sharing its weights, the machine's threads split among them (helps small models, whose passes do not keep every core busy); a server gets that many requests at once (0: for the engine one per thread for models up to 50M parameters, else 1; for a server 1)"),
		compare:         fs.String("compare", "", "compare results directories: --compare DIR1 DIR2 ..."),
		bk:              addBackendFlags(fs),
	}
	var rest []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *f.output == "" {
		return nil, nil, usageErrorf("--output is required")
	}
	return f, rest, nil
}

// options checks the flags of an evaluation and returns its settings.
func (f *evalFlags) options() (eval.Options, error) {
	var opt eval.Options
	if err := f.bk.check(); err != nil {
		return opt, err
	}
	switch {
	case *f.modelDir == "" && *f.endpoint == "":
		return opt, usageErrorf("--model or --endpoint is required")
	case *f.endpoint != "" && *f.endpointModel == "":
		return opt, usageErrorf("--endpoint needs --endpoint-model")
	case *f.endpoint != "" && *f.tokPath == "":
		return opt, usageErrorf("--endpoint needs --tokenizer (prompt lengths are measured with it)")
	case *f.samples < 1:
		return opt, usageErrorf("--samples %d must be at least 1", *f.samples)
	case *f.maxNew < 0:
		return opt, usageErrorf("--max-new-tokens %d is negative", *f.maxNew)
	case *f.pplSequences < 0:
		return opt, usageErrorf("--ppl-sequences %d is negative", *f.pplSequences)
	case *f.parallel < 0:
		return opt, usageErrorf("--parallel %d is negative", *f.parallel)
	case *f.endpointTimeout <= 0:
		return opt, usageErrorf("--endpoint-timeout %v: want > 0 (a request without a time limit could wait forever on a silent server)", *f.endpointTimeout)
	case *f.endpointRetries < 0:
		return opt, usageErrorf("--endpoint-retries %d is negative", *f.endpointRetries)
	case *f.lengths == "":
		return opt, usageErrorf("--lengths is required (e.g. --lengths 1k,2k,4k)")
	}
	lengths, err := parseLengths(*f.lengths)
	if err != nil {
		return opt, usageErrorf("--lengths: %v", err)
	}
	depths, err := parseDepths(*f.depths)
	if err != nil {
		return opt, usageErrorf("--depths: %v", err)
	}
	tasks, err := parseTasks(*f.tasks, *f.endpoint == "")
	if err != nil {
		return opt, err
	}
	wording, err := eval.WordingNamed(*f.wording)
	if err != nil {
		return opt, usageErrorf("--%v", err)
	}
	return eval.Options{Tasks: tasks, Lengths: lengths, Depths: depths, Samples: *f.samples, Seed: *f.seed,
		MaxNew: *f.maxNew, Parallel: *f.parallel, ModelName: *f.name, Wording: wording, PPLSequences: *f.pplSequences}, nil
}

// parseTasks reads --tasks; engine says whether ppl is possible (and in
// the default list).
func parseTasks(s string, engine bool) ([]string, error) {
	var tasks []string
	if s == "" {
		tasks = append(tasks, eval.SyntheticTasks...)
		if engine {
			tasks = append(tasks, eval.PerplexityTask)
		}
		return tasks, nil
	}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if t != eval.PerplexityTask && !slices.Contains(eval.SyntheticTasks, t) {
			return nil, usageErrorf("--tasks: unknown task %q (known: %s, %s)", t, strings.Join(eval.SyntheticTasks, ", "), eval.PerplexityTask)
		}
		tasks = append(tasks, t)
	}
	if len(tasks) == 0 {
		return nil, usageErrorf("--tasks is empty")
	}
	if !engine && slices.Contains(tasks, eval.PerplexityTask) {
		return nil, usageErrorf("task ppl needs the engine (--model): an endpoint gives no log-probabilities")
	}
	return tasks, nil
}

// runFolder evaluates a model folder with the engine.
func (f *evalFlags) runFolder(ctx context.Context, opt eval.Options) (*eval.Results, error) {
	prec, err := parsePrecision(*f.precision)
	if err != nil {
		return nil, err
	}
	s, err := folder.Open(*f.modelDir, folder.Options{Tokenizer: *f.tokPath, Haystack: *f.haystack, PPLText: *f.pplText, PPLWindow: *f.pplWindow, Name: *f.name, Precision: prec})
	if err != nil {
		return nil, err
	}
	if *f.bk.backend == "torch" { // the same engine, its model calls on the torch worker
		ts, _, err := f.bk.torchScorer(ctx, *f.modelDir)
		if err != nil {
			return nil, err
		}
		defer ts.Close()
		s.Engine.Model, s.Engine.Fork = ts, nil
	}
	return s.Run(ctx, opt)
}

// runEndpoint evaluates a served model.
func (f *evalFlags) runEndpoint(ctx context.Context, opt eval.Options) (*eval.Results, error) {
	tok, err := tokenizer.Load(*f.tokPath)
	if err != nil {
		return nil, err
	}
	if opt.Haystack, err = folder.OpenHaystack(*f.haystack); err != nil {
		return nil, err
	}
	e, err := eval.NewEndpoint(*f.endpoint, *f.endpointModel)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	e.Timeout, e.Retries = *f.endpointTimeout, *f.endpointRetries
	e.APIKey = os.Getenv("OPENAI_API_KEY")
	if opt.ModelName == "" {
		opt.ModelName = *f.endpointModel
	}
	opt.TokenizerName = *f.tokPath
	return eval.Run(ctx, e, tok, opt)
}

// parseLengths reads "1k,4096,32K" (k = 1024).
func parseLengths(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		num, mult := f, 1
		if strings.HasSuffix(f, "k") || strings.HasSuffix(f, "K") {
			num, mult = f[:len(f)-1], 1024
		}
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 || n > eval.MaxLength/mult {
			return nil, fmt.Errorf("%q is not a positive token count", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

// parseDepths reads "0,0.5,1".
func parseDepths(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		d, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(d >= 0 && d <= 1) {
			return nil, fmt.Errorf("%q is not a depth in [0, 1]", f)
		}
		out = append(out, d)
	}
	return out, nil
}
