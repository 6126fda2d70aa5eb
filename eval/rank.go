package eval

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Partial is the likelihood view of one retrieval prompt, which sees
// skill that greedy exact match misses: how likely the model finds the
// gold answer, how it ranks among answers of the same form, and how much
// the needle raises it.
type Partial struct {
	// GoldLL is log p(" " + answer | prompt), nats, summed over the
	// answer's tokens.
	GoldLL float64 `json:"gold_ll"`
	// Candidates is the number of answers ranked (the gold one and its
	// distractors); Rank is the gold answer's place among them by
	// log-likelihood (1 = most likely; ties share the better place).
	Candidates int `json:"candidates"`
	Rank       int `json:"rank"`
	// Top1 is 1 when the gold answer is strictly the most likely, 1/k
	// when it ties with k−1 others at the top, else 0: its mean is the
	// top-1 rate, whose chance level is 1/Candidates.
	Top1 float64 `json:"top1"`
	// NeedleGain is GoldLL minus the gold answer's log-likelihood after
	// the same prompt without the needle that holds it (Prompt.Ablated):
	// positive when the model uses the needle.
	NeedleGain float64 `json:"needle_gain"`
	// Scores are the candidates' log-likelihoods, gold first, then
	// Prompt.Distractors in order.
	Scores []float64 `json:"scores"`
	// Copy is the copy baseline's top-1 credit on this prompt (CopyTop1).
	Copy float64 `json:"copy"`
}

// ContinuationScorer scores several continuations of one prompt at once:
// entry j of result i is log p(conts[i][j] | prompt, conts[i][:j]). A
// model with a key/value cache runs the prompt once (*model.Model does).
type ContinuationScorer interface {
	ContinuationLogProbs(prompt []int32, conts [][]int32) ([][]float32, error)
}

// ContinuationLogProbs runs the engine's model's cached scoring when it
// has one, else one LogProbs pass per continuation.
func (e *Engine) ContinuationLogProbs(prompt []int32, conts [][]int32) ([][]float32, error) {
	if cs, ok := e.Model.(ContinuationScorer); ok {
		return cs.ContinuationLogProbs(prompt, conts)
	}
	return continuationsByPass(e.Model, prompt, conts)
}

// ScorePartial scores p's gold answer and distractors as continuations
// of the prompt, and the gold answer after the ablated prompt. p must
// carry distractors (a single-answer needle task). A ContinuationScorer
// runs each prompt once; any other Scorer costs one pass over the prompt
// per candidate.
func ScorePartial(s Scorer, tok Tokenizer, p *Prompt) (*Partial, error) {
	cands, err := partialCandidates(tok, p)
	if err != nil {
		return nil, err
	}
	lps, err := scoreContinuations(s, p.Tokens, cands)
	if err != nil {
		return nil, fmt.Errorf("eval: %s sample %d: answers: %w", p.Task, p.Index, err)
	}
	return finishPartial(s, p, cands, lps)
}

// partialCandidates returns the token ids of p's gold answer (first) and
// distractors, each after a space unless the prompt ends with one.
func partialCandidates(tok Tokenizer, p *Prompt) ([][]int32, error) {
	if p.Gold == "" || len(p.Distractors) == 0 || p.Ablated == nil {
		return nil, fmt.Errorf("eval: %s sample %d: ranking needs a gold answer, distractors and the ablated prompt", p.Task, p.Index)
	}
	sep := " "
	if strings.HasSuffix(p.Text, " ") {
		sep = ""
	}
	var cands [][]int32
	for _, c := range p.CandidateTexts() {
		cands = append(cands, tok.Encode(sep+c, false))
	}
	return cands, nil
}

// CandidateTexts returns the ranked answers: Gold, then Distractors.
func (p *Prompt) CandidateTexts() []string {
	return append([]string{p.Gold}, p.Distractors...)
}

// scoreContinuations scores conts after prompt, with the prompt run once
// where s is a ContinuationScorer.
func scoreContinuations(s Scorer, prompt []int32, conts [][]int32) ([][]float32, error) {
	if cs, ok := s.(ContinuationScorer); ok {
		return cs.ContinuationLogProbs(prompt, conts)
	}
	return continuationsByPass(s, prompt, conts)
}

// finishPartial ranks the candidates by their log-probabilities lps
// (gold first) and scores the gold answer after the ablated prompt.
func finishPartial(s Scorer, p *Prompt, cands [][]int32, lps [][]float32) (*Partial, error) {
	ablated, err := scoreContinuations(s, p.Ablated, cands[:1])
	if err != nil {
		return nil, fmt.Errorf("eval: %s sample %d: gold answer without the needle: %w", p.Task, p.Index, err)
	}
	return rankPartial(p, cands, lps, ablated)
}

// rankPartial ranks the candidates by their log-probabilities lps (gold
// first) and compares the gold answer's with ablated, its log-
// probabilities after the prompt without the needle.
func rankPartial(p *Prompt, cands [][]int32, lps, ablated [][]float32) (*Partial, error) {
	lls, err := sums(lps, cands)
	if err != nil {
		return nil, fmt.Errorf("eval: %s sample %d: answers: %w", p.Task, p.Index, err)
	}
	gold, err := sums(ablated, cands[:1])
	if err != nil {
		return nil, fmt.Errorf("eval: %s sample %d: gold answer without the needle: %w", p.Task, p.Index, err)
	}
	rank, top1 := rankFirst(lls)
	return &Partial{GoldLL: lls[0], Candidates: len(lls), Rank: rank, Top1: top1, NeedleGain: lls[0] - gold[0],
		Scores: lls, Copy: CopyTop1(p.Text, p.CandidateTexts(), 0)}, nil
}

