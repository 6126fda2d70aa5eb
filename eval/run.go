package eval

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/longrecipe/longrecipe/internal/progress"
)

// Options configure a run.
type Options struct {
	// Tasks to run: names from SyntheticTasks, and PerplexityTask.
	Tasks []string
	// Lengths are the prompt lengths in tokens.
	Lengths []int
	// Depths (in [0, 1]) for the tasks that place a needle.
	Depths []float64
	// Samples per task × length × depth (and perplexity sequences).
	Samples int
	Seed    uint64
	// Haystack is the needle tasks' filler (nil: noise).
	Haystack *Haystack
	// Wording is the prompts' fixed text (nil: HeldOutWording).
	Wording *Wording
	// MaxNew overrides the tasks' generation budgets when > 0.
	MaxNew int
	// PPLDocs is the text perplexity is measured on (PPLSource names
	// it); long sequences have the largest of Lengths, short windows
	// PPLWindow tokens (0: none).
	PPLDocs   []string
	PPLSource string
	PPLWindow int
	// PPLSequences caps the long sequences (0: every document of PPLDocs
	// long enough), PPLShortTokens the short-context tokens (0:
	// ShortPPLTokens); lower them only for smoke tests.
	PPLSequences, PPLShortTokens int
	// NoPartial skips the likelihood view (Partial): it costs
	// NumDistractors + 2 scoring passes per single-answer needle prompt.
	NoPartial bool
	// Parallel is how many prompts (and perplexity sequences) are
	// answered at once (default 1): on an Engine with Fork, each on its
	// own copy of the model; for a server, as concurrent requests, which
	// helps servers that batch them (vLLM, llama.cpp). Results do not
	// depend on it.
	Parallel int
	// Progress receives a progress bar (nil: none).
	Progress io.Writer
	// Describe what was evaluated, for the reports.
	ModelName, TokenizerName string
}

// SampleResult is one scored test case.
type SampleResult struct {
	Task         string   `json:"task"`
	Length       int      `json:"length"`
	Depth        *float64 `json:"depth,omitempty"`
	Index        int      `json:"index"`
	PromptTokens int      `json:"prompt_tokens"`
	Expected     []string `json:"expected"`
	Output       string   `json:"output"`
	Score        float64  `json:"score"`
	Seconds      float64  `json:"seconds"`
	// Partial is the likelihood view (rank among distractors, needle
	// gain) of single-answer needle tasks on a model that scores.
	Partial *Partial `json:"partial,omitempty"`
	// Prompt and Candidates (gold first) are the texts, kept for
	// items.jsonl rather than results.json.
	Prompt     string   `json:"-"`
	Candidates []string `json:"-"`
}

// Cell is a mean score over samples: task × length × depth, or task ×
// length (Depth nil) in summaries.
type Cell struct {
	Task   string   `json:"task"`
	Length int      `json:"length"`
	Depth  *float64 `json:"depth,omitempty"`
	N      int      `json:"n"`
	Score  float64  `json:"score"`
}

// Results is everything a run measured; it is what results.json holds.
type Results struct {
	Model     string    `json:"model"`
	Tokenizer string    `json:"tokenizer"`
	Haystack  string    `json:"haystack"`
	Wording   string    `json:"wording"`
	Seed      uint64    `json:"seed"`
	Samples   int       `json:"samples_per_cell"`
	Tasks     []string  `json:"tasks"`
	Lengths   []int     `json:"lengths"`
	Depths    []float64 `json:"depths"`
	// Items holds every sample.
	Items   []SampleResult `json:"items"`
	Cells   []Cell         `json:"cells"`
	Summary []Cell         `json:"summary"`
	// Partial aggregates the samples' Partial (rank.go).
	Partial []PartialCell `json:"partial,omitempty"`
	PPL     *PPLResult    `json:"ppl,omitempty"`
	// ItemsCopy is the copy baseline computed from the items.jsonl beside
	// results.json (LoadResults); reports prefer it to Partial's.
	ItemsCopy []CopyCell `json:"-"`
}

