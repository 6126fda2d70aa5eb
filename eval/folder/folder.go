package folder

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// Options choose what Open cannot read from the folder.
type Options struct {
	// Tokenizer is a tokenizer.json ("": the folder's).
	Tokenizer string
	// Haystack is a haystack name or file (see OpenHaystack).
	Haystack string
	// PPLText is the perplexity text ("": see PPLDocuments).
	PPLText string
	// PPLWindow is the short-context perplexity window: > 0 that many
	// tokens, 0 the model's original window, < 0 none.
	PPLWindow int
	// Name labels the model in reports ("": the folder's name).
	Name string
	// Precision is the arithmetic of the model's matrix multiplies
	// (model.FP32, the zero value, or model.BF16).
	Precision model.Precision
}

// Session is an opened model folder, ready to evaluate.
type Session struct {
	Dir    string
	Model  *model.Model
	Tok    *tokenizer.Tokenizer
	Engine *eval.Engine
	opt    Options
}

// Open loads the model folder dir.
func Open(dir string, o Options) (*Session, error) {
	if o.Tokenizer == "" {
		o.Tokenizer = filepath.Join(dir, "tokenizer.json")
	}
	tok, err := tokenizer.Load(o.Tokenizer)
	if err != nil {
		return nil, err
	}
	m, err := model.LoadPrecision(dir, o.Precision)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = filepath.Base(filepath.Clean(dir))
	}
	e := &eval.Engine{Model: m, Tok: tok, Stops: Stops(tok, m.Cfg), Fork: func(threads int) eval.TokenModel { return m.Fork(threads) }}
	return &Session{Dir: dir, Model: m, Tok: tok, Engine: e, opt: o}, nil
}

// Stops returns the end-of-sequence ids of a model: the tokenizer's EOS
// and config.json's eos_token_id (one or a list), without repeats.
func Stops(tok *tokenizer.Tokenizer, cfg *hf.Config) []int32 {
	var ids []int32
	add := func(id int32) {
		if id >= 0 && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if id, ok := tok.EOS(); ok {
		add(id)
	}
	for _, id := range cfg.EOSTokenIDs {
		add(int32(id))
	}
	add(int32(cfg.EOSTokenID))
	return ids
}

// OriginalWindow is the context window the model was pretrained at.
func OriginalWindow(cfg *hf.Config) int {
	if rs := cfg.RopeScaling; rs != nil && rs.OriginalMaxPositionEmbeddings > 0 {
		return rs.OriginalMaxPositionEmbeddings
	}
	return cfg.MaxPositionEmbeddings
}

// Options completes o with what the session decides: the haystack and
// perplexity settings, the prompts answered at once (AutoParallel), the
// model and tokenizer names (each where o leaves it unset).
func (s *Session) Options(o eval.Options) (eval.Options, error) {
	var err error
	if o.Haystack == nil {
		if o.Haystack, err = OpenHaystack(s.opt.Haystack); err != nil {
			return o, err
		}
	}
	if slices.Contains(o.Tasks, eval.PerplexityTask) && o.PPLDocs == nil {
		if o.PPLDocs, o.PPLSource, err = PPLDocuments(s.opt.PPLText, s.opt.Haystack); err != nil {
			return o, err
		}
	}
	if o.PPLWindow == 0 && len(o.Lengths) > 0 {
		switch w := s.opt.PPLWindow; {
		case w > 0:
			o.PPLWindow = w
		case w == 0:
			o.PPLWindow = min(OriginalWindow(s.Model.Cfg), slices.Max(o.Lengths))
		}
	}
	if o.Parallel == 0 && len(o.Lengths) > 0 {
		o.Parallel = AutoParallel(s.Model, slices.Max(o.Lengths))
	}
	if o.ModelName == "" {
		o.ModelName = s.opt.Name
	}
	if o.TokenizerName == "" {
		o.TokenizerName = s.opt.Tokenizer
	}
	return o, nil
}

// Run evaluates the model: eval.Run with the session's engine and
// tokenizer and o completed by Options.
func (s *Session) Run(ctx context.Context, o eval.Options) (*eval.Results, error) {
	o, err := s.Options(o)
	if err != nil {
		return nil, err
	}
	// A long prompt's pass stops within a layer of ctx's end.
	s.Model.SetStop(func() bool { return ctx.Err() != nil })
	defer s.Model.SetStop(nil)
	return eval.Run(ctx, s.Engine, s.Tok, o)
}

// SmallModel is the size (parameters) up to which AutoParallel answers
// several prompts at once.
const SmallModel = 50_000_000

// ForkBudget bounds the memory AutoParallel gives the copies' passes.
const ForkBudget = 4 << 30

// AutoParallel is how many prompts of up to tokens tokens the evaluation
// answers at once when not told: for a small model (≤ SmallModel
// parameters), one per thread (GOMAXPROCS), each on its own copy of the
// model with one thread — its passes are too small to keep several cores
// busy (measured on the shipped base's shape, 2 cores: 1.6–1.8× the
// prompts/s of one at a time, BenchmarkRunParallel) — as many as fit
// ForkBudget (model.InferBytes each); for a larger model, one at a time
// on every thread, which costs no extra memory.
func AutoParallel(m *model.Model, tokens int) int {
	if m.NumParams() > SmallModel {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), int(ForkBudget/max(1, m.InferBytes(tokens)))))
}

// Evaluate opens the model folder dir (Open), runs the evaluation o on it
// and writes its report into out (eval.WriteReport): the evaluation step
// of the recipe and the experiment.
func Evaluate(ctx context.Context, dir string, fo Options, o eval.Options, out string) (*eval.Results, error) {
	s, err := Open(dir, fo)
	if err != nil {
		return nil, err
	}
	res, err := s.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := eval.WriteReport(out, res); err != nil {
		return nil, err
	}
	return res, nil
}
