package eval

import (
	"context"
	"fmt"
	"runtime"
	"slices"
)

// Model answers prompts with greedy continuations: the engine (Engine) or
// a served model (Endpoint).
type Model interface {
	// Complete returns the continuation of p, at most p.MaxNew tokens.
	Complete(ctx context.Context, p *Prompt) (string, error)
}

// Scorer gives next-token log-probabilities, for perplexity.
// LogProbs(tokens, positions) returns len(tokens)−1 values, entry t being
// log p(tokens[t+1] | tokens[..t]); positions nil means 0..len−1.
type Scorer interface {
	LogProbs(tokens, positions []int32) ([]float32, error)
}

// TokenModel is the engine's interface (*model.Model satisfies it).
type TokenModel interface {
	Generate(prompt []int32, maxNew int, stop func(id int32) bool) ([]int32, error)
	LogProbs(tokens, positions []int32) ([]float32, error)
}

// Engine runs the suite on the project's own model: batched prefill, KV
// cache, greedy decoding, stopping at an end-of-sequence token.
type Engine struct {
	Model TokenModel
	Tok   Tokenizer
	// Stops are the end-of-sequence ids (the tokenizer's and config.json's).
	Stops []int32
	// Fork, when set, returns a copy of Model for use at the same time as
	// it, running its passes on threads goroutines: Run then answers
	// Options.Parallel prompts at once, each on its own copy (nil: one
	// at a time).
	Fork func(threads int) TokenModel
}

// workerModels returns the models the workers of answer use: m itself
// for each, or, for an engine that forks, a copy each, the machine's
// threads shared among them.
func workerModels(m Model, workers int) []Model {
	out := make([]Model, workers)
	for w := range out {
		out[w] = m
	}
	e, ok := m.(*Engine)
	if !ok || e.Fork == nil || workers == 1 {
		return out
	}
	threads := max(1, runtime.GOMAXPROCS(0)/workers)
	for w := range out {
		c := *e
		c.Model = e.Fork(threads)
		out[w] = &c
	}
	return out
}

// Complete generates from p.Tokens and decodes the new tokens, skipping
// special tokens. Cancelling ctx ends the generation early with ctx's
// error.
func (e *Engine) Complete(ctx context.Context, p *Prompt) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	stop := func(id int32) bool { return slices.Contains(e.Stops, id) || ctx.Err() != nil }
	ids, err := e.Model.Generate(p.Tokens, p.MaxNew, stop)
	if err != nil {
		return "", fmt.Errorf("eval: generate %s sample %d (%d tokens): %w", p.Task, p.Index, len(p.Tokens), err)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return e.Tok.Decode(ids, true), nil
}

// generateScorer generates from a prompt and scores continuations of it
// with the prompt run once, then continuations of a second prompt with
// the prefix the two share run once (*model.Model does).
type generateScorer interface {
	GenerateAndScoreBranch(prompt []int32, maxNew int, stop func(id int32) bool, conts [][]int32, branch []int32, bconts [][]int32) ([]int32, [][]float32, [][]float32, error)
}

// completePartial answers p as Complete does and scores its likelihood
// view as ScorePartial does, with the same results, running the prompt
// once for both through gs (e's model), and the ablated prompt only from
// where it departs from the prompt (the needle).
func (e *Engine) completePartial(ctx context.Context, gs generateScorer, tok Tokenizer, p *Prompt) (string, *Partial, error) {
	cands, err := partialCandidates(tok, p)
	if err != nil {
		return "", nil, err
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	stop := func(id int32) bool { return slices.Contains(e.Stops, id) || ctx.Err() != nil }
	ids, lps, ablated, err := gs.GenerateAndScoreBranch(p.Tokens, p.MaxNew, stop, cands, p.Ablated, cands[:1])
	if err != nil {
		return "", nil, fmt.Errorf("eval: generate %s sample %d (%d tokens): %w", p.Task, p.Index, len(p.Tokens), err)
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	part, err := rankPartial(p, cands, lps, ablated)
	return e.Tok.Decode(ids, true), part, err
}

// LogProbs delegates to the model.
func (e *Engine) LogProbs(tokens, positions []int32) ([]float32, error) {
	return e.Model.LogProbs(tokens, positions)
}
