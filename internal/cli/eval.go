package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/model"
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
writes results.json, results.md, a heatmap per task (length × depth) and, for ppl,
ppl_by_position.png into --output.

Tasks: passkey (PoSE prompt), niah_single, niah_multikey, niah_multivalue, niah_multiquery (RULER
needles), vt (variable tracking), cwe (common words), fwe (frequent words), ppl (perplexity of
long sequences by position, plus short-window perplexity; engine only).

--compare DIR1 DIR2 ... reads earlier results directories and writes compare.md and
compare_accuracy.png (mean accuracy against length, one line per model) into --output.

The API key for --endpoint, if any, is read from the environment variable OPENAI_API_KEY.`

func runEval(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "eval", evalUsage, evalSummary)
	modelDir := fs.String("model", "", "model folder (config.json + safetensors)")
	tokPath := fs.String("tokenizer", "", "tokenizer.json (default: the model folder's)")
	tasksFlag := fs.String("tasks", "", "comma-separated tasks (default: all; without ppl with --endpoint)")
	lengthsFlag := fs.String("lengths", "", "comma-separated prompt lengths in tokens, e.g. 1k,2k,4k (k = 1024)")
	depthsFlag := fs.String("depths", "0,0.25,0.5,0.75,1", "comma-separated needle depths in [0, 1]")
	samples := fs.Int("samples", 4, "samples per task × length × depth (and perplexity sequences)")
	seed := fs.Uint64("seed", 1, "random seed of the generated prompts")
	output := fs.String("output", "", "directory for the reports")
	haystack := fs.String("haystack", "", "needle filler: \"repeat\" (the noise sentences), a text or JSONL (\"text\") file, or empty for the held-out split of the shipped corpus; text shorter than a prompt is repeated")
	pplText := fs.String("ppl-text", "", "text for ppl: a text or JSONL file (default: the --haystack file, else the held-out split of the shipped corpus)")
	pplWindow := fs.Int("ppl-window", 0, "short-context perplexity window in tokens (default: the model's original window, at most the largest length; -1: none)")
	maxNew := fs.Int("max-new-tokens", 0, "generation budget per answer (default: each task's own)")
	name := fs.String("name", "", "model name in the reports (default: the model folder's or endpoint model's name)")
	endpoint := fs.String("endpoint", "", "OpenAI-compatible server, e.g. http://localhost:8000 (POST /v1/completions)")
	endpointModel := fs.String("endpoint-model", "", "model name sent to --endpoint")
	endpointTimeout := fs.Duration("endpoint-timeout", 10*time.Minute, "time limit of one request to --endpoint")
	endpointRetries := fs.Int("endpoint-retries", 3, "retries of a failed request (network errors, timeouts, HTTP 429 and 5xx)")
	parallel := fs.Int("parallel", 1, "prompts answered at once (for servers that batch requests; the engine runs one at a time)")
	compare := fs.String("compare", "", "compare results directories: --compare DIR1 DIR2 ...")
	var rest []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *output == "" {
		return usageErrorf("--output is required")
	}
	if *compare != "" {
		return eval.Compare(*output, append([]string{*compare}, rest...))
	}
	if len(rest) > 0 {
		return usageErrorf("unexpected arguments %q", rest)
	}
	if *modelDir == "" && *endpoint == "" {
		return usageErrorf("--model or --endpoint is required")
	}
	if *endpoint != "" && *endpointModel == "" {
		return usageErrorf("--endpoint needs --endpoint-model")
	}
	if *samples < 1 {
		return usageErrorf("--samples %d must be at least 1", *samples)
	}
	if *maxNew < 0 {
		return usageErrorf("--max-new-tokens %d is negative", *maxNew)
	}
	if *parallel < 1 {
		return usageErrorf("--parallel %d must be at least 1", *parallel)
	}
	if *lengthsFlag == "" {
		return usageErrorf("--lengths is required (e.g. --lengths 1k,2k,4k)")
	}
	lengths, err := parseLengths(*lengthsFlag)
	if err != nil {
		return usageErrorf("--lengths: %v", err)
	}
	depths, err := parseDepths(*depthsFlag)
	if err != nil {
		return usageErrorf("--depths: %v", err)
	}
	var tasks []string
	if *tasksFlag == "" {
		tasks = append(tasks, eval.SyntheticTasks...)
		if *endpoint == "" {
			tasks = append(tasks, eval.PerplexityTask)
		}
	} else {
		for _, t := range strings.Split(*tasksFlag, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			if t != eval.PerplexityTask && !slices.Contains(eval.SyntheticTasks, t) {
				return usageErrorf("--tasks: unknown task %q (known: %s, %s)", t, strings.Join(eval.SyntheticTasks, ", "), eval.PerplexityTask)
			}
			tasks = append(tasks, t)
		}
		if len(tasks) == 0 {
			return usageErrorf("--tasks is empty")
		}
	}
	if *endpoint != "" && slices.Contains(tasks, eval.PerplexityTask) {
		return usageErrorf("task ppl needs the engine (--model): an endpoint gives no log-probabilities")
	}
	if *tokPath == "" {
		if *modelDir == "" {
			return usageErrorf("--endpoint needs --tokenizer (prompt lengths are measured with it)")
		}
		*tokPath = filepath.Join(*modelDir, "tokenizer.json")
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		return err
	}

	// Needle filler and perplexity text.
	var hay *eval.Haystack
	var corpusDocs []string
	corpus := func() ([]string, error) {
		if corpusDocs != nil {
			return corpusDocs, nil
		}
		docs, err := assets.Corpus()
		if err != nil {
			return nil, err
		}
		_, held, err := assets.Split(docs, assets.DefaultHeldOutPercent)
		if err != nil {
			return nil, err
		}
		for _, d := range held {
			corpusDocs = append(corpusDocs, d.Text)
		}
		return corpusDocs, nil
	}
	corpusName := fmt.Sprintf("%s, held-out %d%%", assets.CorpusName, assets.DefaultHeldOutPercent)
	switch *haystack {
	case "repeat":
		hay = eval.NoiseHaystack()
	case "":
		docs, err := corpus()
		if err != nil {
			return err
		}
		if hay, err = eval.TextHaystack(corpusName, docs); err != nil {
			return err
		}
	default:
		if hay, err = eval.LoadHaystack(*haystack); err != nil {
			return err
		}
	}
	opt := eval.Options{
		Tasks: tasks, Lengths: lengths, Depths: depths, Samples: *samples, Seed: *seed,
		Haystack: hay, MaxNew: *maxNew, Progress: env.Stderr, TokenizerName: *tokPath, Parallel: *parallel,
	}
	for _, t := range tasks {
		if t != eval.PerplexityTask {
			continue
		}
		src := *pplText
		if src == "" && *haystack != "" && *haystack != "repeat" {
			src = *haystack
		}
		if src == "" {
			if opt.PPLDocs, err = corpus(); err != nil {
				return err
			}
			opt.PPLSource = corpusName
		} else {
			if opt.PPLDocs, err = eval.Documents(src); err != nil {
				return err
			}
			opt.PPLSource = src
		}
	}

	var m eval.Model
	if *endpoint != "" {
		e, err := eval.NewEndpoint(*endpoint, *endpointModel)
		if err != nil {
			return usageErrorf("%v", err)
		}
		e.Timeout, e.Retries = *endpointTimeout, *endpointRetries
		e.APIKey = os.Getenv("OPENAI_API_KEY")
		m = e
		opt.ModelName = *endpointModel
	} else {
		mod, err := model.Load(*modelDir)
		if err != nil {
			return err
		}
		eng := &eval.Engine{Model: mod, Tok: tok}
		if id, ok := tok.EOS(); ok {
			eng.Stops = append(eng.Stops, id)
		}
		for _, id := range mod.Cfg.EOSTokenIDs {
			eng.Stops = append(eng.Stops, int32(id))
		}
		if mod.Cfg.EOSTokenID >= 0 {
			eng.Stops = append(eng.Stops, int32(mod.Cfg.EOSTokenID))
		}
		m = eng
		opt.ModelName = filepath.Base(filepath.Clean(*modelDir))
		switch {
		case *pplWindow > 0:
			opt.PPLWindow = *pplWindow
		case *pplWindow == 0:
			w := mod.Cfg.MaxPositionEmbeddings
			if rs := mod.Cfg.RopeScaling; rs != nil && rs.OriginalMaxPositionEmbeddings > 0 {
				w = rs.OriginalMaxPositionEmbeddings
			}
			opt.PPLWindow = min(w, maxInt(lengths))
		}
	}
	if *name != "" {
		opt.ModelName = *name
	}
	res, err := eval.Run(ctx, m, tok, opt)
	if err != nil {
		return err
	}
	if err := eval.WriteReport(*output, res); err != nil {
		return err
	}
	fmt.Fprint(env.Stdout, eval.Markdown(res))
	return nil
}

func maxInt(xs []int) int {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
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
		if err != nil || n <= 0 || n > 1<<24/mult {
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
