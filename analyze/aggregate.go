package analyze

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Options configure Aggregate.
type Options struct {
	// Buckets are the lower bounds of the position buckets, strictly
	// increasing from 0; the last bucket is open-ended.
	Buckets []int
	// Top is the fraction of tokens per bucket kept as the top set (0.2).
	Top float64
	// Score ranks tokens: "prob" (Δ of the gold token's probability, what
	// the reference code records; default) or "logprob".
	Score string
	// MinCount and MinRatio define the impactful ids: an id is impactful
	// when it occurs at least MinCount times (default 5), lands in the top
	// set at least MinRatio times as often as chance, i.e. its top count /
	// count ≥ MinRatio·Top (default 2), and its mean Δ (of the ranking
	// score) is positive: the extended model gains on it on average.
	MinCount int
	MinRatio float64
	// TopIDs is how many ids the report lists with their statistics (50).
	TopIDs int
}

func (o *Options) fill() error {
	if o.Top == 0 {
		o.Top = 0.2
	}
	if o.Score == "" {
		o.Score = "prob"
	}
	if o.MinCount == 0 {
		o.MinCount = 5
	}
	if o.MinRatio == 0 {
		o.MinRatio = 2
	}
	if o.TopIDs == 0 {
		o.TopIDs = 50
	}
	if !(o.Top > 0 && o.Top <= 1) {
		return fmt.Errorf("analyze: top fraction %g is outside (0, 1]", o.Top)
	}
	if o.Score != "prob" && o.Score != "logprob" {
		return fmt.Errorf("analyze: score %q is neither prob nor logprob", o.Score)
	}
	if o.MinCount < 1 || o.MinRatio <= 0 || o.TopIDs < 0 {
		return fmt.Errorf("analyze: min count %d, min ratio %g and top ids %d must be positive", o.MinCount, o.MinRatio, o.TopIDs)
	}
	if len(o.Buckets) == 0 || o.Buckets[0] != 0 {
		return fmt.Errorf("analyze: position buckets %v must start at 0", o.Buckets)
	}
	for i := 1; i < len(o.Buckets); i++ {
		if o.Buckets[i] <= o.Buckets[i-1] {
			return fmt.Errorf("analyze: position buckets %v are not strictly increasing", o.Buckets)
		}
	}
	return nil
}

// AutoBuckets returns log-spaced bucket bounds for documents of up to
// maxLen tokens: 0, maxLen/64, maxLen/32, ..., maxLen/2 (bounds below 16
// are dropped).
func AutoBuckets(maxLen int) []int {
	b := []int{0}
	for div := 64; div >= 2; div /= 2 {
		if v := maxLen / div; v >= 16 && v > b[len(b)-1] {
			b = append(b, v)
		}
	}
	return b
}

// ParseBuckets parses "0,1024,2048" (lower bounds) or "auto".
func ParseBuckets(s string, maxLen int) ([]int, error) {
	if s == "" || s == "auto" {
		return AutoBuckets(maxLen), nil
	}
	var b []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("analyze: bucket bound %q: %w", f, err)
		}
		b = append(b, v)
	}
	o := Options{Buckets: b}
	if err := o.fill(); err != nil {
		return nil, err
	}
	return b, nil
}

// KindStat compares a kind's share of the top set with its share of all
// tokens.
type KindStat struct {
	Kind     string  `json:"kind"`
	All      int     `json:"all"`
	Top      int     `json:"top"`
	AllShare float64 `json:"all_share"`
	TopShare float64 `json:"top_share"`
	// Ratio is TopShare / AllShare (over-representation; 0 when the kind
	// never occurs).
	Ratio float64 `json:"ratio"`
}

// Bucket is the analysis of one position range [Lo, Hi) (Hi −1: open).
type Bucket struct {
	Lo     int `json:"lo"`
	Hi     int `json:"hi"`
	Tokens int `json:"tokens"`
	TopN   int `json:"top_tokens"`
	// Threshold is the smallest Δ (of the ranking score) in the top set.
	Threshold        float64    `json:"threshold"`
	MeanDeltaProb    float64    `json:"mean_delta_prob"`
	MeanDeltaLogProb float64    `json:"mean_delta_logprob"`
	Kinds            []KindStat `json:"kinds"`
}

// Label is the bucket's range for charts, e.g. "1k-2k" or "4k+".
func (b *Bucket) Label() string {
	f := func(v int) string {
		if v >= 1000 && v%1000 == 0 {
			return strconv.Itoa(v/1000) + "k"
		}
		if v >= 1024 && v%1024 == 0 {
			return strconv.Itoa(v/1024) + "Ki"
		}
		return strconv.Itoa(v)
	}
	if b.Hi < 0 {
		return f(b.Lo) + "+"
	}
	return f(b.Lo) + "-" + f(b.Hi)
}