// check validates options.
func (o *Options) check() error {
	if len(o.Tasks) == 0 {
		return fmt.Errorf("eval: no tasks")
	}
	seen := map[string]bool{}
	for _, t := range o.Tasks {
		if t != PerplexityTask && !slices.Contains(SyntheticTasks, t) {
			return fmt.Errorf("eval: unknown task %q", t)
		}
		if seen[t] {
			return fmt.Errorf("eval: task %q listed twice", t)
		}
		seen[t] = true
	}
	if len(o.Lengths) == 0 {
		return fmt.Errorf("eval: no lengths")
	}
	for _, l := range o.Lengths {
		if l < 16 {
			return fmt.Errorf("eval: length %d too small", l)
		}
	}
	for _, d := range o.Depths {
		if !(d >= 0 && d <= 1) {
			return fmt.Errorf("eval: depth %v outside [0, 1]", d)
		}
	}
	if o.Samples < 1 {
		return fmt.Errorf("eval: samples %d must be at least 1", o.Samples)
	}
	if o.PPLSequences < 0 || o.PPLShortTokens < 0 {
		return fmt.Errorf("eval: ppl sequences %d and short tokens %d must be >= 0", o.PPLSequences, o.PPLShortTokens)
	}
	for _, t := range o.Tasks {
		if UsesDepth(t) && len(o.Depths) == 0 {
			return fmt.Errorf("eval: task %s needs depths", t)
		}
	}
	return nil
}

