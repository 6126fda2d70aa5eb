package eval

import (
	"fmt"
	"math"
	"sort"
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
}

// ScorePartial scores p's gold answer and distractors as continuations
// of the prompt, and the gold answer after the ablated prompt. p must
// carry distractors (a single-answer needle task). Each candidate costs
// one scoring pass over the prompt.
func ScorePartial(s Scorer, tok Tokenizer, p *Prompt) (*Partial, error) {
	if len(p.Answers) != 1 || len(p.Distractors) == 0 || p.Ablated == nil {
		return nil, fmt.Errorf("eval: %s sample %d: ranking needs one answer, distractors and the ablated prompt", p.Task, p.Index)
	}
	gold := tok.Encode(" "+p.Answers[0], false)
	goldLL, err := continuationLL(s, p.Tokens, gold)
	if err != nil {
		return nil, fmt.Errorf("eval: %s sample %d: gold answer: %w", p.Task, p.Index, err)
	}
	lls := []float64{goldLL}
	for _, d := range p.Distractors {
		ll, err := continuationLL(s, p.Tokens, tok.Encode(" "+d, false))
		if err != nil {
			return nil, fmt.Errorf("eval: %s sample %d: distractor %s: %w", p.Task, p.Index, d, err)
		}
		lls = append(lls, ll)
	}
	ablated, err := continuationLL(s, p.Ablated, gold)
	if err != nil {
		return nil, fmt.Errorf("eval: %s sample %d: gold answer without the needle: %w", p.Task, p.Index, err)
	}
	rank, top1 := rankFirst(lls)
	return &Partial{GoldLL: goldLL, Candidates: len(lls), Rank: rank, Top1: top1, NeedleGain: goldLL - ablated}, nil
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

// continuationLL returns log p(cont | prompt), the sum over cont's tokens.
func continuationLL(s Scorer, prompt, cont []int32) (float64, error) {
	if len(prompt) == 0 || len(cont) == 0 {
		return 0, fmt.Errorf("empty prompt or continuation")
	}
	seq := append(append(make([]int32, 0, len(prompt)+len(cont)), prompt...), cont...)
	lp, err := s.LogProbs(seq, nil)
	if err != nil {
		return 0, err
	}
	if len(lp) != len(seq)-1 {
		return 0, fmt.Errorf("scorer returned %d log-probabilities for %d tokens", len(lp), len(seq))
	}
	var ll float64
	for _, v := range lp[len(prompt)-1:] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("log-probability %v", v)
		}
		ll += float64(v)
	}
	return ll, nil
}

// PartialCell is the mean likelihood view over the ranked samples of a
// task × length × depth (Depth nil: over depths).
type PartialCell struct {
	Task   string   `json:"task"`
	Length int      `json:"length"`
	Depth  *float64 `json:"depth,omitempty"`
	N      int      `json:"n"`
	// Top1 is the top-1 rate, Chance its guessing level (1/candidates).
	Top1   float64 `json:"top1"`
	Chance float64 `json:"chance"`
	// GoldLL and NeedleGain are means, nats.
	GoldLL     float64 `json:"gold_ll"`
	NeedleGain float64 `json:"needle_gain"`
}

// aggregatePartial returns the partial cells of items: per task × length
// × depth, and per task × length (Depth nil), in task order, then length,
// then depth (nil last).
func aggregatePartial(items []SampleResult, tasks []string) []PartialCell {
	type key struct {
		task   string
		length int
		depth  float64 // 2: over depths
	}
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
			c.GoldLL += it.Partial.GoldLL
			c.NeedleGain += it.Partial.NeedleGain
		}
	}
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
	out := make([]PartialCell, 0, len(keys))
	for _, k := range keys {
		c := *acc[k]
		n := float64(c.N)
		c.Top1, c.Chance, c.GoldLL, c.NeedleGain = c.Top1/n, c.Chance/n, c.GoldLL/n, c.NeedleGain/n
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
