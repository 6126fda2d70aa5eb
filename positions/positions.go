package positions

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// MaxLength bounds lengths so positions fit in int32.
const MaxLength = 1<<31 - 1

// Scatter is the LongRecipe position transform of arXiv 2409.00509 §3.2 on
// units (sentences) of the given lengths: with M+1 units holding L tokens,
// it makes lt−L+M+1 slots, puts unit 0 in slot 0 and units 1..M in M sorted
// random distinct slots among the others (all M-subsets equally likely),
// and flattens, each empty slot counting as one position. A token's
// position is its index in the flattened list. So positions are contiguous
// inside every unit, unit 0 starts at 0, and the lt−L unused positions fall
// as random gaps between units.
func Scatter(rng *rand.Rand, unitLens []int, lt int) ([]int32, error) {
	total, err := sumLens(unitLens)
	if err != nil {
		return nil, err
	}
	if lt > MaxLength {
		return nil, fmt.Errorf("target length %d exceeds %d", lt, MaxLength)
	}
	if total > lt {
		return nil, fmt.Errorf("%d tokens do not fit in target length %d", total, lt)
	}
	m := len(unitLens) - 1
	pos := make([]int32, 0, total)
	if m < 0 {
		return pos, nil
	}
	gaps := lt - total
	// slots[k-1] is the slot of unit k, in 1..gaps+m.
	slots := sampleSorted(rng, m, gaps+m)
	for k, l := range unitLens {
		start := len(pos) // tokens before unit k
		if k > 0 {
			start += slots[k-1] + 1 - k // empty slots before unit k
		}
		for j := range l {
			pos = append(pos, int32(start+j))
		}
	}
	return pos, nil
}

// LongRecipe returns the positions of a LongRecipe sample made of sentences
// with the given lengths (the kept sentences, the last one possibly cut,
// holding ls tokens together) for target length lt, and the head length rt1.
//
// The head: rt1 is drawn uniformly from [1, (ls+1)/2] (PoSE's "right
// point"), and tokens 0..rt1−1 get positions 0..rt1−1. The join: the head
// and the rest of the sentence holding token rt1−1 form unit 0; the
// following sentences are units 1..M; Scatter places them. Hence the head is
// 0..rt1−1, every sentence is contiguous (the one cut by the head included),
// the first gap can only come after the sentence holding the head's last
// token, positions are strictly increasing and the last one is < lt.
func LongRecipe(rng *rand.Rand, sentenceLens []int, lt int) (pos []int32, rt1 int, err error) {
	ls, err := sumLens(sentenceLens)
	if err != nil {
		return nil, 0, err
	}
	if ls == 0 {
		return nil, 0, fmt.Errorf("no tokens")
	}
	rt1 = 1 + rng.IntN((ls+1)/2)
	units := make([]int, 0, len(sentenceLens))
	head := 0
	k := 0
	for head < rt1 {
		head += sentenceLens[k]
		k++
	}
	units = append(units, head)
	units = append(units, sentenceLens[k:]...)
	pos, err = Scatter(rng, units, lt)
	return pos, rt1, err
}

// PoSESample is a PoSE sample of a document: the tokens doc[0:Chunk1End]
// followed by doc[Chunk2Start:Chunk2End], at positions 0..Chunk1End−1 and
// then Chunk1End+Skip onwards.
type PoSESample struct {
	Chunk1End   int
	Chunk2Start int
	Chunk2End   int
	Skip        int
	Positions   []int32
}

// PoSE draws a sample of ls tokens from a document of n >= ls tokens for
// target length lt, as upstream PoSE (Zhu et al. 2023, train_pose.py) does:
// rt1 ~ U[1, (ls+1)/2] tokens from the start of the document form chunk 1;
// chunk 2 ends at rt2 ~ U[ls, n] and holds the ls−rt1 tokens before it, so
// its text comes from later in the document; chunk 2's positions are
// shifted by skip ~ U[0, lt−ls], so the sample spans up to lt. A document
// shorter than ls is an error, never a silent fallback to 0..n−1.
func PoSE(rng *rand.Rand, n, ls, lt int) (PoSESample, error) {
	switch {
	case ls <= 0:
		return PoSESample{}, fmt.Errorf("train length %d must be positive", ls)
	case lt > MaxLength:
		return PoSESample{}, fmt.Errorf("target length %d exceeds %d", lt, MaxLength)
	case ls > lt:
		return PoSESample{}, fmt.Errorf("train length %d exceeds target length %d", ls, lt)
	case n < ls:
		return PoSESample{}, fmt.Errorf("document of %d tokens is shorter than the train length %d", n, ls)
	}
	s := PoSESample{}
	s.Chunk1End = 1 + rng.IntN((ls+1)/2)
	s.Chunk2End = ls + rng.IntN(n-ls+1)
	s.Chunk2Start = s.Chunk2End - (ls - s.Chunk1End)
	s.Skip = rng.IntN(lt - ls + 1)
	s.Positions = make([]int32, ls)
	for j := range ls {
		p := j
		if j >= s.Chunk1End {
			p += s.Skip
		}
		s.Positions[j] = int32(p)
	}
	return s, nil
}