// IDStat is the record of one token id.
type IDStat struct {
	ID               int32   `json:"id"`
	Text             string  `json:"text"`
	Kind             string  `json:"kind"`
	Count            int     `json:"count"`
	TopCount         int     `json:"top_count"`
	TopRate          float64 `json:"top_rate"`
	MeanDeltaProb    float64 `json:"mean_delta_prob"`
	MeanDeltaLogProb float64 `json:"mean_delta_logprob"`
}

// Report is the result of Aggregate.
type Report struct {
	// Meta says how the analysis was run (models, data, mode); set by the
	// caller, written as is.
	Meta      map[string]string `json:"meta,omitempty"`
	Documents int               `json:"documents"`
	Tokens    int               `json:"tokens"`
	Top       float64           `json:"top_fraction"`
	Score     string            `json:"score"`
	Buckets   []Bucket          `json:"buckets"`
	// Overall pools the top sets of all buckets.
	Overall []KindStat `json:"overall"`
	// KindsByRatio lists the kinds that occur, most over-represented first.
	KindsByRatio []string `json:"kinds_by_ratio"`
	// IDs lists the ids with the largest top counts (Options.TopIDs).
	IDs []IDStat `json:"ids"`
	// Impactful are the impactful ids (ascending) and the rule that chose them.
	Impactful     []int32 `json:"impactful_ids"`
	ImpactfulRule string  `json:"impactful_rule"`
}

// Aggregate builds the report from classified tokens (see Classify).
func Aggregate(tokens []Token, c *Classifier, opts Options) (*Report, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("analyze: no tokens to aggregate (documents too short?)")
	}
	scores, err := tokenScores(tokens, opts.Score)
	if err != nil {
		return nil, err
	}
	r := &Report{Top: opts.Top, Score: opts.Score}
	inTop := r.addBuckets(tokens, scores, opts)
	all, kindVotes := idStats(tokens, inTop, c)
	for _, s := range all[:min(opts.TopIDs, len(all))] {
		r.IDs = append(r.IDs, *s)
	}
	r.pickImpactful(all, kindVotes, opts)
	return r, nil
}

// tokenScores returns the ranking score (Δp or Δlog p, by score) of
// every token, computed once; a token out of range or with a score that
// is not finite is an error.
func tokenScores(tokens []Token, score string) ([]float64, error) {
	scores := make([]float64, len(tokens))
	for i := range tokens {
		t := &tokens[i]
		if t.Pos < 0 || t.Kind >= numKinds {
			return nil, fmt.Errorf("analyze: token %d (document %d) has position %d and kind %d", i, t.Doc, t.Pos, t.Kind)
		}
		if score == "logprob" {
			scores[i] = t.DeltaLogProb()
		} else {
			scores[i] = t.DeltaProb()
		}
		if math.IsNaN(scores[i]) || math.IsInf(scores[i], 0) {
			return nil, fmt.Errorf("analyze: document %d position %d: log-probs %g and %g give Δ%s %g", t.Doc, t.Pos, t.Base, t.Ext, score, scores[i])
		}
	}
	return scores, nil
}

// addBuckets sets r's document and token counts, its per-bucket
// statistics, the overall kind statistics and the kinds by ratio, and
// returns which tokens are in their bucket's top share.
func (r *Report) addBuckets(tokens []Token, scores []float64, opts Options) []bool {
	docs := map[int32]bool{}
	// Bucket membership.
	byBucket := make([][]int, len(opts.Buckets))
	for i := range tokens {
		t := &tokens[i]
		docs[t.Doc] = true
		b := sort.SearchInts(opts.Buckets, int(t.Pos)+1) - 1
		byBucket[b] = append(byBucket[b], i)
	}
	r.Documents, r.Tokens = len(docs), len(tokens)
	inTop := make([]bool, len(tokens))
	var allK, topK [numKinds]int
	for b, idx := range byBucket {
		bk := Bucket{Lo: opts.Buckets[b], Hi: -1, Tokens: len(idx)}
		if b+1 < len(opts.Buckets) {
			bk.Hi = opts.Buckets[b+1]
		}
		var ak, tk [numKinds]int
		if len(idx) > 0 {
			// Highest score first; ties by document, then position.
			slices.SortFunc(idx, func(i, j int) int {
				si, sj := scores[i], scores[j]
				switch {
				case si > sj:
					return -1
				case si < sj:
					return 1
				case tokens[i].Doc != tokens[j].Doc:
					return int(tokens[i].Doc - tokens[j].Doc)
				}
				return int(tokens[i].Pos - tokens[j].Pos)
			})
			k := int(math.Ceil(opts.Top * float64(len(idx))))
			bk.TopN = k
			bk.Threshold = scores[idx[k-1]]
			for n, i := range idx {
				t := &tokens[i]
				ak[t.Kind]++
				bk.MeanDeltaProb += t.DeltaProb()
				bk.MeanDeltaLogProb += t.DeltaLogProb()
				if n < k {
					tk[t.Kind]++
					inTop[i] = true
				}
			}
			bk.MeanDeltaProb /= float64(len(idx))
			bk.MeanDeltaLogProb /= float64(len(idx))
		}
		bk.Kinds = kindStats(ak, tk)
		for k := range ak {
			allK[k] += ak[k]
			topK[k] += tk[k]
		}
		r.Buckets = append(r.Buckets, bk)
	}
	r.Overall = kindStats(allK, topK)
	ranked := slices.Clone(r.Overall)
	slices.SortStableFunc(ranked, func(a, b KindStat) int {
		switch {
		case a.Ratio > b.Ratio:
			return -1
		case a.Ratio < b.Ratio:
			return 1
		}
		return 0
	})
	for _, k := range ranked {
		if k.All > 0 {
			r.KindsByRatio = append(r.KindsByRatio, k.Kind)
		}
	}
	return inTop
}

