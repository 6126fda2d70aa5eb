package shards

import (
	"math"
	"testing"
)

// memDataset is an in-memory Dataset for tests.
type memDataset []Row

func (m memDataset) Len() int               { return len(m) }
func (m memDataset) Row(i int) (Row, error) { return m[i], nil }
func (m memDataset) Close() error           { return nil }

func TestComputeStats(t *testing.T) {
	d := memDataset{
		{InputIDs: []int32{1, 2, 3, 4, 5}, PositionIDs: []int32{0, 1, 2, 5, 6}},
		{InputIDs: []int32{1, 2}, PositionIDs: []int32{3, 7}, LossMask: []bool{false, true}},
	}
	s, err := ComputeStats(d, 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// Gaps: 1,1,3,1 and 4 → 10/5; segments: {0,1,2},{5,6},{3},{7} → 7 tokens / 4.
	near("mean gap", s.MeanGap, 2)
	near("mean segment", s.MeanSegment, 7.0/4)
	near("covered", s.CoveredFraction, 7.0/8)
	near("mean span", s.MeanSpan, (7.0+8)/2)
	if s.Rows != 2 || s.Tokens != 7 || s.MaskedTokens != 1 || s.Segments != 4 || s.MaxPosition != 7 {
		t.Errorf("counts %+v", s)
	}
	// Buckets of width 2: {0,1}: 2 positions, {2,3}: 2, {4,5}: 1, {6,7}: 2.
	wantCounts := []int64{2, 2, 1, 2}
	for b, bk := range s.Coverage {
		if bk.Count != wantCounts[b] || bk.Lo != 2*b || bk.Hi != 2*b+2 {
			t.Errorf("coverage bucket %d = %+v, want count %d", b, bk, wantCounts[b])
		}
		near("coverage value", bk.Value, float64(wantCounts[b])/2/2)
	}
	var lenTotal int64
	for _, bk := range s.Lengths {
		lenTotal += bk.Count
		if bk.Lo <= 5 && 5 < bk.Hi && bk.Count != 1 || bk.Lo <= 2 && 2 < bk.Hi && bk.Count != 1 {
			t.Errorf("length bucket %+v", bk)
		}
	}
	if lenTotal != 2 {
		t.Errorf("length histogram holds %d rows", lenTotal)
	}
	if _, err := ComputeStats(d, 7, 4); err == nil {
		t.Error("position >= target length accepted")
	}
}