// RandPos returns ls sorted distinct positions drawn uniformly from [0, lt)
// (Ruoss et al. 2023): every ls-subset is equally likely.
func RandPos(rng *rand.Rand, ls, lt int) ([]int32, error) {
	switch {
	case ls < 0:
		return nil, fmt.Errorf("train length %d is negative", ls)
	case lt > MaxLength:
		return nil, fmt.Errorf("target length %d exceeds %d", lt, MaxLength)
	case ls > lt:
		return nil, fmt.Errorf("train length %d exceeds target length %d", ls, lt)
	}
	s := sampleSorted(rng, ls, lt)
	pos := make([]int32, ls)
	for i, v := range s {
		pos[i] = int32(v)
	}
	return pos, nil
}

// Full returns 0..n−1, the positions of full-length training.
func Full(n int) []int32 {
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = int32(i)
	}
	return pos
}

// Check reports the first way pos breaks the rules every method keeps:
// strictly increasing, first position >= 0, last position < lt.
func Check(pos []int32, lt int) error {
	for i, p := range pos {
		if p < 0 || int(p) >= lt {
			return fmt.Errorf("position %d at index %d is outside [0, %d)", p, i, lt)
		}
		if i > 0 && p <= pos[i-1] {
			return fmt.Errorf("position %d at index %d does not increase (previous %d)", p, i, pos[i-1])
		}
	}
	return nil
}

func sumLens(lens []int) (int, error) {
	total := 0
	for i, l := range lens {
		if l <= 0 {
			return 0, fmt.Errorf("unit %d has length %d; lengths must be positive", i, l)
		}
		total += l
		if total > MaxLength {
			return 0, fmt.Errorf("units hold more than %d tokens", MaxLength)
		}
	}
	return total, nil
}

// sampleSorted returns k distinct integers from [0, n), sorted, every
// k-subset equally likely. It runs Floyd's algorithm (k draws); membership
// is a bit set when that is no larger than 2k words (then the sorted output
// is read off the bits in O(n/64 + k)), otherwise a hash set followed by a
// sort, so memory is O(k) whatever n. Both paths consume the same draws and
// return the same sample.
func sampleSorted(rng *rand.Rand, k, n int) []int {
	return sampleSortedPath(rng, k, n, n/64+1 <= 2*k)
}

func sampleSortedPath(rng *rand.Rand, k, n int, dense bool) []int {
	out := make([]int, 0, k)
	if k == 0 {
		return out
	}
	if dense {
		set := make([]uint64, (n+63)/64)
		for j := n - k; j < n; j++ {
			t := rng.IntN(j + 1)
			if set[t>>6]&(1<<(t&63)) != 0 {
				t = j
			}
			set[t>>6] |= 1 << (t & 63)
		}
		for w, b := range set {
			for b != 0 {
				out = append(out, w*64+bits.TrailingZeros64(b))
				b &= b - 1
			}
		}
		return out
	}
	set := newIntSet(k)
	for j := n - k; j < n; j++ {
		t := rng.IntN(j + 1)
		if set.has(t) {
			t = j
		}
		set.add(t)
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// intSet is an open-addressing set of non-negative ints, sized for a known
// number of elements.
type intSet struct {
	slots []int // value+1, 0 = empty
	mask  int
}

func newIntSet(n int) *intSet {
	size := 4
	for size < 2*n {
		size *= 2
	}
	return &intSet{slots: make([]int, size), mask: size - 1}
}

func hashInt(v int) int {
	h := uint64(v) * 0x9E3779B97F4A7C15
	return int(h >> 17)
}

func (s *intSet) has(v int) bool {
	for i := hashInt(v) & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case 0:
			return false
		case v + 1:
			return true
		}
	}
}

func (s *intSet) add(v int) {
	for i := hashInt(v) & s.mask; ; i = (i + 1) & s.mask {
		if s.slots[i] == 0 {
			s.slots[i] = v + 1
			return
		}
		if s.slots[i] == v+1 {
			return
		}
	}
}