// sums returns the summed log-probability of each continuation, checking
// counts and values.
func sums(lps [][]float32, conts [][]int32) ([]float64, error) {
	if len(lps) != len(conts) {
		return nil, fmt.Errorf("scorer returned %d continuations for %d", len(lps), len(conts))
	}
	out := make([]float64, len(lps))
	for i, lp := range lps {
		if len(lp) != len(conts[i]) {
			return nil, fmt.Errorf("scorer returned %d log-probabilities for a continuation of %d tokens", len(lp), len(conts[i]))
		}
		for _, v := range lp {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("log-probability %v", v)
			}
			out[i] += float64(v)
		}
	}
	return out, nil
}

// continuationsByPass scores each continuation with one LogProbs pass
// over prompt + continuation.
func continuationsByPass(s Scorer, prompt []int32, conts [][]int32) ([][]float32, error) {
	out := make([][]float32, len(conts))
	for i, c := range conts {
		if len(prompt) == 0 || len(c) == 0 {
			return nil, fmt.Errorf("empty prompt or continuation")
		}
		seq := append(append(make([]int32, 0, len(prompt)+len(c)), prompt...), c...)
		lp, err := s.LogProbs(seq, nil)
		if err != nil {
			return nil, err
		}
		if len(lp) != len(seq)-1 {
			return nil, fmt.Errorf("scorer returned %d log-probabilities for %d tokens", len(lp), len(seq))
		}
		out[i] = lp[len(prompt)-1:]
	}
	return out, nil
}

// rankFirst returns the place of lls[0] among lls (1 + the number of
// larger values) and its top-1 credit (1/k when k values tie at the top
// with it, 0 when any value is larger).
func rankFirst(lls []float64) (rank int, top1 float64) {
	rank, ties := 1, 1
	for _, v := range lls[1:] {
		switch {
		case v > lls[0]:
			rank++
		case v == lls[0]:
			ties++
		}
	}
	if rank == 1 {
		top1 = 1 / float64(ties)
	}
	return rank, top1
}

// PartialCell is the mean likelihood view over the ranked samples of a
// task × length × depth (Depth nil: over depths).
type PartialCell struct {
	Task   string   `json:"task"`
	Length int      `json:"length"`
	Depth  *float64 `json:"depth,omitempty"`
	N      int      `json:"n"`
	// Top1 is the top-1 rate, Chance its guessing level (1/candidates),
	// Copy the copy baseline's (CopyTop1; the rate of a rule that picks
	// a candidate found in the prompt).
	Top1   float64 `json:"top1"`
	Chance float64 `json:"chance"`
	Copy   float64 `json:"copy"`
	// GoldLL and NeedleGain are means, nats.
	GoldLL     float64 `json:"gold_ll"`
	NeedleGain float64 `json:"needle_gain"`
}

// cellKey names a cell of a results table: task, length and depth (each
// table picks its own out-of-range depth for "over all depths").
type cellKey struct {
	task   string
	length int
	depth  float64
}

// sortCellKeys orders keys by the position of their task in tasks, then
// by length, then by depth.
func sortCellKeys(keys []cellKey, tasks []string) {
	order := map[string]int{}
	for i, t := range tasks {
		order[t] = i
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.task != b.task {
			return order[a.task] < order[b.task]
		}
		if a.length != b.length {
			return a.length < b.length
		}
		return a.depth < b.depth
	})
}

// aggregatePartial returns the partial cells of items: per task × length
// × depth, and per task × length (Depth nil), in task order, then length,
// then depth (nil last).
func aggregatePartial(items []SampleResult, tasks []string) []PartialCell {
	type key = cellKey // depth 2: over depths
	acc := map[key]*PartialCell{}
	var keys []key
	for _, it := range items {
		if it.Partial == nil {
			continue
		}
		ks := []key{{it.Task, it.Length, 2}}
		if it.Depth != nil {
			ks = append(ks, key{it.Task, it.Length, *it.Depth})
		}
		for _, k := range ks {
			c := acc[k]
			if c == nil {
				c = &PartialCell{Task: k.task, Length: k.length}
				if k.depth <= 1 {
					d := k.depth
					c.Depth = &d
				}
				acc[k] = c
				keys = append(keys, k)
			}
			c.N++
			c.Top1 += it.Partial.Top1
			c.Chance += 1 / float64(it.Partial.Candidates)
			c.Copy += it.Partial.Copy
			c.GoldLL += it.Partial.GoldLL
			c.NeedleGain += it.Partial.NeedleGain
		}
	}
	sortCellKeys(keys, tasks)
	out := make([]PartialCell, 0, len(keys))
	for _, k := range keys {
		c := *acc[k]
		n := float64(c.N)
		c.Top1, c.Chance, c.Copy, c.GoldLL, c.NeedleGain = c.Top1/n, c.Chance/n, c.Copy/n, c.GoldLL/n, c.NeedleGain/n
		out = append(out, c)
	}
	return out
}

// PartialMean returns the partial cell of task at length over depths (ok
// false when none was ranked).
func (r *Results) PartialMean(task string, length int) (PartialCell, bool) {
	for _, c := range r.Partial {
		if c.Task == task && c.Length == length && c.Depth == nil {
			return c, true
		}
	}
	return PartialCell{}, false
}