// idStats returns the statistics of every token id, sorted by top
// count, then top rate, then id, and each id's votes per kind.
func idStats(tokens []Token, inTop []bool, c *Classifier) ([]*IDStat, map[int32]*[numKinds]int) {
	ids := map[int32]*IDStat{}
	kindVotes := map[int32]*[numKinds]int{}
	for i := range tokens {
		t := &tokens[i]
		s := ids[t.ID]
		if s == nil {
			s = &IDStat{ID: t.ID, Text: c.Text(t.ID)}
			ids[t.ID] = s
			kindVotes[t.ID] = &[numKinds]int{}
		}
		s.Count++
		if inTop[i] {
			s.TopCount++
		}
		s.MeanDeltaProb += t.DeltaProb()
		s.MeanDeltaLogProb += t.DeltaLogProb()
		kindVotes[t.ID][t.Kind]++
	}
	all := make([]*IDStat, 0, len(ids))
	for id, s := range ids {
		s.MeanDeltaProb /= float64(s.Count)
		s.MeanDeltaLogProb /= float64(s.Count)
		s.TopRate = float64(s.TopCount) / float64(s.Count)
		best := Kind(0)
		for k, v := range kindVotes[id] {
			if v > kindVotes[id][best] {
				best = Kind(k)
			}
		}
		s.Kind = best.String()
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *IDStat) int {
		if a.TopCount != b.TopCount {
			return b.TopCount - a.TopCount
		}
		if a.TopRate != b.TopRate {
			if a.TopRate > b.TopRate {
				return -1
			}
			return 1
		}
		return int(a.ID - b.ID)
	})
	return all, kindVotes
}

// pickImpactful sets r's impactful ids (and the rule that picks them)
// from the id statistics.
func (r *Report) pickImpactful(all []*IDStat, kindVotes map[int32]*[numKinds]int, opts Options) {
	minRate := opts.MinRatio * opts.Top
	for _, s := range all {
		gain := s.MeanDeltaProb
		if opts.Score == "logprob" {
			gain = s.MeanDeltaLogProb
		}
		if s.Count >= opts.MinCount && s.TopRate >= minRate && gain > 0 && kindVotes[s.ID][Special] == 0 {
			r.Impactful = append(r.Impactful, s.ID)
		}
	}
	slices.Sort(r.Impactful)
	r.ImpactfulRule = fmt.Sprintf("ids (special tokens excluded) seen at least %d times, with mean Δ%[3]s > 0, whose share of occurrences in the per-bucket top %[2]g%% by Δ%[3]s is at least %[4]g (%[5]g× chance)",
		opts.MinCount, 100*opts.Top, opts.Score, minRate, opts.MinRatio)
}

func kindStats(all, top [numKinds]int) []KindStat {
	var na, nt int
	for k := range all {
		na += all[k]
		nt += top[k]
	}
	out := make([]KindStat, numKinds)
	for k := range out {
		s := KindStat{Kind: Kind(k).String(), All: all[k], Top: top[k]}
		if na > 0 {
			s.AllShare = float64(all[k]) / float64(na)
		}
		if nt > 0 {
			s.TopShare = float64(top[k]) / float64(nt)
		}
		if s.AllShare > 0 {
			s.Ratio = s.TopShare / s.AllShare
		}
		out[k] = s
	}
	return out
}