// Run generates, answers and scores every test case, then measures
// perplexity when asked (m must then be a Scorer).
func Run(ctx context.Context, m Model, tok Tokenizer, opt Options) (*Results, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	hay := opt.Haystack
	if hay == nil {
		hay = NoiseHaystack()
	}
	res := &Results{
		Model: opt.ModelName, Tokenizer: opt.TokenizerName, Haystack: hay.Name, Wording: HeldOutWording.Name, Seed: opt.Seed,
		Samples: opt.Samples, Tasks: opt.Tasks, Lengths: opt.Lengths, Depths: opt.Depths,
	}
	if opt.Wording != nil {
		res.Wording = opt.Wording.Name
	}
	gen := &Generator{Tok: tok, Haystack: hay, Seed: opt.Seed, Wording: opt.Wording}
	jobs, doPPL := planJobs(opt)
	if err := checkRun(m, gen, opt, doPPL); err != nil {
		return nil, err
	}
	var bar *progress.Bar
	if opt.Progress != nil && len(jobs) > 0 {
		bar = progress.New(opt.Progress, "eval", int64(len(jobs)), "samples")
	}
	workers := workerModels(m, max(1, opt.Parallel))
	items, err := answer(ctx, workers, gen, jobs, opt, bar)
	if err != nil {
		return nil, err
	}
	res.Items = items
	if bar != nil {
		bar.Finish()
	}
	res.Aggregate()
	if doPPL {
		if res.PPL, err = runPPL(ctx, workers, tok, opt); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// planJobs returns the samples to answer (task, length, depth, sample),
// and whether perplexity is one of the tasks.
func planJobs(opt Options) (jobs []job, doPPL bool) {
	for _, t := range opt.Tasks {
		if t == PerplexityTask {
			doPPL = true
			continue
		}
		depths := []float64{math.NaN()}
		if UsesDepth(t) {
			depths = opt.Depths
		}
		for _, l := range opt.Lengths {
			for _, d := range depths {
				for i := 0; i < opt.Samples; i++ {
					jobs = append(jobs, job{t, l, d, i})
				}
			}
		}
	}
	return jobs, doPPL
}

// checkRun fails fast, before any model time is spent: perplexity needs
// a scoring model and text, and every task must fit every length
// (templates and solved examples take room).
func checkRun(m Model, gen *Generator, opt Options, doPPL bool) error {
	if doPPL {
		if _, ok := m.(Scorer); !ok {
			return fmt.Errorf("eval: task ppl needs log-probabilities, which this model (an endpoint?) does not give")
		}
		if len(opt.PPLDocs) == 0 {
			return fmt.Errorf("eval: task ppl needs text (PPLDocs)")
		}
	}
	// Fail fast: every task must fit every length (templates and solved
	// examples take room) before any model time is spent.
	for _, t := range opt.Tasks {
		if t == PerplexityTask {
			continue
		}
		for _, l := range opt.Lengths {
			if _, err := gen.Generate(t, l, 0.5, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// runPPL measures perplexity by position at the largest length over the
// workers that score.
func runPPL(ctx context.Context, workers []Model, tok Tokenizer, opt Options) (*PPLResult, error) {
	length := slices.Max(opt.Lengths)
	var tick func(done, total int)
	if opt.Progress != nil {
		var pb *progress.Bar
		tick = func(done, total int) {
			if pb == nil {
				pb = progress.New(opt.Progress, "ppl", int64(total), "sequences")
			}
			pb.Add(1)
			if done == total {
				pb.Finish()
			}
		}
	}
	var scorers []Scorer
	for _, w := range workers {
		if s, ok := w.(Scorer); ok {
			scorers = append(scorers, s)
		}
	}
	return Perplexity(ctx, scorers, tok, opt.PPLSource, opt.PPLDocs, length, opt.PPLSequences, opt.PPLWindow, opt.PPLShortTokens, tick)
}

// job is one test case to generate and answer.
type job struct {
	task   string
	length int
	depth  float64 // NaN: no depth
	index  int
}

// completeSample has m answer p and, when partial is set and m scores,
// scores the likelihood view of a prompt with distractors (the engine
// runs the prompt once for both).
func completeSample(ctx context.Context, m Model, tok Tokenizer, p *Prompt, partial bool) (string, *Partial, error) {
	s, ok := m.(Scorer)
	if !ok || !partial || p.Distractors == nil {
		out, err := m.Complete(ctx, p)
		return out, nil, err
	}
	if e, ok := m.(*Engine); ok {
		if gs, ok := e.Model.(generateScorer); ok {
			return e.completePartial(ctx, gs, tok, p)
		}
	}
	out, err := m.Complete(ctx, p)
	if err != nil {
		return "", nil, err
	}
	part, err := ScorePartial(s, tok, p)
	return out, part, err
}

// answer generates the prompts of jobs in order (the generator is not
// safe for concurrent use) and has the workers' models answer them, one
// prompt each at a time. The first error cancels the rest.
func answer(ctx context.Context, workers []Model, gen *Generator, jobs []job, opt Options, bar *progress.Bar) ([]SampleResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type task struct {
		i int
		p *Prompt
	}
	todo := make(chan task, len(workers))
	items := make([]SampleResult, len(jobs))
	var wg sync.WaitGroup
	for _, m := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range todo {
				j := jobs[t.i]
				t0 := time.Now()
				out, part, err := completeSample(ctx, m, gen.Tok, t.p, !opt.NoPartial)
				if err != nil {
					cancel(fmt.Errorf("eval: %s length %d sample %d: %w", j.task, j.length, j.index, err))
					continue
				}
				r := SampleResult{
					Task: j.task, Length: j.length, Index: j.index, PromptTokens: len(t.p.Tokens),
					Expected: t.p.Answers, Output: out, Score: Score(out, t.p.Answers), Seconds: time.Since(t0).Seconds(),
					Partial: part, Prompt: t.p.Text,
				}
				if part != nil {
					r.Candidates = t.p.CandidateTexts()
				}
				if !math.IsNaN(j.depth) {
					d := j.depth
					r.Depth = &d
				}
				items[t.i] = r
				if bar != nil {
					bar.Add(1)
				}
			}
		}()
	}
	var genErr error
	for i, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		p, err := gen.Generate(j.task, j.length, j.depth, j.index)
		if err != nil {
			genErr = err
			break
		}
		if opt.MaxNew > 0 {
			p.MaxNew = opt.MaxNew
		}
		select {
		case todo <- task{i, p}:
		case <-ctx.Done():
		}
	}
	close(todo)
	wg.Wait()
	if genErr != nil {
		return nil, genErr
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return items, nil
}

// Aggregate recomputes Cells and Summary from Items.
func (r *Results) Aggregate() {
	type key = cellKey // depth -1: over depths
	sum := map[key]float64{}
	cnt := map[key]int{}
	for _, it := range r.Items {
		d := -1.0
		if it.Depth != nil {
			d = *it.Depth
		}
		for _, k := range []key{{it.Task, it.Length, d}, {it.Task, it.Length, -2}} {
			sum[k] += it.Score
			cnt[k]++
		}
	}
	keys := make([]key, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	sortCellKeys(keys, r.Tasks)
	r.Cells, r.Summary = nil, nil
	r.Partial = aggregatePartial(r.Items, r.Tasks)
	for _, k := range keys {
		c := Cell{Task: k.task, Length: k.length, N: cnt[k], Score: sum[k] / float64(cnt[k])}
		switch {
		case k.depth == -2:
			r.Summary = append(r.Summary, c)
		default:
			if k.depth >= 0 {
				d := k.depth
				c.Depth = &d
			}
			r.Cells = append(r.Cells, c)
		}
	}
}

// Mean returns the mean summary score of task at length (ok false when
// not measured).
func (r *Results) Mean(task string, length int) (score float64, ok bool) {
	for _, c := range r.Summary {
		if c.Task == task && c.Length == length {
			return c.Score, true
		}
	}
	return 0, false
}
