package shards

import (
	"fmt"
	"math/bits"
)

// Stats summarizes a dataset's rows and positions.
type Stats struct {
	Path         string `json:"path"`
	Method       string `json:"method,omitempty"`
	TargetLength int    `json:"target_length"`
	TrainLength  int    `json:"train_length,omitempty"`
	Rows         int64  `json:"rows"`
	Tokens       int64  `json:"tokens"`
	// MaskedTokens counts tokens with LossMask false.
	MaskedTokens int64 `json:"masked_tokens"`
	// Lengths is the histogram of row lengths.
	Lengths []Bucket `json:"length_histogram"`
	// Coverage is, per bucket of [0, TargetLength), the fraction of the
	// bucket's positions a row uses, averaged over rows.
	Coverage []Bucket `json:"position_coverage"`
	// CoveredFraction is the fraction of [0, TargetLength) used by at least
	// one row.
	CoveredFraction float64 `json:"covered_fraction"`
	// MeanGap is the mean of p[j] − p[j−1] over consecutive positions.
	MeanGap float64 `json:"mean_gap"`
	// MeanSegment is the mean length of contiguous runs (p[j] = p[j−1]+1);
	// the paper reports 88 tokens for LongRecipe.
	MeanSegment float64 `json:"mean_segment"`
	Segments    int64   `json:"segments"`
	// MeanSpan is the mean of (last position + 1) over rows.
	MeanSpan    float64 `json:"mean_span"`
	MaxPosition int32   `json:"max_position"`
}

// Bucket is one histogram bucket [Lo, Hi).
type Bucket struct {
	Lo    int     `json:"lo"`
	Hi    int     `json:"hi"`
	Count int64   `json:"count"`
	Value float64 `json:"value,omitempty"`
}

// ComputeStats reads every row of d. lt is the target length (positions
// must be < lt); buckets is the number of histogram buckets (> 0).
func ComputeStats(d Dataset, lt, buckets int) (*Stats, error) {
	if lt <= 0 || buckets <= 0 {
		return nil, fmt.Errorf("stats: target length %d and buckets %d must be positive", lt, buckets)
	}
	buckets = min(buckets, lt)
	s := &Stats{TargetLength: lt, MaxPosition: -1}
	t := &statsTally{covered: make([]uint64, (lt+63)/64), posCount: make([]int64, buckets)}
	for i := range d.Len() {
		r, err := d.Row(i)
		if err != nil {
			return nil, err
		}
		if err := t.addRow(s, i, r, lt, buckets); err != nil {
			return nil, err
		}
	}
	t.finish(s, lt, buckets)
	return s, nil
}

// statsTally holds ComputeStats' running sums over the rows.
type statsTally struct {
	covered      []uint64 // one bit per position below lt
	posCount     []int64  // tokens per coverage bucket
	lengths      []int
	maxLen       int
	gapSum, gaps int64
	spanSum      float64
}

// addRow counts row i into s and t.
func (t *statsTally) addRow(s *Stats, i int, r Row, lt, buckets int) error {
	n := len(r.InputIDs)
	t.lengths = append(t.lengths, n)
	t.maxLen = max(t.maxLen, n)
	s.Rows++
	s.Tokens += int64(n)
	for _, m := range r.LossMask {
		if !m {
			s.MaskedTokens++
		}
	}
	for j, p := range r.PositionIDs {
		if int(p) >= lt {
			return fmt.Errorf("row %d: position %d >= target length %d", i, p, lt)
		}
		t.covered[p>>6] |= 1 << (p & 63)
		t.posCount[int64(p)*int64(buckets)/int64(lt)]++
		if j == 0 || p != r.PositionIDs[j-1]+1 {
			s.Segments++
		}
		if j > 0 {
			t.gapSum += int64(p) - int64(r.PositionIDs[j-1])
			t.gaps++
		}
		s.MaxPosition = max(s.MaxPosition, p)
	}
	if n > 0 {
		t.spanSum += float64(r.PositionIDs[n-1]) + 1
	}
	return nil
}

// finish sets s's means, coverage and length histograms from t.
func (t *statsTally) finish(s *Stats, lt, buckets int) {
	nc := 0
	for _, w := range t.covered {
		nc += bits.OnesCount64(w)
	}
	s.CoveredFraction = float64(nc) / float64(lt)
	if t.gaps > 0 {
		s.MeanGap = float64(t.gapSum) / float64(t.gaps)
	}
	if s.Segments > 0 {
		s.MeanSegment = float64(s.Tokens) / float64(s.Segments)
	}
	if s.Rows > 0 {
		s.MeanSpan = t.spanSum / float64(s.Rows)
	}
	for b := range buckets {
		// The bucket of position p is p*buckets/lt, so bucket b holds the
		// positions p with ceil(b*lt/buckets) <= p < ceil((b+1)*lt/buckets).
		lo := (b*lt + buckets - 1) / buckets
		hi := ((b+1)*lt + buckets - 1) / buckets
		bk := Bucket{Lo: lo, Hi: hi, Count: t.posCount[b]}
		if s.Rows > 0 && hi > lo {
			bk.Value = float64(t.posCount[b]) / float64(s.Rows) / float64(hi-lo)
		}
		s.Coverage = append(s.Coverage, bk)
	}
	maxLen := t.maxLen
	lb := min(buckets, max(maxLen, 1))
	s.Lengths = make([]Bucket, lb)
	for b := range lb {
		s.Lengths[b] = Bucket{Lo: (b*(maxLen+1) + lb - 1) / lb, Hi: ((b+1)*(maxLen+1) + lb - 1) / lb}
	}
	for _, n := range t.lengths {
		s.Lengths[n*lb/(maxLen+1)].Count++
	}
}
