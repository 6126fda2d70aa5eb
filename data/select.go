package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Selector splits a document's tokens into sentences and keeps some of
// them: every sentence holding an impactful token is kept; every other
// sentence is dropped independently with probability DropProb.
//
// A sentence ends after a token of Ends (see SentenceEnds); the tokens after
// the last end form a final sentence. With Ends nil the whole document is
// one sentence.
type Selector struct {
	Ends      *TokenSet
	Impactful *TokenSet
	DropProb  float64
}

// Active reports whether the selector can drop anything.
func (s *Selector) Active() bool { return s.DropProb > 0 }

// DropProbFromSelectRatio converts the reference code's select_ratio r to
// the drop probability p used here. The reference keeps a sentence without
// an impactful token when randint(1, 10) >= int(10·r), i.e. it drops it with
// probability p = (int(10·r) − 1)/10 (0 when int(10·r) <= 1): r = 0.6, the
// shipped value, gives p = 0.5; r is not the kept fraction. int(10·r) is
// computed in float64 exactly as Python does.
func DropProbFromSelectRatio(r float64) (float64, error) {
	if !(r >= 0 && r <= 1) {
		return 0, fmt.Errorf("select ratio %v outside [0, 1]", r)
	}
	k := math.Trunc(10 * r)
	if k <= 1 {
		return 0, nil
	}
	return (k - 1) / 10, nil
}

// Sentences returns the lengths of the sentences of ids.
func (s *Selector) Sentences(ids []int32) []int {
	var lens []int
	start := 0
	if s.Ends != nil {
		for i, t := range ids {
			if s.Ends.Has(t) {
				lens = append(lens, i+1-start)
				start = i + 1
			}
		}
	}
	if start < len(ids) {
		lens = append(lens, len(ids)-start)
	}
	return lens
}

// Select walks the sentences of ids in order, keeps them by the rule above
// and stops once limit tokens are kept (limit <= 0: no limit). It returns
// the kept tokens (at most limit; the last kept sentence may be cut) and
// the kept sentence lengths, which sum to len(kept). The random draws come
// from rng, one per sentence without an impactful token, when DropProb > 0.
func (s *Selector) Select(rng *rand.Rand, ids []int32, limit int) (kept []int32, sents []int) {
	if limit <= 0 {
		limit = len(ids)
	}
	if !s.Active() {
		n := min(limit, len(ids))
		return ids[:n], s.Sentences(ids[:n])
	}
	kept = make([]int32, 0, min(limit, len(ids)))
	start := 0
	for start < len(ids) && len(kept) < limit {
		end := start
		impactful := false
		for end < len(ids) {
			t := ids[end]
			end++
			if s.Impactful.Has(t) {
				impactful = true
			}
			if s.Ends.Has(t) {
				break
			}
		}
		if impactful || rng.Float64() >= s.DropProb {
			n := min(end-start, limit-len(kept))
			kept = append(kept, ids[start:start+n]...)
			sents = append(sents, n)
		}
		start = end
	}
	return kept, sents
}
